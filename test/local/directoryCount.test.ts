import { strict as assert } from 'node:assert';
import { DEMO_GROUPS, startLocalDirectory, type RunningLocalDirectory } from '../../local/directory';

describe('local directory: $count as Graph documents it', function () {
  let local: RunningLocalDirectory;
  before(async () => {
    local = await startLocalDirectory({ port: 0, studentCount: 50 });
  });
  after(() => local.close());

  const url = (path: string) => `${local.baseUrl}/v1.0/groups/${DEMO_GROUPS.englishDepartment}${path}`;

  it('answers a $count segment with a bare number in text/plain, with ConsistencyLevel: eventual', async () => {
    for (const [path, expected] of [
      ['/transitiveMembers/$count', '7'],
      ['/members/$count', '7'],
      ['/transitiveMembers/microsoft.graph.user/$count', '7'],
      ['/transitiveMembers/microsoft.graph.device/$count', '0'],
    ] as const) {
      const res = await fetch(url(path), { headers: { ConsistencyLevel: 'eventual' } });
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers.get('content-type')), /^text\/plain/);
      assert.equal(await res.text(), expected, path);
    }
  });

  it("refuses a $count segment without the header with Graph's documented error (aad-advanced-queries)", async () => {
    const res = await fetch(url('/transitiveMembers/microsoft.graph.user/$count'));
    assert.equal(res.status, 400);
    assert.deepEqual(((await res.json()) as { error: unknown }).error, { code: 'Request_BadRequest', message: '$count is not currently supported.' });
  });

  it('silently ignores ?$count=true without the header, and adds @odata.count with it', async () => {
    const plain = (await (await fetch(`${local.baseUrl}/v1.0/groups?$filter=${encodeURIComponent("startswith(displayName,'Year 9')")}&$count=true`)).json()) as Record<string, unknown>;
    assert.equal(plain['@odata.count'], undefined);
    assert.equal((plain.value as unknown[]).length, 4);
    const counted = (await (
      await fetch(`${local.baseUrl}/v1.0/groups?$filter=${encodeURIComponent("startswith(displayName,'Year 9')")}&$count=true`, { headers: { ConsistencyLevel: 'eventual' } })
    ).json()) as Record<string, unknown>;
    assert.equal(counted['@odata.count'], 4);
  });

  it('sorts groups by displayName only when asked, and refuses $orderby with $filter outside an advanced query', async () => {
    const filter = `$filter=${encodeURIComponent("startswith(displayName,'Year 9')")}`;
    const names = async (query: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${local.baseUrl}/v1.0/groups?${query}`, { headers });
      return { status: res.status, body: (await res.json()) as { value?: Array<{ displayName: string }>; error?: { message: string } } };
    };
    // Created as 9B, 9A, … would differ from name order: add one out of order to tell them apart.
    local.state.addGroup({ id: 'year-9-aaa', displayName: 'Year 9 AAA', members: [] });
    const unordered = await names(`${filter}&$count=true`, { ConsistencyLevel: 'eventual' });
    assert.equal(unordered.body.value?.at(-1)?.displayName, 'Year 9 AAA', 'no $orderby: creation order');
    const ordered = await names(`${filter}&$count=true&$orderby=displayName`, { ConsistencyLevel: 'eventual' });
    assert.deepEqual(
      ordered.body.value?.map((g) => g.displayName),
      ['Year 9 AAA', 'Year 9 Form 9A', 'Year 9 Form 9B', 'Year 9 Form 9C', 'Year 9 Students'],
    );
    for (const [query, headers] of [[`${filter}&$orderby=displayName`, { ConsistencyLevel: 'eventual' }], [`${filter}&$count=true&$orderby=displayName`, {}]] as const) {
      const refused = await names(query, headers);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error?.message, 'Sorting not supported for current query.');
    }
  });
});
