import { strict as assert } from 'node:assert';
import { TestEnvironment } from '../../support/TestEnvironment';
import { seedToken, syncEngine } from '../../support/syncFixtures';
import { SyncService } from '../../../services/sync/SyncService';
import type { SyncProgress } from '../../../services/sync/types';

describe('SyncService (leases, background runs)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());
  afterEach(() => {
    env.sandbox.faults.clear();
    env.sandbox.faults.latencyMs = 0;
  });

  it('returns at once, reports progress, and says "already running" instead of starting twice', async () => {
    const seeded = await seedToken(env, { books: 60 });
    const service = new SyncService({ engine: syncEngine(env), store: env.store });
    env.sandbox.faults.latencyMs = 30;
    const progress: SyncProgress[] = [];
    const started = await service.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual', onProgress: (p) => progress.push(p) });
    assert.equal(started.status, 'started');
    assert.ok(service.isRunning(seeded.token.id));
    const again = await service.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(again.status, 'alreadyRunning');
    assert.ok(started.status === 'started');
    const outcome = await started.done;
    assert.equal(outcome.status, 'completed');
    assert.ok(progress.some((p) => p.phase === 'books' && p.done === 60));
    assert.equal(service.isRunning(seeded.token.id), false);
    assert.equal(await env.store.leases.get(`sync|${seeded.token.id}`), undefined, 'lease released');
  });

  it("reads a token's finished syncs back as its history, oldest first, at most as many as asked", async () => {
    const seeded = await seedToken(env, { books: 3 });
    const service = new SyncService({ engine: syncEngine(env), store: env.store });
    const changed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = await service.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
      assert.ok(started.status === 'started', started.status);
      const { changes: c } = await started.done;
      changed.push(c.booksAdded + c.booksUpdated + c.usersChanged + c.assignmentsChanged);
    }
    const history = await service.history(seeded.token.id);
    assert.equal(history.length, 3);
    assert.ok((changed[0] ?? 0) >= 3, 'the first sync added the three books');
    assert.deepEqual(history.map((h) => h.changes), changed, 'each sync with what it changed, in the order they ran');
    assert.ok(history.every((h) => h.status === 'completed' && h.durationMs >= 0));
    const times = history.map((h) => Date.parse(h.startedDateTime));
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.deepEqual(await service.history(seeded.token.id, 2), history.slice(1), 'the newest two');
  });

  it('two instances racing for one token: exactly one syncs', async () => {
    const seeded = await seedToken(env, { books: 30 });
    env.sandbox.faults.latencyMs = 20;
    const a = new SyncService({ engine: syncEngine(env), store: env.store, instanceId: 'instance-a' });
    const b = new SyncService({ engine: syncEngine(env), store: env.store, instanceId: 'instance-b' });
    const results = await Promise.all([
      a.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' }),
      b.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['alreadyRunning', 'started']);
    await Promise.all([a.idle(), b.idle()]);
    assert.equal((await env.store.syncRuns.listRecent(seeded.token.id)).length, 1);
  });

  it('takes over the lease of a crashed instance once it expires', async () => {
    const seeded = await seedToken(env);
    await env.store.leases.acquire(`sync|${seeded.token.id}`, 'crashed-instance', 300);
    const service = new SyncService({ engine: syncEngine(env), store: env.store, instanceId: 'survivor' });
    assert.equal((await service.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' })).status, 'alreadyRunning');
    await new Promise((r) => setTimeout(r, 350));
    const started = await service.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(started.status, 'started');
    await service.idle();
  });

  it('stops a run whose lease another instance took, before it writes', async () => {
    const seeded = await seedToken(env, { books: 60 });
    env.sandbox.faults.latencyMs = 40;
    const service = new SyncService({ engine: syncEngine(env), store: env.store, instanceId: 'slow', leaseMs: 150 });
    const started = await service.startToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.ok(started.status === 'started');
    // Another instance overwrites the lease (as after a long GC pause made ours expire).
    const lease = await env.store.leases.store.read(`sync|${seeded.token.id}`, `sync|${seeded.token.id}`);
    assert.ok(lease);
    await env.store.leases.store.tryReplace({ ...lease.value, owner: 'other', expiresAt: new Date(Date.now() + 60_000).toISOString() }, lease.etag);
    const outcome = await started.done;
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'lease_lost');
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 0);
  });

  it('starts each token of a tenant asked for, and the scheduled sweep skips tokens synced moments ago and blocked ones', async () => {
    const tenantId = '00000000-0000-0000-0000-00000000abcd';
    const one = await seedToken(env, { tenantId, books: 2 });
    const two = await seedToken(env, { tenantId, books: 2 });
    const blocked = await seedToken(env, { tenantId });
    await env.store.tokens.update(tenantId, blocked.token.id, (t) => ({ ...t, state: 'expired' }));
    const service = new SyncService({ engine: syncEngine(env), store: env.store });
    const results = [];
    for (const seeded of [one, two, blocked]) results.push(await service.startToken(tenantId, seeded.token.id, { trigger: 'manual' }));
    assert.deepEqual(results.map((r) => r.status).sort(), ['notSyncable', 'started', 'started']);
    await service.idle();
    const sweep = await service.syncAll('scheduled');
    assert.ok(!sweep.some((o) => [one.token.id, two.token.id, blocked.token.id].includes(o.tokenId)), 'just synced or blocked: skipped');
  });
});
