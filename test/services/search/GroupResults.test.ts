import { strict as assert } from 'node:assert';
import { GraphDirectory } from '../../../services/directory/GraphDirectory';
import { GroupResults } from '../../../services/search/GroupResults';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';

describe('GroupResults: typeahead pages of groups', function () {
  this.timeout(20_000);
  let local: RunningLocalDirectory;
  let results: GroupResults;
  // Created out of name order, so an order the directory does not give cannot pass for one it does.
  const names = ['Club Kappa', 'Club Alpha', 'Club Theta', 'Club Delta', 'Club Iota', 'Club Beta', 'Club Eta', 'Club Gamma', 'Club Zeta', 'Club Epsilon', 'Club Lambda', 'Club Mu'];

  before(async () => {
    local = await startLocalDirectory({ port: 0, seedDemoData: false });
    names.forEach((displayName, i) => local.state.addGroup({ id: `g${String(i).padStart(2, '0')}`, displayName, members: [] }));
    const graph = new GraphDirectory({ baseUrl: local.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE });
    results = new GroupResults(graph, { countsFor: async () => new Map() });
  });
  after(() => local.close());

  for (const text of ['club', '']) {
    it(`pages through "${text}" without repeating or skipping a group, in name order`, async () => {
      const page = (skip: number) => results.search({ tenantId: 't', dataset: 'groups', text, skip, top: 5 });
      const [first, second, third] = [await page(0), await page(5), await page(10)];
      assert.equal(first.length, 5);
      assert.equal(second.length, 5);
      assert.deepEqual(first.filter((g) => second.some((s) => s.value === g.value)), [], 'page 2 repeats nothing of page 1');
      assert.deepEqual([...first, ...second, ...third].map((g) => g.title), [...names].sort((a, b) => a.localeCompare(b)));
    });
  }

  it('asks Graph for the order, as an advanced query ($orderby with $search needs $count=true and ConsistencyLevel)', async () => {
    await results.search({ tenantId: 't', dataset: 'groups', text: 'club', skip: 0, top: 5 });
    const asked = local.requests.at(-1);
    assert.ok(asked);
    const url = new URL(`${asked.path}${asked.search}`, local.baseUrl);
    assert.equal(url.searchParams.get('$orderby'), 'displayName');
    assert.equal(url.searchParams.get('$count'), 'true');
    assert.equal(asked.consistencyLevel, 'eventual');
  });
});
