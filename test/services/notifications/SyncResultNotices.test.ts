import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { noticeMessages } from '../../../cards/notificationMessages';
import { AdminRecipients } from '../../../services/notifications/AdminRecipients';
import { NotificationOutbox, type Recipient } from '../../../services/notifications/NotificationOutbox';
import { SyncResultNotices } from '../../../services/notifications/SyncResultNotices';
import { TokenNotifier } from '../../../services/notifications/TokenNotifier';
import type { SyncRequest } from '../../../services/store/entities/syncRequest';
import { SyncService } from '../../../services/sync/SyncService';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { seedToken, syncEngine, type SeededToken } from '../../support/syncFixtures';
import { RecordingSender, addAdminChat, reference } from '../../support/syncSender';

const ADMIN = { aadObjectId: '00000000-0000-0000-0000-0000000000020', displayName: 'Ada Admin' };

function chat(conversationId: string): Recipient {
  return { tenantId: TEST_TENANT, conversationId, reference: reference(conversationId, TEST_TENANT, ADMIN.aadObjectId) };
}

const cardOf = (sent: { message: { card?: Record<string, unknown> | undefined } }) => JSON.stringify(sent.message.card ?? {});

/** One bot instance: its sync service, outbox and result notices over the shared store. */
function instance(env: TestEnvironment, sender: RecordingSender, instanceId: string) {
  const outbox = new NotificationOutbox({ store: env.store, sender, instanceId, retryBaseMs: 10 });
  const sync = new SyncService({ engine: syncEngine(env), store: env.store, instanceId });
  const results = new SyncResultNotices({ store: env.store, outbox, sync, messages: noticeMessages, acknowledgeWithinMs: 60_000 });
  return { outbox, sync, results, stop: async () => (await sync.idle(), await outbox.stop()) };
}

/**
 * One bot instance as bot/application.ts wires it: admins' notices after every sync (TokenNotifier) and the
 * asking chat's result, with books counted low at 3 licenses left.
 */
function instanceWithAdminNotices(env: TestEnvironment, sender: RecordingSender, instanceId: string) {
  const outbox = new NotificationOutbox({ store: env.store, sender, instanceId, retryBaseMs: 10 });
  const notifier = new TokenNotifier({ store: env.store, outbox, recipients: new AdminRecipients({ store: env.store }), messages: noticeMessages });
  const sync = new SyncService({ engine: syncEngine(env, { lowLicenses: { count: 3, percent: 0 } }), store: env.store, instanceId, afterSync: (o) => notifier.afterSync(o) });
  const results = new SyncResultNotices({ store: env.store, outbox, sync, messages: noticeMessages, acknowledgeWithinMs: 60_000 });
  return { outbox, sync, results, stop: async () => (await sync.idle(), await outbox.stop()) };
}

const textsOf = (sent: { message: { card?: Record<string, unknown> | undefined } }) => JSON.stringify(sent.message.card?.body ?? []);

