import { strict as assert } from 'node:assert';
import { ConfigError } from '../../../services/errors';
import { SyncScheduler } from '../../../services/sync/SyncScheduler';
import { SyncService } from '../../../services/sync/SyncService';
import { TestEnvironment } from '../../support/TestEnvironment';
import { seedToken, syncEngine } from '../../support/syncFixtures';

describe('SyncScheduler (node-cron)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  it('refuses an invalid cron expression naming the setting', () => {
    const sync = new SyncService({ engine: syncEngine(env), store: env.store });
    assert.throws(() => new SyncScheduler({ sync, store: env.store, cron: 'twice a day' }), (err: unknown) => err instanceof ConfigError && /SYNC_CRON "twice a day"/.test(err.message));
  });

  it('syncs on schedule (every second here), in the given time zone, and skips a run that would overlap', async () => {
    const seeded = await seedToken(env, { books: 40 });
    env.sandbox.faults.latencyMs = 15;
    const sync = new SyncService({ engine: syncEngine(env), store: env.store, minScheduledIntervalMs: 0 });
    let sweeps = 0;
    const scheduler = new SyncScheduler({ sync, store: env.store, cron: '* * * * * *', timeZone: 'Europe/Paris', notices: { sweep: async () => void sweeps++ }, checkOnStart: true });
    scheduler.start();
    try {
      const [first, overlapping] = await Promise.all([scheduler.runSync(), scheduler.runSync()]);
      assert.ok(first && first.length >= 1);
      assert.equal(overlapping, undefined, 'skipped while the first runs');
      const deadline = Date.now() + 5000;
      while ((await env.store.syncRuns.listRecent(seeded.token.id)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok((await env.store.syncRuns.listRecent(seeded.token.id)).length >= 2, 'the cron tick ran a sync too');
      assert.equal(sweeps, 1, 'expiry check once at start');
    } finally {
      await scheduler.stop();
      env.sandbox.faults.latencyMs = 0;
    }
  });

  it('runs the expiry check on one instance at a time', async () => {
    const sync = new SyncService({ engine: syncEngine(env), store: env.store });
    let sweeps = 0;
    const slowSweep = { sweep: () => new Promise<void>((r) => setTimeout(() => (sweeps++, r()), 200)) };
    const a = new SyncScheduler({ sync, store: env.store, notices: slowSweep, instanceId: 'a' });
    const b = new SyncScheduler({ sync, store: env.store, notices: slowSweep, instanceId: 'b' });
    const ran = await Promise.all([a.runExpiryCheck(), b.runExpiryCheck()]);
    assert.deepEqual(ran.sort(), [false, true]);
    assert.equal(sweeps, 1);
  });
});
