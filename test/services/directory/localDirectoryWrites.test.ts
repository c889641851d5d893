import { strict as assert } from 'node:assert';
import { DirectoryError, DirectoryNotFoundError, DirectoryPermissionError, GraphDirectory } from '../../../services/directory';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, MAX_IN_FILTER_EXPRESSIONS, startLocalDirectory, type LocalUser, type RunningLocalDirectory } from '../../../local/directory';
import { ConfigError } from '../../../services/errors';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };
const ASSIGNED = 'c0000000-0000-4000-8000-000000000001';
const DYNAMIC = 'c0000000-0000-4000-8000-000000000002';
const PARENT = 'c0000000-0000-4000-8000-000000000003';
const MIDDLE = 'c0000000-0000-4000-8000-000000000004';
const LEAF = 'c0000000-0000-4000-8000-000000000005';
const DEVICE = 'd0000000-0000-4000-8000-000000000001';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const userId = (n: number) => `e0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const user = (n: number, managedAppleId?: string): LocalUser => ({ id: userId(n), displayName: `Pupil ${n}`, userPrincipalName: `pupil${n}@school.example`, mail: `pupil${n}@school.example`, managedAppleId });

interface GraphErrorBody {
  error: { code: string; message: string };
}

/** The DirectoryError carries Graph's status and, in its message, Graph's code and message. */
function refusedWith(status: number, graphMessage: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DirectoryError, String(err));
    assert.equal(err.status, status);
    assert.match(err.message, graphMessage);
    return true;
  };
}

describe("local directory: Graph's write calls and users by id, through GraphDirectory", function () {
  this.timeout(20_000);
  let local: RunningLocalDirectory;
  let graph: GraphDirectory;

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
        { id: DYNAMIC, displayName: 'All iPads', membershipRule: '(device.deviceOSType -eq "iPad")' },
        { id: LEAF, displayName: 'Leaf', members: [userId(2)] },
        { id: MIDDLE, displayName: 'Middle', members: [LEAF] },
        { id: PARENT, displayName: 'Parent', members: [MIDDLE, userId(3)] },
      ],
    });
    graph = new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, retry: FAST_RETRY });
  });
  afterEach(() => local.clearFaults());
  after(() => local.close());

  it('adds a member with 204, and refuses one already there with Graph\'s 400', async () => {
    await graph.addGroupMember(ASSIGNED, userId(2));
    assert.deepEqual(local.state.directMembers(ASSIGNED), [userId(1), userId(2)]);
    assert.equal(local.requests.at(-1)?.path, `/v1.0/groups/${ASSIGNED}/members/$ref`);
    await assert.rejects(graph.addGroupMember(ASSIGNED, userId(2)), refusedWith(400, /One or more added object references already exist for the following modified properties: 'members'\./));
    await assert.rejects(graph.addGroupMember(ASSIGNED, 'ffffffff-0000-4000-8000-000000000000'), DirectoryNotFoundError);
    await assert.rejects(graph.addGroupMember('ffffffff-0000-4000-8000-000000000001', userId(2)), DirectoryNotFoundError);
    await assert.rejects(graph.addGroupMember(DYNAMIC, DEVICE), refusedWith(400, /dynamic membership/));
  });

  it("accepts the documented body on Graph's origin or this directory's, and nothing else", async () => {
    const documented = await post(`/v1.0/groups/${ASSIGNED}/members/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId(3)}` });
    assert.deepEqual(documented, { status: 204, text: '' });
    assert.equal((await post(`/v1.0/groups/${ASSIGNED}/members/$ref`, { '@odata.id': `${local.baseUrl}/v1.0/directoryObjects/${DEVICE}` })).status, 204);
    for (const body of [{}, { '@odata.id': 'not a url' }, { '@odata.id': `https://evil.example/v1.0/directoryObjects/${userId(1)}` }, { '@odata.id': `https://graph.microsoft.com/v1.0/me` }]) {
      const answer = await post(`/v1.0/groups/${ASSIGNED}/members/$ref`, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal((JSON.parse(answer.text) as GraphErrorBody).error.code, 'Request_BadRequest');
    }
    local.state.removeMember(ASSIGNED, userId(3));
    local.state.removeMember(ASSIGNED, DEVICE);
  });

  it('removes a member with 204, and answers 404 for one that is not there', async () => {
    await graph.removeGroupMember(ASSIGNED, userId(2));
    assert.deepEqual(local.state.directMembers(ASSIGNED), [userId(1)]);
    assert.equal(local.requests.at(-1)?.method, 'DELETE');
    assert.equal(local.requests.at(-1)?.path, `/v1.0/groups/${ASSIGNED}/members/${userId(2)}/$ref`);
    await assert.rejects(graph.removeGroupMember(ASSIGNED, userId(2)), DirectoryNotFoundError);
    await assert.rejects(graph.removeGroupMember(DYNAMIC, DEVICE), refusedWith(400, /dynamic membership/));
    // Without /$ref Graph would delete the object itself; the local directory does not serve that.
    const res = await fetch(`${local.baseUrl}/v1.0/groups/${ASSIGNED}/members/${userId(1)}`, { method: 'DELETE' });
    assert.equal(res.status, 400);
    assert.ok(local.state.users.has(userId(1)));
  });

  it('names the write permission when Graph answers 403', async () => {
    local.fail({ status: 403, pathIncludes: '/members/', body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } });
    await assert.rejects(graph.addGroupMember(ASSIGNED, userId(2)), (err: unknown) => err instanceof DirectoryPermissionError && err.permission === 'GroupMember.ReadWrite.All');
    local.fail({ status: 403, pathIncludes: '/v1.0/users', body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } });
    await assert.rejects(graph.createUser({ displayName: 'X', userPrincipalName: 'x@school.example' }), (err: unknown) => err instanceof DirectoryPermissionError && err.permission === 'User.ReadWrite.All');
  });

  it('creates a user with a new GUID and its Managed Apple Account in the extension attribute', async () => {
    const created = await graph.createUser({ displayName: 'New Pupil', userPrincipalName: 'new.pupil@school.example', mail: 'new.pupil@school.example', managedAppleId: 'new.pupil@appleid.school.example' });
    assert.match(created.id, GUID);
    assert.deepEqual(created, { id: created.id, displayName: 'New Pupil', userPrincipalName: 'new.pupil@school.example', mail: 'new.pupil@school.example', managedAppleId: 'new.pupil@appleid.school.example' });
    assert.equal(local.state.users.get(created.id)?.managedAppleId, 'new.pupil@appleid.school.example');
    assert.deepEqual(await graph.usersByIds([created.id]), [created], 'Graph reads back what was written');
    await graph.addGroupMember(ASSIGNED, created.id);
    await graph.removeGroupMember(ASSIGNED, created.id);
  });

  it("refuses a user without a required property, with a malformed UPN, or with a UPN in use, as Graph does", async () => {
    const documented = { accountEnabled: true, displayName: 'Adele Vance', mailNickname: 'AdeleV', userPrincipalName: 'AdeleV@school.example', passwordProfile: { forceChangePasswordNextSignIn: true, password: 'xWwvJ]6NMw+bWH-d' } };
    const { mailNickname: _dropped, ...withoutNickname } = documented;
    const missing = await post('/v1.0/users', withoutNickname);
    assert.equal(missing.status, 400);
    assert.deepEqual(JSON.parse(missing.text), { error: { code: 'Request_BadRequest', message: 'Property mailNickname value is required but is empty or missing.' } });
    const malformed = await post('/v1.0/users', { ...documented, userPrincipalName: 'Adele Vance@school.example' });
    assert.equal((JSON.parse(malformed.text) as GraphErrorBody).error.message, "Invalid value specified for property 'userPrincipalName' of resource 'User'.");
    assert.equal((await post('/v1.0/users', documented)).status, 201);
    await assert.rejects(graph.createUser({ displayName: 'Again', userPrincipalName: 'adelev@SCHOOL.example' }), refusedWith(400, /Another object with the same value for property userPrincipalName already exists\./));
  });

  it('writes a Managed Apple Account only to extensionAttribute1…15', async () => {
    const noAttribute = new GraphDirectory({ baseUrl: local.baseUrl });
    await assert.rejects(noAttribute.createUser({ displayName: 'P', userPrincipalName: 'p@school.example', managedAppleId: 'p@appleid.school.example' }), ConfigError);
    const directoryExtension = new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: 'extension_0123_managedAppleId' });
    await assert.rejects(directoryExtension.createUser({ displayName: 'P', userPrincipalName: 'p@school.example', managedAppleId: 'p@appleid.school.example' }), ConfigError);
    const plain = await noAttribute.createUser({ displayName: 'P', userPrincipalName: 'p@school.example' });
    assert.equal(plain.managedAppleId, undefined);
  });

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

  it('lists the groups nested at any depth, page by page', async () => {
    assert.deepEqual((await graph.nestedGroupIds(PARENT)).sort(), [LEAF, MIDDLE].sort());
    assert.deepEqual(await graph.nestedGroupIds(LEAF), []);
    await assert.rejects(graph.nestedGroupIds('ffffffff-0000-4000-8000-000000000002'), DirectoryNotFoundError);
  });
});
