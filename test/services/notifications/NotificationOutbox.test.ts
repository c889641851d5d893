import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { NotificationOutbox, TEAMS_CONVERSATION_WINDOWS } from '../../../services/notifications/NotificationOutbox';
import { ProactiveSendError, type NotificationMessage, type ProactiveSender } from '../../../services/notifications/ProactiveSender';
import type { ConversationReferenceJson } from '../../../services/store/entities/conversation';
import { NotificationRepository } from '../../../services/store/repositories/NotificationRepository';
import type { Store } from '../../../services/store/Store';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { RecordingSender, addAdminChat, reference } from '../../support/syncSender';

/** The most messages in any window of `windowMs` (half-open: [t, t + windowMs)). */
function peak(times: readonly number[], windowMs: number): number {
  return Math.max(0, ...times.map((start) => times.filter((t) => t >= start && t < start + windowMs).length));
}

/** Answers each conversation with scripted failures first, and records every attempt with the (fake) clock. */
class ScriptedSender implements ProactiveSender {
  readonly attempts: Array<{ conversationId: string; at: number }> = [];
  readonly sent: Array<{ conversationId: string; text: string; at: number }> = [];
  private readonly failures = new Map<string, ProactiveSendError[]>();

  failWith(conversationId: string, ...errors: ProactiveSendError[]): this {
    this.failures.set(conversationId, [...(this.failures.get(conversationId) ?? []), ...errors]);
    return this;
  }

  async send(reference: ConversationReferenceJson, message: NotificationMessage): Promise<void> {
    const conversationId = reference.conversation.id;
    this.attempts.push({ conversationId, at: Date.now() });
    const failure = this.failures.get(conversationId)?.shift();
    if (failure) throw failure;
    this.sent.push({ conversationId, text: message.text, at: Date.now() });
  }

  to(conversationId: string) {
    return this.sent.filter((s) => s.conversationId === conversationId);
  }
}

const teamsError = (status: number, code?: string, teamsMessage?: string, retryAfterMs?: number) =>
  new ProactiveSendError(`HTTP ${status}${code ? ` ${code}` : ''}`, status, retryAfterMs, { code, teamsMessage });

