import { strict as assert } from 'node:assert';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { etags, seedToken, syncEngine } from '../../support/syncFixtures';

const SHARED_USERS = ['shared-user-0', 'shared-user-1', 'shared-user-2'];
const SHARED_BOOKS = ['1690000001', '1690000002'];

/**
 * Two tokens whose users and books have the same ids (clientUserIds are only unique per Apple
 * organisation, and two locations can own the same book): each sync must read and write its own
 * token's partition only, including on the local emulator, which ignores the partition key option.
 */
describe('SyncEngine keeps tokens apart when their documents share ids', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  async function seed(name: string, managed: boolean, licenses: number): Promise<VppToken> {
    const seeded = await seedToken(env, { name, adamIds: SHARED_BOOKS, botUserIds: SHARED_USERS, managedAppleIds: managed, licenses, otherUsers: 0 });
    return seeded.token;
  }

  async function snapshot(tokenId: string): Promise<{ books: Map<string, string>; users: Map<string, string> }> {
    return { books: await etags(env.store.containers.books, tokenId), users: await etags(env.store.containers.vppUsers, tokenId) };
  }

  it('syncing one token neither reads nor rewrites the other token\'s users and books', async () => {
    const north = await seed('North', true, 7);
    const south = await seed('South', false, 30);
    const engine = syncEngine(env);
    const southBefore = await snapshot(south.id);
    assert.equal(southBefore.users.size, SHARED_USERS.length);

    const first = await engine.syncToken(TEST_TENANT, north.id, { trigger: 'manual' });
    assert.equal(first.status, 'completed', first.error?.message);
    assert.deepEqual(first.changes, { booksAdded: 2, booksUpdated: 0, booksRemoved: 0, usersChanged: 3, assignmentsChanged: 0 });
    assert.deepEqual(first.licenses, { total: 14, used: 0, available: 14 });
    assert.deepEqual(await snapshot(south.id), southBefore, 'South untouched by North\'s sync');
    const northUsers = await env.store.vppUsers.listByToken(north.id);
    assert.deepEqual(northUsers.map((u) => [u.id, u.tokenId, u.status]).sort(), SHARED_USERS.map((id) => [id, north.id, 'associated']));
    assert.ok((await env.store.vppUsers.listByToken(south.id)).every((u) => u.status === 'registered' && !u.appleUserId && u.tokenId === south.id));

    const northAfter = await snapshot(north.id);
    const second = await engine.syncToken(TEST_TENANT, south.id, { trigger: 'manual' });
    assert.equal(second.status, 'completed', second.error?.message);
    assert.deepEqual(second.changes, { booksAdded: 2, booksUpdated: 0, booksRemoved: 0, usersChanged: 3, assignmentsChanged: 0 });
    assert.deepEqual(second.licenses, { total: 60, used: 0, available: 60 });
    assert.deepEqual(await snapshot(north.id), northAfter, 'North untouched by South\'s sync');
    const southUsers = await env.store.vppUsers.listByToken(south.id);
    assert.ok(southUsers.every((u) => u.tokenId === south.id && u.status === 'registered' && u.inviteCode && !u.managedAppleId));
    assert.deepEqual((await env.store.books.listByToken(south.id)).map((b) => [b.tokenId, b.totalLicenseCount]), SHARED_BOOKS.map(() => [south.id, 30]));
    assert.deepEqual((await env.store.books.listByToken(north.id)).map((b) => [b.tokenId, b.totalLicenseCount]), SHARED_BOOKS.map(() => [north.id, 7]));

    const again = await engine.syncToken(TEST_TENANT, north.id, { trigger: 'manual' });
    assert.equal(again.dataWrites, 0, 'the unchanged token writes nothing the second time');
    assert.deepEqual(await snapshot(north.id), northAfter);
  });

  it('removing one token\'s data leaves the other\'s documents with the same ids', async () => {
    const east = await seed('East', true, 5);
    const west = await seed('West', true, 5);
    const engine = syncEngine(env);
    for (const token of [east, west]) assert.equal((await engine.syncToken(TEST_TENANT, token.id, { trigger: 'manual' })).status, 'completed');
    const westBefore = await snapshot(west.id);

    assert.equal(await env.store.books.deleteAllForToken(east.id), SHARED_BOOKS.length);
    assert.equal(await env.store.vppUsers.deleteAllForToken(east.id), SHARED_USERS.length);
    assert.deepEqual(await env.store.vppUsers.listByToken(east.id), []);
    assert.equal((await env.store.vppUsers.listByToken(west.id)).filter((u) => u.status === 'associated').length, SHARED_USERS.length);
    assert.deepEqual(await snapshot(west.id), westBefore);
  });
});
