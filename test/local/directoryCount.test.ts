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
});
