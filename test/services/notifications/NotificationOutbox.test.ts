import { strict as assert } from 'node:assert';
import { NotificationOutbox } from '../../../services/notifications/NotificationOutbox';
import { NotificationRepository } from '../../../services/store/repositories/NotificationRepository';
import type { Store } from '../../../services/store/Store';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { RecordingSender, addAdminChat, reference } from '../../support/syncSender';

/** The most messages in any one-second window. */
function peakPerSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i] ?? 0;
    peak = Math.max(peak, sorted.filter((t) => t >= start && t < start + 1000).length);
  }
  return peak;
}

describe('NotificationOutbox (Teams limits, retries, send-once)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  const recipient = (conversationId: string) => ({ tenantId: TEST_TENANT, conversationId, reference: reference(conversationId, TEST_TENANT) });
  const outboxes: NotificationOutbox[] = [];
  const outbox = (sender: RecordingSender, options: Partial<ConstructorParameters<typeof NotificationOutbox>[0]> = {}) => {
    const created = new NotificationOutbox({ store: env.store, sender, retryBaseMs: 10, stopTimeoutMs: 200, ...options });
    outboxes.push(created);
    return created;
  };
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.stop();
  });

  it('sends at most 7 messages a second into one conversation, without slowing other conversations', async () => {
    const sender = new RecordingSender();
    const box = outbox(sender);
    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: 15 }, (_, i) => box.send(recipient('busy'), { text: `m${i}` })),
      box.send(recipient('quiet'), { text: 'other' }),
    ]);
    const busy = sender.to('busy');
    assert.equal(busy.length, 15);
    assert.deepEqual(busy.map((m) => m.message.text), Array.from({ length: 15 }, (_, i) => `m${i}`), 'in order');
    assert.ok(peakPerSecond(busy.map((m) => m.at)) <= 7, `peak ${peakPerSecond(busy.map((m) => m.at))}/s`);
    assert.ok(Date.now() - started >= 1900);
    assert.ok((sender.to('quiet')[0]?.at ?? Infinity) - started < 500, 'the other conversation is not queued behind');
  });

  it('keeps a tenant within its per-tenant rate across conversations', async () => {
    const sender = new RecordingSender();
    const box = outbox(sender, { perTenantPerSecond: 5 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => box.send(recipient(`c${i}`), { text: 'hi' })));
    assert.equal(sender.sent.length, 10);
    const peak = peakPerSecond(sender.sent.map((m) => m.at));
    assert.ok(peak <= 5, `peak ${peak}/s`);
  });

  it('retries 429, 412, 502 and 504 with backoff, and gives up on other errors', async () => {
    const sender = new RecordingSender().failWith('flaky', 429, 412, 502, 504).failWith('broken', 400);
    const box = outbox(sender);
    assert.equal(await box.send(recipient('flaky'), { text: 'x' }), 'sent');
    assert.equal(sender.attempts.filter((c) => c === 'flaky').length, 5);
    assert.equal(await box.send(recipient('broken'), { text: 'x' }), 'failed');
    assert.equal(sender.attempts.filter((c) => c === 'broken').length, 1);
    const giveUp = outbox(new RecordingSender().failWith('down', 502, 502, 502), { maxAttempts: 3 });
    assert.equal(await giveUp.send(recipient('down'), { text: 'x' }), 'failed');
  });

  it('forgets a conversation that answers 403 or 404', async () => {
    const tenantId = '00000000-0000-0000-0000-0000000000404';
    const removed = await addAdminChat(env.store, tenantId);
    const gone = await addAdminChat(env.store, tenantId);
    const kept = await addAdminChat(env.store, tenantId);
    const sender = new RecordingSender().failWith(removed.conversationId, 403).failWith(gone.conversationId, 404);
    const box = outbox(sender);
    const refs = await env.store.conversations.listByTenant(tenantId);
    const report = await box.deliverOnce({ tokenId: 'token-404', tenantId, kind: 'tokenExpiring', threshold: '30d', occurrenceKey: '2030-01-01' }, refs, { text: 'expiring' });
    assert.deepEqual(report, { sent: 1, skipped: 0, dropped: 2, failed: 0 });
    assert.deepEqual((await env.store.conversations.listByTenant(tenantId)).map((c) => c.conversationId), [kept.conversationId]);
  });

  it('two instances delivering the same notice reach each admin once', async () => {
    const tenantId = '00000000-0000-0000-0000-0000000000777';
    const admins = await Promise.all([1, 2, 3].map(() => addAdminChat(env.store, tenantId)));
    const refs = await env.store.conversations.listByTenant(tenantId);
    const sender = new RecordingSender();
    const notice = { tokenId: 'token-777', tenantId, kind: 'tokenExpiring' as const, threshold: '7d', occurrenceKey: '2030-01-01' };
    const reports = await Promise.all([outbox(sender).deliverOnce(notice, refs, { text: 'a' }), outbox(sender).deliverOnce(notice, refs, { text: 'a' })]);
    assert.equal(sender.sent.length, 3);
    assert.deepEqual(sender.sent.map((s) => s.conversationId).sort(), admins.map((a) => a.conversationId).sort());
    assert.equal(reports[0]!.sent + reports[1]!.sent, 3);
    assert.equal(reports[0]!.skipped + reports[1]!.skipped, 3);
  });

  it('after a crash mid-delivery, a restarted outbox sends only what was not sent', async () => {
    const tenantId = '00000000-0000-0000-0000-0000000000888';
    const first = await addAdminChat(env.store, tenantId);
    const second = await addAdminChat(env.store, tenantId);
    const refs = await env.store.conversations.listByTenant(tenantId);
    const notice = { tokenId: 'token-888', tenantId, kind: 'tokenExpired' as const, threshold: 'expired', occurrenceKey: '2030-01-01' };

    const crashing = new RecordingSender();
    crashing.hang.add(second.conversationId);
    void outbox(crashing).deliverOnce(notice, refs, { text: 'expired' });
    await crashing.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(crashing.sent.map((s) => s.conversationId), [first.conversationId]);

    // Restarted at once: the unfinished claim is still fresh, so nothing is sent twice or raced.
    const restarted = new RecordingSender();
    assert.deepEqual(await outbox(restarted).deliverOnce(notice, refs, { text: 'expired' }), { sent: 0, skipped: 2, dropped: 0, failed: 0 });

    // Later, the abandoned claim is taken over and only the admin who never got it is sent the notice.
    const later = new Date(Date.now() + 20 * 60_000);
    const store: Store = { ...env.store, notifications: new NotificationRepository(env.store.containers.notifications, { now: () => later }) };
    const report = await outbox(restarted, { store }).deliverOnce(notice, refs, { text: 'expired' });
    assert.deepEqual(report, { sent: 1, skipped: 1, dropped: 0, failed: 0 });
    assert.deepEqual(restarted.sent.map((s) => s.conversationId), [second.conversationId]);
    const docs = await env.store.notifications.listByToken('token-888');
    assert.deepEqual(docs.map((d) => d.state), ['sent', 'sent']);
  });
});
