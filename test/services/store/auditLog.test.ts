import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { CONTAINER_DEFINITIONS, ensureContainers } from '../../../services/store/containers';
import { createStore } from '../../../services/store/Store';
import type { AuditEntry } from '../../../services/store/repositories/AuditLog';
import { capturingLogger } from '../../support/logCapture';
import { ADMIN, NOW, TENANT, useEmbeddedCosmos } from './fixtures';

const DAY = 86_400;

function refusal(command = 'tokens'): AuditEntry {
  return {
    tenantId: TENANT,
    actor: { aadObjectId: ADMIN.aadObjectId, displayName: ADMIN.displayName },
    action: 'access.refused',
    target: { type: 'user', id: ADMIN.aadObjectId },
    outcome: 'refused',
    details: { command, reason: 'notAdmin' },
  };
}

describe('audit retention (the audit container TTL)', () => {
  const env = useEmbeddedCosmos();
  const auditTtl = async (database: Awaited<ReturnType<typeof env.newDatabase>>): Promise<number | undefined> =>
    (await database.container(CONTAINER_DEFINITIONS.audit.id).read()).resource?.defaultTtl;

  it('creates the audit container with a 365-day TTL by default, or the configured one, or none for 0', async () => {
    const byDefault = await env.newDatabase();
    await ensureContainers(byDefault);
    assert.equal(await auditTtl(byDefault), 365 * DAY);
    const thirty = await env.newDatabase();
    await ensureContainers(thirty, { auditRetentionDays: 30 });
    assert.equal(await auditTtl(thirty), 30 * DAY);
    const forever = await env.newDatabase();
    await ensureContainers(forever, { auditRetentionDays: 0 });
    assert.equal(await auditTtl(forever), undefined);
  });

  it('applies a changed retention to an existing audit container, and leaves the other containers as they were', async () => {
    const database = await env.newDatabase();
    // As a deployment from before retention existed left it.
    await database.containers.createIfNotExists({ id: 'audit', partitionKey: { paths: ['/tenantId'] } });
    await ensureContainers(database, { auditRetentionDays: 90 });
    assert.equal(await auditTtl(database), 90 * DAY);
    await ensureContainers(database, { auditRetentionDays: 400 });
    assert.equal(await auditTtl(database), 400 * DAY);
    assert.equal((await database.container('tokens').read()).resource?.defaultTtl, undefined);
    assert.equal((await database.container('syncRuns').read()).resource?.defaultTtl, -1);
  });

  it('logs, and starts anyway, when the retention cannot be changed (data-plane role only)', async () => {
    const database = await env.newDatabase();
    await database.containers.createIfNotExists({ id: 'audit', partitionKey: { paths: ['/tenantId'] } });
    const { logger, lines } = capturingLogger('warn');
    const container = database.container('audit');
    const replace = sinon.stub(Object.getPrototypeOf(container) as { replace: () => Promise<never> }, 'replace').rejects(Object.assign(new Error('Forbidden'), { code: 403 }));
    try {
      await ensureContainers(database, { auditRetentionDays: 90, logger });
    } finally {
      replace.restore();
    }
    assert.ok(lines.some((l) => /could not set the audit retention/.test(l)), lines.join('\n'));
  });
});

describe('AuditLog.recordRepeated', () => {
  const env = useEmbeddedCosmos();

  it('one document per key and window, with the count and the last time; a new document after the window', async () => {
    let now = Date.parse(NOW);
    const store = await createStore(await env.newDatabase(), { now: () => new Date(now) });
    await store.audit.recordRepeated('k', refusal(), 600_000);
    now += 1000;
    for (let i = 0; i < 9; i++) await store.audit.recordRepeated('k', refusal(), 600_000);
    await store.audit.recordRepeated('other command', refusal('sync'), 600_000);
    let events = (await store.audit.list(TENANT, 50)).items;
    assert.equal(events.length, 2);
    const tokens = events.find((e) => e.details?.command === 'tokens');
    assert.deepEqual([tokens?.count, tokens?.timestamp, tokens?.lastTimestamp], [10, NOW, new Date(Date.parse(NOW) + 1000).toISOString()]);
    assert.equal(events.find((e) => e.details?.command === 'sync')?.count, 1);

    now = Date.parse(NOW) + 600_000;
    await store.audit.recordRepeated('k', refusal(), 600_000);
    events = (await store.audit.list(TENANT, 50)).items;
    assert.equal(events.length, 3, 'the next window has its own document');
  });

  it('coalesces a burst: 100 concurrent occurrences are one document counting 100, in far fewer writes', async () => {
    const store = await createStore(await env.newDatabase());
    const upsert = sinon.spy(store.audit.store, 'upsert');
    await Promise.all(Array.from({ length: 100 }, () => store.audit.recordRepeated('burst', refusal(), 600_000)));
    const events = (await store.audit.list(TENANT, 50)).items;
    assert.equal(events.length, 1);
    assert.equal(events[0]?.count, 100);
    assert.ok(upsert.callCount <= 3, `${upsert.callCount} writes`);
  });
});
