import { strict as assert } from 'node:assert';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { CachedGroupMembership } from '../../../services/directory/CachedGroupMembership';
import { GraphDirectory, type DirectoryUser } from '../../../services/directory/GraphDirectory';
import { DirectoryNotFoundError, DirectoryPermissionError, DirectoryUnavailableError } from '../../../services/directory/errors';
import { DEMO_GROUPS, DEMO_STUDENT_COUNT, DEMO_USERS, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';
import { ConfigError } from '../../../services/errors';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

async function allUsers(pages: AsyncIterable<DirectoryUser[]>): Promise<{ users: DirectoryUser[]; pages: number }> {
  const users: DirectoryUser[] = [];
  let count = 0;
  for await (const page of pages) {
    users.push(...page);
    count++;
  }
  return { users, pages: count };
}

describe('GraphDirectory against the local directory over HTTP', function () {
  this.timeout(20_000);
  let local: RunningLocalDirectory;
  let graph: GraphDirectory;

  before(async () => {
    local = await startLocalDirectory({ port: 0, pageSize: 50 });
    graph = new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, retry: FAST_RETRY });
  });
  afterEach(() => local.clearFaults());
  after(() => local.close());

  it('searches groups by display name with eventual consistency, and by prefix', async () => {
    const found = await graph.searchGroups('year 9');
    assert.deepEqual(
      found.map((g) => g.displayName),
      ['Year 9 Form 9A', 'Year 9 Form 9B', 'Year 9 Form 9C', 'Year 9 Students'],
    );
    assert.equal(local.requests.at(-1)?.consistencyLevel, 'eventual');
    assert.equal(local.requests.at(-1)?.authorization, undefined, 'no credentials for the local directory');
    const english = await graph.findGroupsByPrefix('Engl');
    assert.equal(english[0]?.id, DEMO_GROUPS.englishDepartment);
    assert.equal(english[0]?.membershipType, 'assigned');
    assert.deepEqual(await graph.searchGroups('"no such group\\'), []);
  });

  it('tells user, device, dynamic device, mixed and empty groups apart', async () => {
    const kinds = async (id: string) => (await graph.classifyGroup(id)).classification;
    assert.deepEqual(await kinds(DEMO_GROUPS.englishDepartment), { kind: 'user', userCount: 7, deviceCount: 0, reason: 'English Department is a user group (7 users).' });
    assert.equal((await kinds(DEMO_GROUPS.studentIpads)).kind, 'device');
    assert.equal((await kinds(DEMO_GROUPS.studentIpads)).deviceCount, 40);
    const dynamic = await graph.classifyGroup(DEMO_GROUPS.allManagedIpads);
    assert.equal(dynamic.membershipType, 'dynamic');
    assert.equal(dynamic.deviceRule, true);
    assert.equal(dynamic.classification.kind, 'device');
    assert.match(dynamic.classification.reason, /dynamic device group.*device\.deviceOSType/);
    const teachers = await graph.classifyGroup(DEMO_GROUPS.teachers);
    assert.equal(teachers.membershipType, 'dynamic');
    assert.equal(teachers.classification.kind, 'user');
    assert.equal((await kinds(DEMO_GROUPS.scienceLabCarts)).kind, 'mixed');
    assert.equal((await kinds(DEMO_GROUPS.bookClub)).kind, 'empty');
  });

  it('lists transitive users across nested groups once each, page by page', async () => {
    const { users, pages } = await allUsers(graph.userMemberPages(DEMO_GROUPS.allStaff));
    assert.equal(users.length, 30 + 5, 'named staff plus the student volunteers nested through Library Staff');
    assert.equal(new Set(users.map((u) => u.id)).size, users.length, 'no duplicates');
    assert.equal(pages, 1);
    const year9 = await allUsers(graph.userMemberPages(DEMO_GROUPS.year9Students, { pageSize: 25 }));
    assert.equal(year9.users.length, 181);
    assert.equal(year9.pages, 8);
    const adele = (await allUsers(graph.userMemberPages(DEMO_GROUPS.englishDepartment))).users.find((u) => u.id === DEMO_USERS.adeleVance);
    assert.deepEqual(adele, { id: DEMO_USERS.adeleVance, displayName: 'Adele Vance', userPrincipalName: 'adelev@northwind.example', mail: 'adelev@northwind.example', managedAppleId: 'adelev@appleid.northwind.example' });
    const devicesOnly = await allUsers(graph.userMemberPages(DEMO_GROUPS.studentIpads));
    assert.equal(devicesOnly.users.length, 0);
  });

  it('streams a 5,000-member group without holding it', async () => {
    let total = 0;
    let largest = 0;
    let managed = 0;
    const ids = new Set<string>();
    for await (const page of graph.userMemberPages(DEMO_GROUPS.allStudents)) {
      total += page.length;
      largest = Math.max(largest, page.length);
      for (const u of page) {
        ids.add(u.id);
        if (u.managedAppleId) managed++;
      }
    }
    assert.equal(total, DEMO_STUDENT_COUNT);
    assert.equal(ids.size, DEMO_STUDENT_COUNT);
    assert.equal(largest, 50, 'the server page size, not the whole group');
    assert.ok(managed > 1000 && managed < 2500, `about a third have a Managed Apple Account (${managed})`);
  });

  it('gives no managed Apple ID without a configured attribute', async () => {
    const plain = new GraphDirectory({ baseUrl: local.baseUrl });
    const { users } = await allUsers(plain.userMemberPages(DEMO_GROUPS.englishDepartment));
    assert.ok(users.every((u) => u.managedAppleId === undefined));
  });

  it('checks membership transitively, and an unknown user is in no group', async () => {
    assert.equal(await graph.isMember(DEMO_USERS.alexWilber, DEMO_GROUPS.vppBooksAdmins), true);
    assert.equal(await graph.isMember(DEMO_USERS.meganBowen, DEMO_GROUPS.vppBooksAdmins), false);
    assert.deepEqual(await graph.checkMemberGroups(DEMO_USERS.pattiFernandez, [DEMO_GROUPS.libraryStaff, DEMO_GROUPS.englishDepartment, DEMO_GROUPS.allStaff]), [
      DEMO_GROUPS.libraryStaff,
      DEMO_GROUPS.allStaff,
    ]);
    assert.equal(await graph.isMember('20000000-0000-4000-8000-000000000001', DEMO_GROUPS.libraryStaff), true, 'through Library Volunteers');
    assert.equal(await graph.isMember('ffffffff-0000-0000-0000-000000000000', DEMO_GROUPS.vppBooksAdmins), false);
  });

  it('caches membership answers for a few minutes and shares concurrent questions', async () => {
    let now = 0;
    const cached = new CachedGroupMembership(graph, { ttlMs: 60_000, now: () => now });
    const before = local.requests.length;
    const answers = await Promise.all([cached.isMember(DEMO_USERS.alexWilber, DEMO_GROUPS.vppBooksAdmins), cached.isMember(DEMO_USERS.alexWilber, DEMO_GROUPS.vppBooksAdmins)]);
    assert.deepEqual(answers, [true, true]);
    assert.equal(await cached.isMember(DEMO_USERS.alexWilber.toUpperCase(), DEMO_GROUPS.vppBooksAdmins), true);
    assert.equal(local.requests.length - before, 1);
    now += 61_000;
    await cached.isMember(DEMO_USERS.alexWilber, DEMO_GROUPS.vppBooksAdmins);
    assert.equal(local.requests.length - before, 2);
  });

  it('honours Retry-After on 429 and gives up after bounded retries', async () => {
    local.fail({ status: 429, retryAfter: '1', pathIncludes: '/groups/', times: 1 });
    const started = Date.now();
    const group = await graph.getGroup(DEMO_GROUPS.libraryStaff);
    assert.equal(group.displayName, 'Library Staff');
    assert.ok(Date.now() - started >= 900, 'waited as Retry-After asked');

    local.fail({ status: 503, retryAfter: '0', pathIncludes: '/groups/', times: 10 });
    await assert.rejects(graph.getGroup(DEMO_GROUPS.libraryStaff), (err: unknown) => err instanceof DirectoryUnavailableError && /busy or unreachable/.test(err.userMessage));
    local.clearFaults();
  });

  it('names the missing Graph permission on 403 and the missing group on 404', async () => {
    local.fail({ status: 403, pathIncludes: 'transitiveMembers', body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } });
    await assert.rejects(allUsers(graph.userMemberPages(DEMO_GROUPS.englishDepartment)), (err: unknown) => {
      assert.ok(err instanceof DirectoryPermissionError);
      assert.match(err.userMessage, /needs the application permission GroupMember\.Read\.All and User\.Read\.All/);
      assert.match(err.message, /Authorization_RequestDenied/);
      return true;
    });
    local.fail({ status: 403, pathIncludes: '/groups', body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges' } } });
    await assert.rejects(graph.searchGroups('English'), (err: unknown) => err instanceof DirectoryPermissionError && err.permission === 'GroupMember.Read.All');
    await assert.rejects(graph.getGroup('00000000-dead-beef-0000-000000000000'), DirectoryNotFoundError);
  });

  it('sends a bearer token from the credential, and refuses real Graph without credentials', async () => {
    const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'test-graph-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const withToken = new GraphDirectory({ baseUrl: local.baseUrl, credential });
    await withToken.getGroup(DEMO_GROUPS.vppBooksAdmins);
    assert.equal(local.requests.at(-1)?.authorization, 'Bearer test-graph-token');
    assert.throws(() => new GraphDirectory({}), ConfigError);
    assert.throws(() => new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: 'bad attribute' }), ConfigError);
  });

  it('refuses a nextLink that leaves the configured host', async () => {
    const forged: typeof fetch = async () =>
      new Response(JSON.stringify({ value: [], '@odata.nextLink': 'https://evil.example/v1.0/next' }), { status: 200, headers: { 'content-type': 'application/json' } });
    const client = new GraphDirectory({ baseUrl: local.baseUrl, fetch: forged });
    await assert.rejects(allUsers(client.userMemberPages('g')), /outside/);
  });
});

