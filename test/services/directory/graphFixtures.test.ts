import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { z } from 'zod';
import { GraphDirectory } from '../../../services/directory/GraphDirectory';
import { startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';
import { graphUserSchema, groupDeltaPageSchema } from '../../../services/directory/schemas';
import { collectionSchema, graphErrorSchema } from '../../../services/graph/schemas';
import { graphFixtureNames, graphFixtureSource, graphFixtureStatus, loadGraphFixture } from '../../fixtures/graph/loadFixture';

/**
 * The contract between Microsoft's documented examples (test/fixtures/graph), the client's schemas and
 * the local directory: the client reads every documented answer, and the local directory answers in the
 * same shape, with no key Graph does not document.
 */

type Json = Record<string, unknown>;

/** Which client schema reads each documented answer. */
const SCHEMA_OF: Array<[RegExp, z.ZodType]> = [
  [/^group-delta-/, groupDeltaPageSchema],
  [/^list-users-response$/, collectionSchema(graphUserSchema)],
  [/^error-/, graphErrorSchema],
];

/**
 * Group and user properties from the resource pages (learn.microsoft.com/en-us/graph/api/resources/group
 * and …/resources/user) that the local directory serves beyond the fixtures' own keys.
 */
const GROUP_PROPERTIES = ['id', 'displayName', 'description', 'groupTypes', 'membershipRule', 'membershipRuleProcessingState', 'securityEnabled', 'mailEnabled'];
const USER_PROPERTIES = ['id', 'displayName', 'userPrincipalName', 'mail', 'jobTitle', 'department', 'onPremisesExtensionAttributes'];

const fixture = (name: string): Json => loadGraphFixture<Json>(name);
const keysOf = (objects: readonly Json[]): Set<string> => new Set(objects.flatMap((o) => Object.keys(o)));
const deltaFixtures = () => graphFixtureNames().filter((n) => n.startsWith('group-delta-'));
const items = (page: Json): Json[] => (page['value'] as Json[] | undefined) ?? [];
const membersOf = (item: Json): Json[] => (item['members@delta'] as Json[] | undefined) ?? [];

function assertKeysWithin(actual: readonly Json[], documented: ReadonlySet<string>, what: string): void {
  for (const object of actual) {
    const extra = Object.keys(object).filter((key) => !documented.has(key));
    assert.deepEqual(extra, [], `${what} carries keys Graph does not document: ${extra.join(', ')}`);
  }
}

function fakeGraph(pages: readonly Json[]): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  let next = 0;
  const fake: typeof fetch = async (input) => {
    urls.push(String(input));
    const page = pages[next++];
    if (!page) throw new Error('no more documented pages');
    return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch: fake, urls };
}

const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) };

