import { strict as assert } from 'node:assert';
import { GraphDirectory } from '../../../services/directory/GraphDirectory';
import { GroupMemberCounts, type MemberCounter } from '../../../services/directory/GroupMemberCounts';
import { DirectoryResponseError } from '../../../services/directory/errors';
import { DEMO_GROUPS, startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

/**
 * Microsoft's example, "List group transitive members", Example 2 "Get only a count of transitive membership"
 * (learn.microsoft.com/en-us/graph/api/group-list-transitivemembers): `GET …/transitiveMembers/$count` with
 * `ConsistencyLevel: eventual`, answered `HTTP/1.1 200 OK`, `Content-type: text/plain`, body `893` after
 * blank lines, verbatim.
 */
const DOCUMENTED_COUNT_BODY = '\n\n893';

function answering(body: string, status = 200): { fetch: typeof fetch; requests: Array<{ url: string; headers: Record<string, string> }> } {
  const requests: Array<{ url: string; headers: Record<string, string> }> = [];
  return {
    requests,
    fetch: async (input, init) => {
      requests.push({ url: String(input), headers: (init?.headers ?? {}) as Record<string, string> });
      return new Response(body, { status, headers: { 'content-type': 'text/plain' } });
    },
  };
}

describe('GraphDirectory member counts ($count)', function () {
  this.timeout(20_000);
  let local: RunningLocalDirectory;
  let graph: GraphDirectory;

  before(async () => {
    local = await startLocalDirectory({ port: 0, studentCount: 200 });
    graph = new GraphDirectory({ baseUrl: local.baseUrl, retry: FAST_RETRY });
  });
  after(() => local.close());

  it('counts transitive users and devices of a group against the local directory, asking with ConsistencyLevel: eventual', async () => {
    assert.equal(await graph.countMembers(DEMO_GROUPS.englishDepartment, 'user'), 7);
    assert.equal(local.requests.at(-1)?.path, `/v1.0/groups/${DEMO_GROUPS.englishDepartment}/transitiveMembers/microsoft.graph.user/$count`);
    assert.equal(local.requests.at(-1)?.consistencyLevel, 'eventual');
    assert.equal(await graph.countMembers(DEMO_GROUPS.studentIpads, 'device'), 40);
    // Nested groups count their members once: Year 9 Students holds the three forms and one more student.
    assert.equal(await graph.countMembers(DEMO_GROUPS.year9Students, 'user'), 181);
  });

  it("reads Graph's documented text/plain answer, and refuses an empty or non-numeric one", async () => {
    const documented = answering(DOCUMENTED_COUNT_BODY);
    const client = new GraphDirectory({ baseUrl: 'http://127.0.0.1:9', fetch: documented.fetch, retry: FAST_RETRY });
    assert.equal(await client.countMembers('02bd9fd6-8f93-4758-87c3-1fb73740a315', 'user'), 893);
    assert.equal(documented.requests[0]?.headers['ConsistencyLevel'], 'eventual');

    for (const body of ['', 'many', '-3', '{"value":3}']) {
      const odd = new GraphDirectory({ baseUrl: 'http://127.0.0.1:9', fetch: answering(body).fetch, retry: FAST_RETRY });
      await assert.rejects(odd.countMembers('g', 'user'), DirectoryResponseError, `body ${JSON.stringify(body)}`);
    }
  });
});

describe('GroupMemberCounts: the groups shown, a few at a time, briefly kept', () => {
  function counter(options: { fail?: string } = {}): MemberCounter & { calls: string[]; busiest: number } {
    let busy = 0;
    const counts: MemberCounter & { calls: string[]; busiest: number } = {
      calls: [],
      busiest: 0,
      async countMembers(groupId, kind) {
        counts.calls.push(`${groupId}:${kind}`);
        busy++;
        counts.busiest = Math.max(counts.busiest, busy);
        await new Promise((resolve) => setImmediate(resolve));
        busy--;
        if (groupId === options.fail) throw new Error('Graph is down');
        return kind === 'user' ? groupId.length : 0;
      },
    };
    return counts;
  }
  const group = (id: string, deviceRule = false) => ({ id, deviceRule });

  it('counts each group once, at most `concurrency` at a time, and skips dynamic device groups', async () => {
    const directory = counter();
    const counts = new GroupMemberCounts(directory, { concurrency: 2 });
    const result = await counts.countsFor([group('aa'), group('bbb'), group('cccc'), group('aa'), group('ipads', true)]);
    assert.deepEqual([...result.entries()], [
      ['aa', { users: 2, devices: 0 }],
      ['bbb', { users: 3, devices: 0 }],
      ['cccc', { users: 4, devices: 0 }],
    ]);
    assert.equal(directory.calls.length, 6, 'users and devices, once per group');
    assert.ok(directory.busiest <= 2, `at most two requests at once (${directory.busiest})`);
    assert.ok(!directory.calls.some((c) => c.startsWith('ipads')), 'a device rule decides without counting');
  });

  it('reuses counts within the time to live, asks again after it, and keeps no failure', async () => {
    let now = 0;
    const directory = counter({ fail: 'down' });
    const counts = new GroupMemberCounts(directory, { ttlMs: 60_000, now: () => now });
    await counts.countsFor([group('aa')]);
    now = 59_000;
    await counts.countsFor([group('aa')]);
    assert.equal(directory.calls.length, 2, 'the second question was answered from the cache');
    now = 61_000;
    await counts.countsFor([group('aa')]);
    assert.equal(directory.calls.length, 4, 'asked again once the count was a minute old');

    const failed = await counts.countsFor([group('down'), group('aa')]);
    assert.equal(failed.get('down'), undefined, 'a failed count is left out');
    assert.deepEqual(failed.get('aa'), { users: 2, devices: 0 }, 'the others are shown');
    await counts.countsFor([group('down')]);
    assert.equal(directory.calls.filter((c) => c.startsWith('down')).length, 2, 'a failure is not kept: asked again');
  });
});