describe('sync results for the chat that asked (SyncResultNotices)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  let sender: RecordingSender;
  const running: Array<ReturnType<typeof instance>> = [];
  const start = (id: string) => {
    const made = instance(env, sender, id);
    running.push(made);
    return made;
  };
  /**
   * Every instance's syncs finished (with their result hooks) and every outbox empty: whatever a duplicate
   * would have been, it has been sent by now.
   */
  const settle = async () => {
    for (const r of running) await r.sync.idle();
    for (const r of running) await r.outbox.idle();
  };

  before(() => env.start());
  after(() => env.stop());
  beforeEach(() => {
    sender = new RecordingSender();
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    env.sandbox.faults.latencyMs = 0;
  });

  /** A request as the chat turn of a process that then died left it: acknowledged, waiting for `tokens`. */
  async function abandonedRequest(conversationId: string, tokens: SeededToken[], overrides: Partial<SyncRequest> = {}): Promise<SyncRequest> {
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    return env.store.syncRequests.create({
      id: randomUUID(),
      tenantId: TEST_TENANT,
      requestedBy: ADMIN,
      requestedDateTime: minuteAgo,
      acknowledgedDateTime: minuteAgo,
      conversationId,
      reference: chat(conversationId).reference,
      tokens: tokens.map((t) => ({ tokenId: t.token.id, tokenName: t.token.displayName })),
      waitingFor: tokens.map((t) => t.token.id),
      resumes: 0,
      ...overrides,
    });
  }

  it('posts the result once, after the chat was told the sync started, and forgets the request', async () => {
    const seeded = await seedToken(env, { name: 'Once Library', books: 4 });
    const a = start('instance-a');
    let announcedAt = 0;
    await a.results.start({ tenantId: TEST_TENANT, tokens: [seeded.token], request: { trigger: 'manual', startedBy: ADMIN }, recipient: chat('chat-once') }, async () => {
      // A slow reply: the sync finishes first, and its result still waits for the reply.
      await settle();
      assert.equal(sender.sent.length, 0, 'nothing posted before the reply');
      announcedAt = Date.now();
    });
    await sender.waitFor(1);
    assert.ok((sender.sent[0]?.at ?? 0) >= announcedAt);
    assert.match(cardOf(sender.sent[0]!), /Sync of Once Library finished/);

    // Neither a recovery sweep here nor one on another instance posts it again.
    await a.results.resume();
    await start('instance-b').results.resume();
    await settle();
    assert.equal(sender.to('chat-once').length, 1);
    assert.deepEqual(await env.store.syncRequests.listAll(), []);
  });

  it('a chat that asks while the token is already syncing gets that sync\'s result, once', async () => {
    const seeded = await seedToken(env, { name: 'Busy Library', books: 40 });
    env.sandbox.faults.latencyMs = 30;
    const a = start('instance-a');
    const request = { trigger: 'manual' as const, startedBy: ADMIN };
    const [first] = await a.results.start({ tenantId: TEST_TENANT, tokens: [seeded.token], request, recipient: chat('chat-first') }, async () => undefined);
    const [second] = await a.results.start({ tenantId: TEST_TENANT, tokens: [seeded.token], request, recipient: chat('chat-second') }, async () => undefined);
    assert.equal(first?.status, 'started');
    assert.equal(second?.status, 'alreadyRunning');
    await sender.waitFor(2);
    await settle();
    assert.equal(sender.to('chat-first').length, 1);
    assert.equal(sender.to('chat-second').length, 1);
    assert.equal((await env.store.syncRuns.listRecent(seeded.token.id)).length, 1, 'one sync answered both');
  });

  it('after a restart: the next process restarts the sync the dead one was running and posts its result once', async () => {
    const seeded = await seedToken(env, { name: 'Restart Library', books: 6 });
    // What the dead process left: its acknowledged request, its run in progress and its (expired) lease.
    await abandonedRequest('chat-restart', [seeded]);
    await env.store.syncRuns.start({
      id: randomUUID(),
      tokenId: seeded.token.id,
      tenantId: TEST_TENANT,
      trigger: 'manual',
      startedBy: ADMIN,
      startedDateTime: new Date(Date.now() - 60_000).toISOString(),
      status: 'inProgress',
      counts: { booksAdded: 0, booksUpdated: 0, booksUnchanged: 0, usersChanged: 0, assignmentsChanged: 0, writes: 0 },
    });
    await env.store.leases.acquire(`sync|${seeded.token.id}`, 'dead-instance', 1);

    const next = start('next-instance');
    await next.results.resume();
    await sender.waitFor(1);
    assert.match(cardOf(sender.sent[0]!), /Sync of Restart Library finished/);
    assert.match(cardOf(sender.sent[0]!), /6 added/);
    const [latest, interrupted] = await env.store.syncRuns.listRecent(seeded.token.id);
    assert.equal(latest?.status, 'completed');
    assert.equal(latest?.startedBy?.aadObjectId, ADMIN.aadObjectId, 'restarted on behalf of the admin who asked');
    assert.equal(interrupted?.error?.code, 'interrupted');

    await next.results.resume();
    await settle();
    assert.equal(sender.to('chat-restart').length, 1, 'once');
  });

  it('a sync another instance finishes (a scheduled sweep) answers the request, once', async () => {
    const seeded = await seedToken(env, { name: 'Elsewhere Library', books: 3 });
    await abandonedRequest('chat-elsewhere', [seeded]);
    const other = start('other-instance');
    await other.sync.syncAll('scheduled');
    await sender.waitFor(1);
    assert.match(cardOf(sender.sent[0]!), /Sync of Elsewhere Library finished/);
    await start('third-instance').results.resume();
    await settle();
    assert.equal(sender.to('chat-elsewhere').length, 1);
  });

  it('several tokens: one summary when the last one finishes; a token removed meanwhile is reported, not waited for', async () => {
    const one = await seedToken(env, { name: 'Summary One', books: 2 });
    const two = await seedToken(env, { name: 'Summary Two', books: 2 });
    const gone = await seedToken(env, { name: 'Summary Gone', books: 2 });
    await abandonedRequest('chat-summary', [one, two, gone]);
    await env.tokens.remove({ tenantId: TEST_TENANT, aadObjectId: ADMIN.aadObjectId }, gone.token.id);
    const next = start('next-instance');
    await next.results.resume();
    await sender.waitFor(1);
    const [summary] = sender.to('chat-summary');
    assert.match(summary?.message.text ?? '', /Sync of 3 tokens finished: 2 completed, 1 failed/);
    assert.match(cardOf(summary!), /was removed before its sync finished/);
    await settle();
    assert.equal(sender.to('chat-summary').length, 1);
  });

  it('gives up after restarting a request\'s sync a few times, and says so', async () => {
    const seeded = await seedToken(env, { name: 'Unlucky Library', books: 2 });
    await abandonedRequest('chat-unlucky', [seeded], { resumes: 3 });
    await start('next-instance').results.resume();
    await sender.waitFor(1);
    assert.match(sender.to('chat-unlucky')[0]?.message.text ?? '', /Sync of Unlucky Library failed: The sync of "Unlucky Library" was interrupted 4 times/);
    assert.equal((await env.store.syncRuns.listRecent(seeded.token.id)).length, 0, 'no fourth restart');
  });

  it('leaves a request alone while the chat turn that opened it has not answered yet', async () => {
    const seeded = await seedToken(env, { name: 'Fresh Library', books: 2 });
    await abandonedRequest('chat-fresh', [seeded], { requestedDateTime: new Date().toISOString(), acknowledgedDateTime: undefined });
    await start('next-instance').results.resume();
    await settle();
    assert.equal((await env.store.syncRuns.listRecent(seeded.token.id)).length, 0, 'not restarted');
    assert.equal(sender.sent.length, 0);
  });
  describe('books running low', () => {
    /** A tenant of its own with an admin's chat: the admins' notices go there, the asking chat is another. */
    async function lowBookToken(name: string) {
      const tenantId = randomUUID();
      const admin = await addAdminChat(env.store, tenantId);
      const seeded = await seedToken(env, { tenantId, name, books: 2, licenses: 20 });
      const [book] = [...seeded.org.books.values()];
      assert.ok(book);
      book.assignedCount = 18;
      const asking: Recipient = { tenantId, conversationId: `chat-${name}`, reference: reference(`chat-${name}`, tenantId, ADMIN.aadObjectId) };
      return { tenantId, seeded, admin, asking, title: book.title };
    }

    it('a sync an admin asked for tells them in its result card, with no separate notice before it', async () => {
      const { tenantId, seeded, admin, asking, title } = await lowBookToken('Manual Low');
      const a = instanceWithAdminNotices(env, sender, 'instance-low-manual');
      running.push(a);
      await a.results.start({ tenantId, tokens: [seeded.token], request: { trigger: 'manual', startedBy: ADMIN }, recipient: asking }, async () => undefined);
      await sender.waitFor(1);
      await a.sync.idle();
      await a.outbox.idle();
      assert.equal(sender.sent.length, 1, 'one message: the result');
      assert.equal(sender.to(admin.conversationId).length, 0, 'no low-license notice to the admins');
      const [resultCard] = sender.to(asking.conversationId);
      assert.ok(resultCard);
      assert.match(textsOf(resultCard), /Sync of Manual Low finished/);
      assert.match(textsOf(resultCard), /Running low on licenses/);
      assert.ok(textsOf(resultCard).includes(`${title}: 2 of 20 left`));
      assert.match(resultCard.message.text, /Running low on licenses: .*2 of 20 left/);
    });

    it('a scheduled sync, which answers nobody, sends the admins a notice of its own', async () => {
      const { tenantId, seeded, admin, title } = await lowBookToken('Scheduled Low');
      const a = instanceWithAdminNotices(env, sender, 'instance-low-scheduled');
      running.push(a);
      const started = await a.sync.startToken(tenantId, seeded.token.id, { trigger: 'scheduled' });
      assert.ok(started.status === 'started', started.status);
      await started.done;
      await a.outbox.idle();
      const notices = sender.to(admin.conversationId);
      assert.equal(notices.length, 1);
      assert.match(textsOf(notices[0]!), /Books running low on licenses/);
      assert.ok(textsOf(notices[0]!).includes(`"title":"${title}","value":"2 of 20 left"`));
      assert.equal(sender.sent.length, 1, 'and no result card: nobody asked');
    });
  });

  it("the result card charts the token's recent syncs, this one included", async () => {
    const seeded = await seedToken(env, { name: 'History Library', books: 3 });
    const a = start('instance-history');
    for (let i = 1; i <= 2; i++) {
      await a.results.start({ tenantId: TEST_TENANT, tokens: [seeded.token], request: { trigger: 'manual', startedBy: ADMIN }, recipient: chat('chat-history') }, async () => undefined);
      await sender.waitFor(i);
      await settle();
    }
    const [first, second] = sender.to('chat-history');
    assert.ok(!cardOf(first!).includes('Chart.VerticalBar'), 'one sync is no history yet');
    const bars = (JSON.parse(cardOf(second!)) as { body: Array<Record<string, unknown>> }).body.flatMap((e) => (e.type === 'Container' ? (e.items as Array<Record<string, unknown>>) : [e])).filter((e) => e.type === 'Chart.VerticalBar');
    assert.equal(bars.length, 2);
    assert.equal((bars[0]?.data as unknown[]).length, 2, 'both syncs, oldest first');
  });
});
