import { strict as assert } from 'node:assert';
import { GraphDirectory } from '../../../services/directory/GraphDirectory';
import { DirectoryPermissionError } from '../../../services/directory/errors';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, MAX_IN_FILTER_EXPRESSIONS, startLocalDirectory, type LocalUser, type RunningLocalDirectory } from '../../../local/directory';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };
const ASSIGNED = 'c0000000-0000-4000-8000-000000000001';
const DEVICE = 'd0000000-0000-4000-8000-000000000001';

const userId = (n: number) => `e0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const user = (n: number, managedAppleId?: string): LocalUser => ({ id: userId(n), displayName: `Pupil ${n}`, userPrincipalName: `pupil${n}@school.example`, mail: `pupil${n}@school.example`, managedAppleId });

interface GraphErrorBody {
  error: { code: string; message: string };
}

describe('users by id, through GraphDirectory against the local directory', function () {
  this.timeout(20_000);
  let local: RunningLocalDirectory;

  async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${local.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  }

  async function listUsers(filter: string, select?: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${local.baseUrl}/v1.0/users?$filter=${encodeURIComponent(filter)}${select ? `&$select=${select}` : ''}`);
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  /** A client that notes every URL it asks for. */
  function recordingClient(): { client: GraphDirectory; urls: string[] } {
    const urls: string[] = [];
    const recording: typeof fetch = (input, init) => {
      urls.push(String(input));
      return fetch(input, init);
    };
    return { client: new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, retry: FAST_RETRY, fetch: recording }), urls };
  }

  /** The ids one users request filtered on. */
  const filteredIds = (url: string): string[] => [...(new URL(url).searchParams.get('$filter') ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');

  before(async () => {
    local = await startLocalDirectory({
      port: 0,
      seedDemoData: false,
      pageSize: 2,
      users: [user(1, 'pupil1@appleid.school.example'), user(2), user(3, 'n/a')],
      devices: [{ id: DEVICE, displayName: 'iPad', deviceOSType: 'iPad' }],
      groups: [
        { id: ASSIGNED, displayName: 'Form 7A', members: [userId(1)] },
      ],
    });
  });
  afterEach(() => local.clearFaults());
  after(() => local.close());

  it('looks users up by id with GET /users?$filter=id in (…): unknown ids and non-users left out, the Apple ID mapped', async () => {
    const { client, urls } = recordingClient();
    const found = await client.usersByIds([userId(3), 'ffffffff-0000-4000-8000-000000000000', userId(1), DEVICE, ASSIGNED, userId(1)]);
    assert.deepEqual(found, [
      { id: userId(3), displayName: 'Pupil 3', userPrincipalName: 'pupil3@school.example', mail: 'pupil3@school.example', managedAppleId: undefined },
      { id: userId(1), displayName: 'Pupil 1', userPrincipalName: 'pupil1@school.example', mail: 'pupil1@school.example', managedAppleId: 'pupil1@appleid.school.example' },
    ]);
    assert.equal(urls.length, 1);
    const url = new URL(urls[0] ?? '');
    assert.equal(url.pathname, '/v1.0/users');
    assert.equal(url.searchParams.get('$filter'), `id in ('${userId(3)}','ffffffff-0000-4000-8000-000000000000','${userId(1)}','${DEVICE}','${ASSIGNED}')`);
    assert.equal(url.searchParams.get('$select'), 'id,displayName,userPrincipalName,mail,onPremisesExtensionAttributes');
    assert.equal(local.requests.at(-1)?.consistencyLevel, undefined, 'a default query: no ConsistencyLevel');
    assert.deepEqual(await client.usersByIds([]), []);
    assert.equal(urls.length, 1, 'no request for no ids');
  });

  it('asks for 15 ids a request (40 ids: 3 requests) and follows nextLinks', async () => {
    const { client, urls } = recordingClient();
    const many = Array.from({ length: 39 }, (_, i) => userId(100_000 + i));
    const found = await client.usersByIds([...many.slice(0, 20), userId(2), ...many.slice(20)]);
    assert.deepEqual(found, [{ id: userId(2), displayName: 'Pupil 2', userPrincipalName: 'pupil2@school.example', mail: 'pupil2@school.example', managedAppleId: undefined }]);
    assert.deepEqual(urls.map((u) => filteredIds(u).length), [15, 15, 10]);
    assert.deepEqual(urls.flatMap(filteredIds), [...many.slice(0, 20), userId(2), ...many.slice(20)]);

    // The local directory's pages hold 2 objects: 3 users take a nextLink.
    const paged = recordingClient();
    assert.deepEqual((await paged.client.usersByIds([userId(1), userId(2), userId(3)])).map((u) => u.id), [userId(1), userId(2), userId(3)]);
    assert.equal(paged.urls.length, 2);
    assert.match(paged.urls[1] ?? '', /[?&]%24skiptoken=/);
  });

  it('never sends an id that could leave its quotes, and names User.Read.All on a 403', async () => {
    const { client, urls } = recordingClient();
    const found = await client.usersByIds([`${userId(1)}') or startswith(displayName,'`, "x'y", '', userId(2).toUpperCase()]);
    assert.deepEqual(found.map((u) => u.id), [userId(2)], 'ids compare without regard to case');
    assert.deepEqual(urls.flatMap(filteredIds), [userId(2).toUpperCase()]);
    // The Agents Playground's ids (a 13-digit last group) are ids too.
    local.state.addUser({ id: '00000000-0000-0000-0000-0000000000020', displayName: 'Alex Wilber', userPrincipalName: 'alexw@school.example' });
    assert.deepEqual((await client.usersByIds(['00000000-0000-0000-0000-0000000000020'])).map((u) => u.displayName), ['Alex Wilber']);
    local.fail({ status: 403, pathIncludes: '/v1.0/users', body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } });
    await assert.rejects(client.usersByIds([userId(1)]), (err: unknown) => err instanceof DirectoryPermissionError && err.permission === 'User.Read.All');
  });

  it("answers the users filter in Graph's collection shape, and refuses more than 15 expressions", async () => {
    const plain = await listUsers(`id in ('${userId(1)}','${DEVICE}','${userId(1)}')`);
    assert.equal(plain.status, 200);
    assert.match(String(plain.json['@odata.context']), /\$metadata#users$/);
    const value = plain.json['value'] as Array<Record<string, unknown>>;
    assert.deepEqual(value.map((o) => o['id']), [userId(1)]);
    assert.equal(value[0]?.['@odata.type'], undefined, 'the users collection names the type once');
    assert.equal(value[0]?.['onPremisesExtensionAttributes'], undefined, 'not a default property');
    const selected = await listUsers(`id in ('${userId(1)}')`, 'id,onPremisesExtensionAttributes');
    assert.deepEqual((selected.json['value'] as Array<Record<string, unknown>>).map((o) => Object.keys(o).sort()), [['id', 'onPremisesExtensionAttributes']]);

    const ids = (n: number) => `id in (${Array.from({ length: n }, (_, i) => `'${userId(i + 1)}'`).join(',')})`;
    assert.equal((await listUsers(ids(MAX_IN_FILTER_EXPRESSIONS))).status, 200);
    const tooMany = await listUsers(ids(MAX_IN_FILTER_EXPRESSIONS + 1));
    assert.equal(tooMany.status, 400);
    assert.deepEqual(tooMany.json, { error: { code: 'Request_UnsupportedQuery', message: "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15." } });
    for (const filter of [`startswith(displayName,'P')`, `id eq '${userId(1)}'`, 'id in ()']) {
      const refused = await listUsers(filter);
      assert.equal(refused.status, 400, filter);
      assert.equal((refused.json as unknown as GraphErrorBody).error.code, 'Request_UnsupportedQuery', filter);
    }
    assert.equal((await fetch(`${local.baseUrl}/v1.0/users`)).status, 400);
    assert.equal((await post('/v1.0/directoryObjects/getByIds', { ids: [userId(1)] })).status, 400, 'getByIds is not served');
  });
});
