import { strict as assert } from 'node:assert';
import { GraphDirectory, type DirectoryMember, type MemberDelta } from '../../../services/directory/GraphDirectory';
import { DirectoryNotFoundError } from '../../../services/directory/errors';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, MAX_DELTA_FILTER_IDS, startLocalDirectory, type LocalUser, type RunningLocalDirectory } from '../../../local/directory';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };
const GROUP = 'a0000000-0000-4000-8000-000000000001';
const NESTED = 'a0000000-0000-4000-8000-000000000002';
const DYNAMIC = 'a0000000-0000-4000-8000-000000000003';
const EMPTY = 'a0000000-0000-4000-8000-000000000004';
const OTHER = 'a0000000-0000-4000-8000-000000000005';
const DEVICE = 'd0000000-0000-4000-8000-000000000001';
const PAGE_SIZE = 7;

const userId = (n: number) => `u0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const user = (n: number, department = 'English'): LocalUser => ({ id: userId(n), displayName: `User ${n}`, userPrincipalName: `user${n}@school.example`, department });
const ids = (members: readonly DirectoryMember[]) => members.map((m) => m.id).sort();

interface DeltaPage {
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  value: Array<{ id: string; 'members@delta'?: Array<{ '@odata.type': string; id: string; '@removed'?: { reason: string } }> }>;
}
interface GraphErrorBody {
  error: { code: string; message: string };
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

describe('groups/delta: the local directory and GraphDirectory.groupMemberDelta', function () {
  this.timeout(20_000);
  let local: RunningLocalDirectory;
  let graph: GraphDirectory;
  let now = Date.parse('2026-03-02T08:00:00Z');

  /** Requests the local directory saw while `work` ran. */
  async function counting<T>(work: () => Promise<T>): Promise<{ result: T; requests: number }> {
    const before = local.requests.length;
    const result = await work();
    return { result, requests: local.requests.length - before };
  }

  before(async () => {
    const users = Array.from({ length: 40 }, (_, i) => user(i + 1, i < 5 ? 'Science' : 'English'));
    local = await startLocalDirectory({
      port: 0,
      seedDemoData: false,
      pageSize: PAGE_SIZE,
      now: () => now,
      users,
      devices: [{ id: DEVICE, displayName: 'iPad 1', deviceOSType: 'iPad' }],
      groups: [
        { id: NESTED, displayName: 'Nested', members: [userId(30)] },
        { id: GROUP, displayName: 'Year 9', members: [...users.slice(0, 20).map((u) => u.id), DEVICE, NESTED] },
        { id: DYNAMIC, displayName: 'Science', membershipRule: '(user.department -eq "Science")' },
        { id: EMPTY, displayName: 'Nobody yet' },
        { id: OTHER, displayName: 'Other', members: [userId(31)] },
      ],
    });
    graph = new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, retry: FAST_RETRY });
  });
  afterEach(() => local.clearFaults());
  after(() => local.close());

  it('lists every direct member over several pages on an initial round, then changes nothing in one request', async () => {
    const { result: full, requests } = await counting(() => graph.groupMemberDelta(GROUP));
    assert.equal(full.fullRound, true);
    assert.deepEqual(ids(full.added), [...local.state.directMembers(GROUP)].sort());
    assert.equal(full.added.length, 22);
    assert.equal(requests, Math.ceil(22 / PAGE_SIZE), 'the members are spread over pages of the server page size');
    assert.deepEqual(full.removed, []);
    assert.equal(full.added.find((m) => m.id === DEVICE)?.kind, 'device');
    assert.equal(full.added.find((m) => m.id === NESTED)?.kind, 'group');
    assert.equal(full.added.find((m) => m.id === userId(1))?.kind, 'user');
    assert.ok(full.deltaLink.startsWith(`${local.baseUrl}/v1.0/groups/delta?$deltatoken=`));

    const { result: again, requests: oneRequest } = await counting(() => graph.groupMemberDelta(GROUP, full.deltaLink));
    assert.deepEqual(again, { added: [], removed: [], deltaLink: again.deltaLink, fullRound: false });
    assert.equal(oneRequest, 1, 'an unchanged group costs one request');
  });

  it("reports members added and removed through Graph's own write calls in the next round", async () => {
    const start = await graph.groupMemberDelta(GROUP);
    local.state.addMembers(GROUP, [userId(25)]);
    local.state.addMembers(GROUP, [OTHER]);
    local.state.removeMember(GROUP, userId(1));
    local.state.removeMember(GROUP, DEVICE);
    const next = await graph.groupMemberDelta(GROUP, start.deltaLink);
    assert.equal(next.fullRound, false);
    assert.deepEqual(next.added, [
      { id: OTHER, kind: 'group' },
      { id: userId(25), kind: 'user' },
    ]);
    assert.deepEqual(next.removed, [
      { id: DEVICE, kind: 'device' },
      { id: userId(1), kind: 'user' },
    ]);
    const quiet = await graph.groupMemberDelta(GROUP, next.deltaLink);
    assert.deepEqual([quiet.added, quiet.removed], [[], []], 'each change is reported once');
    // Put the group back for the other tests.
    local.state.addMembers(GROUP, [userId(1)]);
    local.state.addMembers(GROUP, [DEVICE]);
    local.state.removeMember(GROUP, userId(25));
    local.state.removeMember(GROUP, OTHER);
  });

  it('nets out joining and leaving again, and leaving and joining again', async () => {
    const start = await graph.groupMemberDelta(GROUP);
    local.state.addMembers(GROUP, [userId(26)]);
    local.state.removeMember(GROUP, userId(26));
    local.state.removeMember(GROUP, userId(2));
    local.state.addMembers(GROUP, [userId(2)]);
    const { result, requests } = await counting(() => graph.groupMemberDelta(GROUP, start.deltaLink));
    assert.deepEqual([result.added, result.removed, result.fullRound], [[], [], false]);
    assert.equal(requests, 1);
  });

  it('pages a changes round too, and the client merges its pages', async () => {
    const start = await graph.groupMemberDelta(GROUP);
    const joining = [21, 22, 23, 24, 27, 28, 29, 32, 33, 34].map(userId);
    for (const id of joining) local.state.addMembers(GROUP, [id]);
    const { result, requests } = await counting(() => graph.groupMemberDelta(GROUP, start.deltaLink));
    assert.deepEqual(ids(result.added), [...joining].sort());
    assert.equal(requests, 2);
    for (const id of joining) local.state.removeMember(GROUP, id);
  });

  it('makes a full round when Graph refuses the stored link as expired or invalid', async () => {
    const start = await graph.groupMemberDelta(GROUP);
    const expectFull = (delta: MemberDelta) => {
      assert.equal(delta.fullRound, true);
      assert.equal(delta.added.length, 22);
      assert.deepEqual(delta.removed, []);
    };
    // Garbled, or from another run of the directory (resyncRequired).
    expectFull(await graph.groupMemberDelta(GROUP, `${local.baseUrl}/v1.0/groups/delta?$deltatoken=not-a-token`));
    // 410 Gone: Graph's synchronization reset.
    local.fail({ status: 410, pathIncludes: '/groups/delta', body: { error: { code: 'resyncRequired', message: 'Resync is required.' } } });
    expectFull(await graph.groupMemberDelta(GROUP, start.deltaLink));
    // Older than seven days (syncStateNotFound).
    now += 8 * 24 * 60 * 60 * 1000;
    const aged = await getJson<GraphErrorBody>(start.deltaLink);
    assert.deepEqual([aged.status, aged.body.error.code], [400, 'syncStateNotFound']);
    expectFull(await graph.groupMemberDelta(GROUP, start.deltaLink));
    // A link for another host, or not a groups/delta link, is never followed.
    expectFull(await graph.groupMemberDelta(GROUP, 'https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=abc'));
    expectFull(await graph.groupMemberDelta(GROUP, `${local.baseUrl}/v1.0/users/delta?$deltatoken=abc`));
  });

  it('tells the admin a group that delta does not list is not found', async () => {
    await assert.rejects(graph.groupMemberDelta('a0000000-0000-4000-8000-0000000000ff'), DirectoryNotFoundError);
  });

  it('reports users joining and leaving a dynamic group as they start or stop matching its rule', async () => {
    const start = await graph.groupMemberDelta(DYNAMIC);
    assert.deepEqual(ids(start.added), [1, 2, 3, 4, 5].map(userId));
    local.state.addUser(user(41, 'Science'));
    local.state.addUser({ ...user(3), department: 'Art' });
    const next = await graph.groupMemberDelta(DYNAMIC, start.deltaLink);
    assert.deepEqual(ids(next.added), [userId(41)]);
    assert.deepEqual(ids(next.removed), [userId(3)]);
  });

  it('lists a member-less group without members@delta and leaves unknown filtered ids out', async () => {
    const filter = encodeURIComponent(`id eq '${EMPTY}' or id eq 'a0000000-0000-4000-8000-0000000000fe'`);
    const { status, body } = await getJson<DeltaPage>(`${local.baseUrl}/v1.0/groups/delta?$filter=${filter}&$select=displayName,members`);
    assert.equal(status, 200);
    assert.deepEqual(body.value, [{ id: EMPTY, displayName: 'Nobody yet' }]);
    assert.ok(body['@odata.deltaLink'] && !body['@odata.nextLink']);
    assert.deepEqual((await graph.groupMemberDelta(EMPTY)).added, []);
  });

  it('repeats a large group on the pages its members fill, each member once', async () => {
    const filter = encodeURIComponent(`id eq '${GROUP}'`);
    let next: string | undefined = `${local.baseUrl}/v1.0/groups/delta?$filter=${filter}&$select=members`;
    const seen: string[] = [];
    let pages = 0;
    let last: DeltaPage | undefined;
    while (next) {
      const { body }: { body: DeltaPage } = await getJson<DeltaPage>(next);
      pages++;
      assert.deepEqual(body.value.map((g) => g.id), [GROUP]);
      for (const member of body.value[0]?.['members@delta'] ?? []) {
        assert.match(member['@odata.type'], /^#microsoft\.graph\.(user|device|group)$/);
        seen.push(member.id);
      }
      next = body['@odata.nextLink'];
      if (next) assert.match(next, /\?\$skiptoken=[\w-]+$/, 'the query is carried in the token');
      last = body;
    }
    assert.equal(pages, 4);
    assert.equal(new Set(seen).size, 22);
    assert.match(last?.['@odata.deltaLink'] ?? '', /\?\$deltatoken=[\w-]+$/);
  });

  it('answers $deltatoken=latest with a link and no data, then only later changes', async () => {
    const filter = encodeURIComponent(`id eq '${OTHER}'`);
    const { body } = await getJson<DeltaPage>(`${local.baseUrl}/v1.0/groups/delta?$filter=${filter}&$select=members&$deltaToken=latest`);
    assert.deepEqual(body.value, []);
    local.state.addMembers(OTHER, [userId(35)]);
    const next = await graph.groupMemberDelta(OTHER, body['@odata.deltaLink']);
    assert.deepEqual(next.added, [{ id: userId(35), kind: 'user' }]);
  });

  it('refuses what Graph documents as unsupported: more than 50 filtered ids, $top, $orderby, $search, other filters', async () => {
    const clause = (n: number) => Array.from({ length: n }, (_, i) => `id eq 'a0000000-0000-4000-8000-${String(i).padStart(12, '0')}'`).join(' or ');
    const tooMany = await getJson<GraphErrorBody>(`${local.baseUrl}/v1.0/groups/delta?$filter=${encodeURIComponent(clause(MAX_DELTA_FILTER_IDS + 1))}`);
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error.message, /at most 50/);
    assert.equal((await getJson<DeltaPage>(`${local.baseUrl}/v1.0/groups/delta?$filter=${encodeURIComponent(clause(MAX_DELTA_FILTER_IDS))}`)).status, 200);
    for (const query of ['$top=5', '$orderby=displayName', `$search=${encodeURIComponent('"displayName:x"')}`, `$filter=${encodeURIComponent("startswith(displayName,'Y')")}`, '$select=nope']) {
      const answer = await getJson<GraphErrorBody>(`${local.baseUrl}/v1.0/groups/delta?${query}`);
      assert.equal(answer.status, 400, query);
      assert.match(answer.body.error.code, /^Request_(UnsupportedQuery|BadRequest)$/);
    }
  });

  it('refuses a garbled token with resyncRequired and a token past the kept log with syncStateNotFound', async () => {
    const garbled = await getJson<GraphErrorBody>(`${local.baseUrl}/v1.0/groups/delta?$deltatoken=${'x'.repeat(40)}`);
    assert.deepEqual([garbled.status, garbled.body.error.code], [400, 'resyncRequired']);
    const small = await startLocalDirectory({ port: 0, seedDemoData: false, membershipLogLimit: 3, users: [user(1), user(2), user(3), user(4), user(5)], groups: [{ id: GROUP, displayName: 'G' }, { id: OTHER, displayName: 'O' }] });
    try {
      const client = new GraphDirectory({ baseUrl: small.baseUrl, retry: FAST_RETRY });
      const start = await client.groupMemberDelta(GROUP);
      small.state.addMembers(OTHER, [userId(1), userId(2), userId(3), userId(4)]);
      const expired = await getJson<GraphErrorBody>(start.deltaLink);
      assert.deepEqual([expired.status, expired.body.error.code], [400, 'syncStateNotFound']);
      assert.equal(expired.body.error.message, 'The sync state generation is not found. The delta token is expired and data must be synchronized again.');
      const again = await client.groupMemberDelta(GROUP, start.deltaLink);
      assert.equal(again.fullRound, true);
    } finally {
      await small.close();
    }
  });
});

describe('groups/delta at the bench scale', function () {
  this.timeout(60_000);

  it('answers many large groups twice without keeping a copy of their members per token', async () => {
    const groupCount = 200;
    const membersEach = 2_000;
    const users = Array.from({ length: membersEach }, (_, i) => user(i + 1));
    const groups = Array.from({ length: groupCount }, (_, g) => ({ id: `b0000000-0000-4000-8000-${String(g).padStart(12, '0')}`, displayName: `G${g}`, members: users.map((u) => u.id) }));
    const local = await startLocalDirectory({ port: 0, seedDemoData: false, pageSize: 999, users, groups });
    try {
      const graph = new GraphDirectory({ baseUrl: local.baseUrl });
      const links: string[] = [];
      for (const g of groups) {
        const full = await graph.groupMemberDelta(g.id);
        assert.equal(full.added.length, membersEach);
        links.push(full.deltaLink);
      }
      const before = local.requests.length;
      for (const [i, g] of groups.entries()) assert.equal((await graph.groupMemberDelta(g.id, links[i])).added.length, 0);
      assert.equal(local.requests.length - before, groupCount, 'one request per unchanged group');
      assert.ok(links.every((link) => link.length < 600), 'a delta link names a position in the log, not the members');
    } finally {
      await local.close();
    }
  });
});
