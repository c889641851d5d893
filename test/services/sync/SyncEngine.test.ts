import { strict as assert } from 'node:assert';
import { TestEnvironment } from '../../support/TestEnvironment';
import { etags, seedToken, syncEngine } from '../../support/syncFixtures';
import { heldEncryptedToken, tokenCipherContext } from '../../../services/store/entities/vppToken';

describe('SyncEngine (Apple sandbox, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());
  afterEach(() => env.sandbox.faults.clear());

  it('first sync stores books with titles and licenses, the bot\'s own users only, a run and the token status', async () => {
    const seeded = await seedToken(env, { books: 30, botUsers: 3, otherUsers: 40 });
    const outcome = await syncEngine(env).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'completed', outcome.error?.message);
    assert.equal(outcome.books, 30);
    assert.deepEqual(outcome.licenses, { total: 600, used: 0, available: 600 });
    assert.equal(outcome.changes.booksAdded, 30);
    assert.equal(outcome.changes.usersChanged, 3, 'inviteCode and Apple user id arrive for the bot\'s users');

    const books = await env.store.books.listByToken(seeded.token.id);
    assert.equal(books.length, 30);
    assert.ok(books.every((b) => b.metadataResolved && b.title.startsWith(seeded.token.displayName)));
    const users = await env.store.vppUsers.listByToken(seeded.token.id);
    assert.deepEqual(users.map((u) => u.id).sort(), [...seeded.botUsers].sort(), 'users of other MDMs are not synced');
    assert.ok(users.every((u) => u.status === 'registered' && /^[0-9a-f]{32}$/.test(u.inviteCode ?? '')), 'each invited user keeps their own invitation code');

    const [run] = await env.store.syncRuns.listRecent(seeded.token.id);
    assert.equal(run?.status, 'completed');
    assert.equal(run?.counts.booksAdded, 30);
    assert.ok(run?.finishedDateTime);
    const token = await env.store.tokens.get(seeded.token.tenantId, seeded.token.id);
    assert.equal(token?.lastSyncStatus, 'completed');
    assert.ok(token?.usersVersionId && token.assignmentsVersionId && token.lastSyncDateTime);
  });

  it('a second sync with nothing changed reads incrementally and writes no book or user', async () => {
    const seeded = await seedToken(env, { books: 30, botUsers: 5 });
    const engine = syncEngine(env);
    await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    const booksBefore = await etags(env.store.containers.books, seeded.token.id);
    const usersBefore = await etags(env.store.containers.vppUsers, seeded.token.id);
    env.sandbox.stats.reset();

    const second = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(second.status, 'completed');
    assert.equal(second.dataWrites, 0);
    assert.deepEqual(second.changes, { booksAdded: 0, booksUpdated: 0, booksRemoved: 0, usersChanged: 0, assignmentsChanged: 0 });
    assert.deepEqual(await etags(env.store.containers.books, seeded.token.id), booksBefore, 'no book document was rewritten');
    assert.deepEqual(await etags(env.store.containers.vppUsers, seeded.token.id), usersBefore, 'no user document was rewritten');
    assert.equal(env.sandbox.stats.count('GET', '/users'), 1, 'one incremental page of users');
    assert.equal(env.sandbox.stats.count('GET', '/assignments'), 1);
  });

  it('picks up what changed at Apple: a new book, a spent license, an accepted invitation', async () => {
    const seeded = await seedToken(env, { books: 3, botUsers: 2 });
    const engine = syncEngine(env);
    await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    const [book] = [...seeded.org.books.values()];
    const [first, second] = seeded.botUsers;
    assert.ok(book && first && second);
    env.sandbox.state.assign(seeded.org, book.adamId, book.pricingParam, first);
    const user = env.sandbox.state.activeUser(seeded.org, second);
    assert.ok(user);
    env.sandbox.state.putUser(seeded.org, { ...user, status: 'Associated', inviteCode: undefined });
    env.sandbox.state.addBook(seeded.org, { adamId: '1799999999', title: 'Late Addition', author: 'A', totalCount: 2 });

    const outcome = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.deepEqual(outcome.changes, { booksAdded: 1, booksUpdated: 1, booksRemoved: 0, usersChanged: 1, assignmentsChanged: 1 });
    assert.deepEqual(outcome.licenses, { total: 62, used: 1, available: 61 });
    assert.equal((await env.store.vppUsers.get(seeded.token.id, second))?.status, 'associated');
    assert.equal((await env.store.books.get(seeded.token.id, '1799999999', 'STDQ'))?.title, 'Late Addition');

    seeded.org.books.delete(`${book.adamId}|${book.pricingParam}`);
    const removed = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(removed.changes.booksRemoved, 1);
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 3);
  });

  it('a fault part way stores nothing; the retry stores everything once', async () => {
    const seeded = await seedToken(env, { books: 60, botUsers: 2 });
    const engine = syncEngine(env);
    env.sandbox.faults.failNext('/assignments', 1, { kind: 'status', status: 400, errorNumber: 9602 });
    const failed = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'vpp_9602');
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 0, 'nothing written before every read succeeded');
    let token = await env.store.tokens.get(seeded.token.tenantId, seeded.token.id);
    assert.equal(token?.lastSyncStatus, 'failed');
    assert.equal(token?.consecutiveSyncFailures, 1);
    assert.equal(token?.state, 'valid', 'a bad request is not a token problem');
    assert.equal(token?.usersVersionId, undefined, 'no version saved from a failed run');

    const retried = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(retried.status, 'completed');
    assert.equal(retried.changes.booksAdded, 60);
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 60);
    token = await env.store.tokens.get(seeded.token.tenantId, seeded.token.id);
    assert.equal(token?.consecutiveSyncFailures, 0);
    assert.equal(token?.lastError, undefined);
    const runs = await env.store.syncRuns.listRecent(seeded.token.id);
    assert.deepEqual(runs.map((r) => r.status).sort(), ['completed', 'failed']);
  });

  it('Apple 9621 marks the token expired, 9625 invalid, and neither is synced again until renewed', async () => {
    const expired = await seedToken(env);
    const sandboxToken = env.sandbox.state.tokens.get(expired.bearer);
    assert.ok(sandboxToken);
    sandboxToken.expiresAt = new Date(Date.now() - 1000);
    const engine = syncEngine(env);
    const a = await engine.syncToken(expired.token.tenantId, expired.token.id, { trigger: 'scheduled' });
    assert.equal(a.status, 'failed');
    assert.equal(a.error?.code, 'vpp_9621');
    assert.equal(a.token.state, 'expired');

    const revoked = await seedToken(env);
    env.sandbox.state.revokeToken(revoked.bearer);
    const b = await engine.syncToken(revoked.token.tenantId, revoked.token.id, { trigger: 'scheduled' });
    assert.equal(b.token.state, 'invalid');
    assert.match(b.error?.message ?? '', /revoked/);

    env.sandbox.stats.reset();
    const again = await engine.syncToken(revoked.token.tenantId, revoked.token.id, { trigger: 'manual' });
    assert.equal(again.status, 'skipped');
    assert.match(again.error?.message ?? '', /renew/);
    assert.equal(env.sandbox.stats.toJSON().requests, 0, 'Apple is not asked');

    // What a renewal does to the record: valid again, and syncing resumes.
    await env.store.tokens.update(revoked.token.tenantId, revoked.token.id, (t) => ({ ...t, state: 'valid' }));
    env.sandbox.state.tokens.get(revoked.bearer)!.revoked = false;
    assert.equal((await engine.syncToken(revoked.token.tenantId, revoked.token.id, { trigger: 'manual' })).status, 'completed');
  });

  it('marks a revoked token invalid even when the key rotation sweep re-encrypted it during the sync', async () => {
    const revoked = await seedToken(env);
    env.sandbox.state.revokeToken(revoked.bearer);
    const { tenantId, id } = revoked.token;
    // The sweep's write lands between the engine's read and its verdict: same token, new ciphertext.
    const finish = env.store.syncRuns.finish.bind(env.store.syncRuns);
    env.store.syncRuns.finish = async (...args) => {
      await env.store.tokens.update(tenantId, id, (t) => ({ ...t, encryptedToken: env.cipher.reEncrypt(heldEncryptedToken(t), tokenCipherContext(t)) }));
      return finish(...args);
    };
    try {
      const before = await env.store.tokens.get(tenantId, id);
      const outcome = await syncEngine(env).syncToken(tenantId, id, { trigger: 'scheduled' });
      assert.equal(outcome.status, 'failed');
      assert.notEqual(outcome.token.encryptedToken?.ciphertext, before?.encryptedToken?.ciphertext, 'the token was re-encrypted meanwhile');
      assert.equal(outcome.token.state, 'invalid', 'Apple\'s verdict was about this very token');
    } finally {
      env.store.syncRuns.finish = finish;
    }
  });

  it('a token taken over by another MDM stops syncing and names the other MDM', async () => {
    const seeded = await seedToken(env);
    seeded.org.mdmInfo = { id: 'contoso-mdm', name: 'Contoso MDM' };
    const engine = syncEngine(env);
    const outcome = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'external_mdm');
    assert.equal(outcome.token.state, 'assignedToExternalMDM');
    assert.equal(outcome.token.externalMdm?.name, 'Contoso MDM');
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 0);
    const skipped = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(skipped.status, 'skipped');
    assert.match(skipped.error?.message ?? '', /Contoso MDM/);
  });

  it('a token past its expiry date is marked expired without asking Apple', async () => {
    let now = new Date();
    const seeded = await seedToken(env, { expiresAt: new Date(now.getTime() + 3600_000) });
    now = new Date(now.getTime() + 2 * 3600_000);
    const outcome = await syncEngine(env, { now: () => now }).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'skipped');
    assert.equal(outcome.token.state, 'expired');
  });

  it('reports books that fell to the low-license threshold once, when they cross it', async () => {
    const seeded = await seedToken(env, { books: 2, botUsers: 1 });
    const engine = syncEngine(env, { lowLicenses: { count: 2, percent: 10 } });
    await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    const [book] = [...seeded.org.books.values()];
    assert.ok(book);
    book.assignedCount = 18;
    const low = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.deepEqual(low.lowLicenseBooks.map((b) => [b.adamId, b.available, b.total]), [[book.adamId, 2, 20]]);
    const still = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.deepEqual(still.lowLicenseBooks, [], 'not reported again while it stays low');
  });
});