describe('local directory: Graph shape and rules', function () {
  let local: RunningLocalDirectory;
  before(async () => {
    local = await startLocalDirectory({ port: 0, seedDemoData: false, pageSize: 2, users: [{ id: 'u1', displayName: 'One', userPrincipalName: 'one@x.example' }] });
  });
  after(() => local.close());

  it('refuses $search without ConsistencyLevel, as Graph does', async () => {
    const res = await fetch(`${local.baseUrl}/v1.0/groups?$search=${encodeURIComponent('"displayName:x"')}`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /ConsistencyLevel: eventual/);
  });

  it('lets tests add data, and pages with @odata.nextLink', async () => {
    local.state.addUser({ id: 'u2', displayName: 'Two', userPrincipalName: 'two@x.example' });
    local.state.addUser({ id: 'u3', displayName: 'Three', userPrincipalName: 'three@x.example' });
    local.state.addGroup({ id: 'g1', displayName: 'Test group', members: ['u1', 'u2', 'u3'] });
    const first = (await (await fetch(`${local.baseUrl}/v1.0/groups/g1/members`)).json()) as { value: unknown[]; '@odata.nextLink'?: string };
    assert.equal(first.value.length, 2);
    assert.ok(first['@odata.nextLink']?.startsWith(local.baseUrl));
    const second = (await (await fetch(first['@odata.nextLink'] ?? '')).json()) as { value: Array<{ id: string }>; '@odata.nextLink'?: string };
    assert.deepEqual(second.value.map((v) => v.id), ['u3']);
    assert.equal(second['@odata.nextLink'], undefined);
  });
});