describe('Graph fixtures: documented examples, client schemas and local answers agree', function () {
  let local: RunningLocalDirectory;
  const GROUP = 'f0000000-0000-4000-8000-000000000001';
  const user = (n: number) => ({ id: `f1000000-0000-4000-8000-${String(n).padStart(12, '0')}`, displayName: `U${n}`, userPrincipalName: `u${n}@contoso.onmicrosoft.com`, managedAppleId: `u${n}@appleid.example` });

  before(async () => {
    local = await startLocalDirectory({ port: 0, seedDemoData: false, pageSize: 3, users: [1, 2, 3, 4, 5].map(user), groups: [{ id: GROUP, displayName: 'G', description: 'd', members: [1, 2, 3, 4].map((n) => user(n).id) }] });
  });
  after(() => local.close());

  async function call(method: string, pathOrUrl: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${local.baseUrl}${pathOrUrl}`;
    const res = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
  }

  it('names the page each fixture comes from, and NOTES.md lists every fixture', () => {
    const notes = readFileSync(path.join(__dirname, '../../fixtures/graph/NOTES.md'), 'utf8');
    for (const name of graphFixtureNames()) {
      assert.match(graphFixtureSource(name), /^https:\/\/(learn|devblogs)\.microsoft\.com\//, name);
      assert.ok(notes.includes(`${name}.jsonc`), `NOTES.md does not list ${name}.jsonc`);
      if (name.endsWith('-constructed')) assert.match(readFileSync(path.join(__dirname, `../../fixtures/graph/${name}.jsonc`), 'utf8'), /^\/\/ CONSTRUCTED/, name);
    }
  });

  it("reads every documented answer with the client's schemas", () => {
    const answers = graphFixtureNames().filter((n) => !n.endsWith('-request'));
    for (const name of answers) {
      const schema = SCHEMA_OF.find(([pattern]) => pattern.test(name))?.[1];
      assert.ok(schema, `no schema is named for ${name}`);
      const parsed = schema.safeParse(fixture(name));
      assert.ok(parsed.success, `${name}: ${parsed.error?.issues[0]?.message ?? ''}`);
    }
  });

  it("follows the documented round: nextLinks to the deltaLink, then the documented changes", async () => {
    const round = fakeGraph(['group-delta-initial-page', 'group-delta-next-page', 'group-delta-final-page'].map(fixture));
    const client = new GraphDirectory({ credential, fetch: round.fetch });
    const full = await client.groupMemberDelta('c2f798fd-f95d-4623-8824-63aec21fffff');
    assert.deepEqual(full.added, [
      { id: '693acd06-2877-4339-8ade-b704261fe7a0', kind: 'user' },
      { id: '49320844-be99-4164-8167-87ff5d047ace', kind: 'user' },
    ]);
    assert.equal(full.fullRound, true);
    assert.equal(full.deltaLink, fixture('group-delta-final-page')['@odata.deltaLink']);
    assert.match(round.urls[0] ?? '', /\/v1\.0\/groups\/delta\?\$filter=id%20eq%20'c2f798fd-f95d-4623-8824-63aec21fffff'&\$select=members$/);
    assert.deepEqual(round.urls.slice(1), [fixture('group-delta-initial-page')['@odata.nextLink'], fixture('group-delta-next-page')['@odata.nextLink']]);

    const changes = fakeGraph([fixture('group-delta-changes')]);
    const next = await new GraphDirectory({ credential, fetch: changes.fetch }).groupMemberDelta('2e5807ce-58f3-4a94-9b37-ffff2e085957', full.deltaLink);
    assert.deepEqual(next, {
      added: [{ id: '37de1ae3-408f-4702-8636-20824abda004', kind: 'user' }],
      removed: [{ id: '632f6bb2-3ec8-4c1f-9073-0027a8c6859', kind: 'user' }],
      deltaLink: fixture('group-delta-changes')['@odata.deltaLink'],
      fullRound: false,
    });
  });

  it('answers groups/delta in the documented shape, with only documented keys', async () => {
    const pages: Json[] = [];
    let next: string | undefined = `/v1.0/groups/delta?$filter=${encodeURIComponent(`id eq '${GROUP}'`)}&$select=displayName,description,members`;
    while (next) {
      const answer: { status: number; json: Json } = await call('GET', next);
      assert.equal(answer.status, 200);
      pages.push(answer.json);
      next = answer.json['@odata.nextLink'] as string | undefined;
    }
    local.state.removeMember(GROUP, user(1).id);
    local.state.addMembers(GROUP, [user(5).id]);
    const changes = await call('GET', pages.at(-1)?.['@odata.deltaLink'] as string);
    const unchanged = await call('GET', changes.json['@odata.deltaLink'] as string);
    const answers = [...pages, changes.json, unchanged.json];
    assert.ok(pages.length > 1, 'the members took several pages');
    for (const page of answers) assert.ok(groupDeltaPageSchema.safeParse(page).success);

    const documented = deltaFixtures().map(fixture);
    assertKeysWithin(answers, keysOf(documented), 'a local delta page');
    const documentedItems = documented.flatMap(items);
    assertKeysWithin(answers.flatMap(items), new Set([...keysOf(documentedItems), ...GROUP_PROPERTIES]), 'a local delta group');
    const documentedMembers = documentedItems.flatMap(membersOf);
    assertKeysWithin(answers.flatMap(items).flatMap(membersOf), keysOf(documentedMembers), 'a local members@delta entry');
    const removedMarks = (entries: Json[]) => entries.flatMap((m) => (m['@removed'] ? [m['@removed'] as Json] : []));
    assertKeysWithin(removedMarks(answers.flatMap(items).flatMap(membersOf)), keysOf(removedMarks(documentedMembers)), 'a local @removed');
    assert.deepEqual(
      membersOf(items(changes.json)[0] ?? {}).map((m) => [m['id'], m['@removed']]),
      [
        [user(5).id, undefined],
        [user(1).id, { reason: 'deleted' }],
      ],
    );
    assert.deepEqual(items(unchanged.json), []);
  });

  it('answers GET /users?$filter=id in (…) in the documented collection shape, with only documented keys', async () => {
    const documented = fixture('list-users-response');
    const filter = encodeURIComponent(`id in ('${user(2).id}','ffffffff-0000-4000-8000-000000000000','${GROUP}')`);
    const plain = await call('GET', `/v1.0/users?$filter=${filter}`);
    const selected = await call('GET', `/v1.0/users?$filter=${filter}&$select=id,displayName,userPrincipalName,mail,onPremisesExtensionAttributes`);
    for (const answer of [plain, selected]) {
      assert.equal(answer.status, graphFixtureStatus('list-users-response'));
      assert.ok(collectionSchema(graphUserSchema).safeParse(answer.json).success);
      assertKeysWithin([answer.json], keysOf([documented]), 'a local users answer');
      assert.match(String(answer.json['@odata.context']), /\/v1\.0\/\$metadata#users$/);
      assert.deepEqual(items(answer.json).map((o) => o['id']), [user(2).id]);
    }
    assert.deepEqual(Object.keys(items(plain.json)[0] ?? {}).sort(), Object.keys(items(documented)[0] ?? {}).sort(), 'the default properties, as documented');
    assert.deepEqual(Object.keys(items(selected.json)[0] ?? {}).sort(), ['displayName', 'id', 'mail', 'onPremisesExtensionAttributes', 'userPrincipalName']);
    const userKeys = new Set([...keysOf(items(documented)), ...USER_PROPERTIES]);
    assertKeysWithin([...items(plain.json), ...items(selected.json)], userKeys, 'a local listed user');
  });

  it('reads the documented users list with the client', async () => {
    const listed = fakeGraph([fixture('list-users-response')]);
    const client = new GraphDirectory({ credential, fetch: listed.fetch });
    const ids = items(fixture('list-users-response')).map((u) => String(u['id']));
    assert.deepEqual(await client.usersByIds([...ids].reverse()), [
      { id: ids[1], displayName: 'MOD Administrator', userPrincipalName: 'admin@contoso.com', mail: undefined, managedAppleId: undefined },
      { id: ids[0], displayName: 'Conf Room Adams', userPrincipalName: 'Adams@contoso.com', mail: 'Adams@contoso.com', managedAppleId: undefined },
    ]);
    assert.equal(listed.urls.length, 1);
    assert.match(listed.urls[0] ?? '', /^https:\/\/graph\.microsoft\.com\/v1\.0\/users\?\$filter=id%20in%20\(/);
  });

  it('refuses as the error fixtures say: same status, code and message, only documented keys', async () => {
    const documentedErrorKeys = keysOf(graphFixtureNames().filter((n) => n.startsWith('error-')).map((n) => fixture(n)['error'] as Json));
    const unknownId = 'ffffffff-0000-4000-8000-00000000000a';
    const tooOld = await startLocalDirectory({ port: 0, seedDemoData: false, membershipLogLimit: 1, users: [user(1), user(2)], groups: [{ id: GROUP, displayName: 'G' }] });
    try {
      const link = (await new GraphDirectory({ baseUrl: tooOld.baseUrl }).groupMemberDelta(GROUP)).deltaLink;
      tooOld.state.addMembers(GROUP, [user(1).id, user(2).id]);
      const cases: Array<[string, Promise<{ status: number; json: Json }>]> = [
        ['error-sync-state-not-found-constructed', call('GET', link)],
        ['error-resync-required-constructed', call('GET', `${local.baseUrl}/v1.0/groups/delta?$deltatoken=garbled`)],
        ['error-resource-not-found-constructed', call('GET', `/v1.0/groups/${unknownId}`)],
        ['error-too-many-in-expressions-constructed', call('GET', `/v1.0/users?$filter=${encodeURIComponent(`id in (${Array.from({ length: 16 }, (_, i) => `'${user(i + 1).id}'`).join(',')})`)}`)],
      ];
      for (const [name, pending] of cases) {
        const answer = await pending;
        const expected = fixture(name)['error'] as Json;
        assert.equal(answer.status, graphFixtureStatus(name), name);
        const error = answer.json['error'] as Json;
        assert.deepEqual({ code: error['code'], message: error['message'] }, { code: expected['code'], message: String(expected['message']).replace('{id}', unknownId) }, name);
        assertKeysWithin([error], documentedErrorKeys, name);
        assertKeysWithin([answer.json], keysOf([fixture(name)]), name);
      }
    } finally {
      await tooOld.close();
    }
  });
});