describe('NotificationOutbox (Teams limits, retries, send-once)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  const recipient = (conversationId: string) => ({ tenantId: TEST_TENANT, conversationId, reference: reference(conversationId, TEST_TENANT) });
  const outboxes: NotificationOutbox[] = [];
  const outbox = (sender: ProactiveSender, options: Partial<ConstructorParameters<typeof NotificationOutbox>[0]> = {}) => {
    const created = new NotificationOutbox({ store: env.store, sender, retryBaseMs: 10, stopTimeoutMs: 200, ...options });
    outboxes.push(created);
    return created;
  };
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.stop();
  });

  describe('within Teams rate windows (fake clock)', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2030, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    });
    afterEach(() => clock.restore());

    // Sending touches the store only for a conversation Teams says is gone; these never are.
    const noStore = {} as Store;
    const send = (box: NotificationOutbox, conversationId: string, text: string) => box.send(recipient(conversationId), { text });

    it('keeps every per-conversation window (7/1 s, 8/2 s, 60/30 s), in order, without slowing other conversations', async () => {
      const sender = new ScriptedSender();
      const box = outbox(sender, { store: noStore });
      const start = Date.now();
      const results = Promise.all([
        ...Array.from({ length: 100 }, (_, i) => send(box, 'busy', `m${i}`)),
        send(box, 'quiet', 'other'),
      ]);
      await clock.tickAsync(120_000);
      assert.ok((await results).every((r) => r === 'sent'));

      const busy = sender.to('busy');
      assert.deepEqual(busy.map((m) => m.text), Array.from({ length: 100 }, (_, i) => `m${i}`), 'in order');
      const times = busy.map((m) => m.at - start);
      for (const { ms, limit } of TEAMS_CONVERSATION_WINDOWS) assert.ok(peak(times, ms) <= limit, `${peak(times, ms)} in ${ms} ms`);
      // As soon as the windows allow, no later: the 8th waits for the 1-s window, the 61st for the 30-s one.
      assert.deepEqual(times.slice(0, 8), [0, 0, 0, 0, 0, 0, 0, 1000]);
      assert.equal(times[59]! < 30_000, true);
      assert.equal(times[60], 30_000);
      assert.equal(sender.to('quiet')[0]?.at, start, 'the other conversation is not queued behind');
    });

    it('keeps the hour window: the 1801st message of an hour waits for it', async () => {
      const sender = new ScriptedSender();
      const box = outbox(sender, { store: noStore });
      const start = Date.now();
      const results = Promise.all(Array.from({ length: 1801 }, (_, i) => send(box, 'chatty', `m${i}`)));
      await clock.tickAsync(3_700_000);
      assert.ok((await results).every((r) => r === 'sent'));
      const times = sender.sent.map((m) => m.at - start);
      assert.ok(times[1799]! < 3_600_000);
      assert.equal(times[1800], 3_600_000);
      assert.ok(peak(times, 30_000) <= 60);
    });

    it('keeps 50 a second per tenant across its conversations, and other tenants apart', async () => {
      const sender = new ScriptedSender();
      const box = outbox(sender, { store: noStore });
      const start = Date.now();
      const results = Promise.all([
        ...Array.from({ length: 51 }, (_, i) => send(box, `c${i}`, 'hi')),
        box.send({ ...recipient('elsewhere'), tenantId: 'another-tenant' }, { text: 'hi' }),
      ]);
      await clock.tickAsync(5_000);
      assert.ok((await results).every((r) => r === 'sent'));
      const tenant = sender.sent.filter((s) => s.conversationId !== 'elsewhere').map((s) => s.at - start);
      assert.equal(tenant.length, 51);
      assert.ok(peak(tenant, 1000) <= 50, `${peak(tenant, 1000)} in one second`);
      assert.deepEqual(tenant.filter((t) => t === 1000).length, 1, 'the 51st waits for the next second');
      assert.equal(sender.to('elsewhere')[0]?.at, start);
    });

    it('waits as long as Retry-After says, then backs off with jitter', async () => {
      const sender = new ScriptedSender().failWith('throttled', teamsError(429, 'Throttled', 'Too many requests.', 5_000), teamsError(412, 'PreconditionFailed'));
      const box = outbox(sender, { store: noStore, retryBaseMs: 100 });
      const start = Date.now();
      const result = send(box, 'throttled', 'x');
      await clock.tickAsync(60_000);
      assert.equal(await result, 'sent');
      const attempts = sender.attempts.map((a) => a.at - start);
      assert.equal(attempts.length, 3);
      assert.equal(attempts[1], 5_000, 'Retry-After, not the shorter backoff');
      assert.ok(attempts[2]! - attempts[1]! >= 100 && attempts[2]! - attempts[1]! <= 200, 'jittered backoff of the 2nd retry');
    });

    it('stop() fails what still waits for a window instead of waiting an hour', async () => {
      const sender = new ScriptedSender();
      const box = new NotificationOutbox({ store: noStore, sender, stopTimeoutMs: 500, conversationWindows: [{ ms: 3_600_000, limit: 1 }] });
      const first = send(box, 'slow', 'a');
      const second = send(box, 'slow', 'b');
      await clock.tickAsync(0);
      const stopped = box.stop();
      assert.equal(await send(box, 'slow', 'c'), 'failed', 'nothing new after stop');
      await clock.tickAsync(500);
      await stopped;
      assert.deepEqual([await first, await second], ['sent', 'failed']);
      assert.equal(clock.countTimers(), 0, 'no timer keeps the process alive');
    });

    it('stopRetrying() fails a message waiting out a backoff at once, and still sends new ones, once each', async () => {
      const sender = new ScriptedSender().failWith('flaky', teamsError(502), teamsError(502)).failWith('later', teamsError(502));
      const box = outbox(sender, { store: noStore, retryBaseMs: 30_000, retryMaxMs: 30_000 });
      const waiting = send(box, 'flaky', 'x');
      await clock.tickAsync(0);
      assert.equal(sender.attempts.length, 1, 'the first attempt failed and a backoff of 15-30 s began');
      box.stopRetrying();
      await clock.tickAsync(0);
      assert.equal(await waiting, 'failed', 'no wait for the backoff');
      assert.equal(sender.attempts.length, 1, 'and no retry');
      assert.equal(await send(box, 'fine', 'y'), 'sent');
      const once = send(box, 'later', 'z');
      await clock.tickAsync(0);
      assert.equal(await once, 'failed');
      assert.equal(sender.attempts.filter((a) => a.conversationId === 'later').length, 1);
    });
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

  it('forgets a conversation only when Teams says the bot is gone (404, or 403 uninstalled/blocked)', async () => {
    const tenantId = '00000000-0000-0000-0000-0000000000404';
    const cases: Array<[string, ProactiveSendError, 'dropped' | 'failed']> = [
      ['not found', teamsError(404, 'ConversationNotFound', 'Conversation not found.'), 'dropped'],
      ['uninstalled', teamsError(403, 'BotNotInConversationRoster', 'The bot is not part of the conversation roster.'), 'dropped'],
      ['blocked by the user', teamsError(403, 'ConversationBlockedByUser', 'User blocked the conversation with the bot.'), 'dropped'],
      ['roster message only', teamsError(403, undefined, 'The bot is not part of the conversation roster.'), 'dropped'],
      ['writes blocked', teamsError(403, 'MessageWritesBlocked', 'Thread is blocked for writes.'), 'failed'],
      ['disabled by the tenant admin', teamsError(403, 'BotDisabledByAdmin', 'The tenant admin disabled this bot.'), 'failed'],
      ['bare 403', teamsError(403), 'failed'],
    ];
    const chats = await Promise.all(cases.map(() => addAdminChat(env.store, tenantId)));
    const kept = await addAdminChat(env.store, tenantId);
    const sender = new ScriptedSender();
    cases.forEach(([, error], i) => sender.failWith(chats[i]!.conversationId, error));
    const box = outbox(sender);
    for (const [i, [what, , expected]] of cases.entries()) {
      assert.equal(await box.send({ tenantId, conversationId: chats[i]!.conversationId, reference: reference(chats[i]!.conversationId, tenantId) }, { text: 'x' }), expected, what);
    }
    const left = new Set((await env.store.conversations.listByTenant(tenantId)).map((c) => c.conversationId));
    cases.forEach(([what, , expected], i) => assert.equal(left.has(chats[i]!.conversationId), expected === 'failed', `${what}: reference ${expected === 'failed' ? 'kept' : 'removed'}`));
    assert.ok(left.has(kept.conversationId));
    assert.equal(sender.attempts.length, cases.length, 'none of these is retried');
  });

  it('reports gone conversations of a send-once notice as dropped', async () => {
    const tenantId = '00000000-0000-0000-0000-0000000000405';
    const removed = await addAdminChat(env.store, tenantId);
    const blocked = await addAdminChat(env.store, tenantId);
    const kept = await addAdminChat(env.store, tenantId);
    const sender = new ScriptedSender().failWith(removed.conversationId, teamsError(404)).failWith(blocked.conversationId, teamsError(403, 'MessageWritesBlocked'));
    const refs = await env.store.conversations.listByTenant(tenantId);
    const report = await outbox(sender).deliverOnce({ tokenId: 'token-405', tenantId, kind: 'tokenExpiring', threshold: '30d', occurrenceKey: '2030-01-01' }, refs, { text: 'expiring' });
    assert.deepEqual(report, { sent: 1, skipped: 0, dropped: 1, failed: 1 });
    assert.deepEqual((await env.store.conversations.listByTenant(tenantId)).map((c) => c.conversationId).sort(), [blocked.conversationId, kept.conversationId].sort());
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
