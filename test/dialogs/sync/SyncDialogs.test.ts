import { strict as assert } from 'node:assert';
import { ActivityTypes, TestAdapter, type Activity } from 'botbuilder';
import { noticeMessages } from '../../../cards/notificationMessages';
import { AccessGuard } from '../../../dialogs/AccessGuard';
import { GROUP_CHAT_READ_ONLY_MESSAGE, MainDialog } from '../../../dialogs/MainDialog';
import { BookStatusDialog } from '../../../dialogs/assign/BookStatusDialog';
import { syncFlows } from '../../../dialogs/sync/syncFlows';
import type { SyncDialogOptions } from '../../../dialogs/sync/SyncDialog';
import { BookStatusService } from '../../../services/assignments/BookStatusService';
import { AdminPolicy } from '../../../services/auth/AdminPolicy';
import { silentLogger } from '../../../services/logging/logger';
import { NotificationOutbox } from '../../../services/notifications/NotificationOutbox';
import { SyncResultNotices } from '../../../services/notifications/SyncResultNotices';
import { AssignmentRunRepository } from '../../../services/store/repositories/AssignmentRunRepository';
import { SyncService } from '../../../services/sync/SyncService';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { seedToken, syncEngine } from '../../support/syncFixtures';
import { RecordingSender } from '../../support/syncSender';
import { dialogBot } from '../../support/dialogBot';

const ADMIN = '00000000-0000-0000-0000-0000000000020';

function textOf(activity: Partial<Activity>): string {
  return String(activity.text ?? '');
}

function cardJson(value: { card?: Record<string, unknown> | undefined } | Partial<Activity>): string {
  if ('card' in value) return JSON.stringify(value.card ?? {});
  return JSON.stringify((value as Partial<Activity>).attachments?.[0]?.content ?? {});
}

describe('sync and status dialogs (test adapter, sandbox, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  let sender: RecordingSender;
  let outbox: NotificationOutbox;
  let service: SyncService;
  let results: SyncResultNotices;

  before(() => env.start());
  after(() => env.stop());
  beforeEach(() => {
    sender = new RecordingSender();
    outbox = new NotificationOutbox({ store: env.store, sender, retryBaseMs: 10 });
    service = new SyncService({ engine: syncEngine(env), store: env.store });
    results = new SyncResultNotices({ store: env.store, outbox, sync: service, messages: noticeMessages });
  });
  afterEach(async () => {
    await service.idle();
    await outbox.stop();
    env.sandbox.faults.clear();
    env.sandbox.faults.latencyMs = 0;
    for (const token of await env.tokens.listTokens(TEST_TENANT)) await env.tokens.remove({ tenantId: TEST_TENANT, aadObjectId: ADMIN }, token.id);
  });

  /** Syncs finished (results recorded) and the outbox empty: a late duplicate would have been sent by now. */
  async function quiet(): Promise<void> {
    await service.idle();
    await outbox.idle();
  }

  function adapter(progress: SyncDialogOptions = {}, conversationType = 'personal'): TestAdapter {
    const policy = new AdminPolicy({ tenantId: TEST_TENANT, adminUserIds: [ADMIN] });
    const bookStatus = new BookStatusDialog(new BookStatusService(env.store, new AssignmentRunRepository(env.store.containers.assignments), () => Promise.reject(new Error('this test has no directory'))));
    const flows = syncFlows({ tokens: env.tokens, poster: outbox, results, history: service, progress, bookStatus, backend: 'apple' });
    const bot = dialogBot(new MainDialog(flows, new AccessGuard(policy, env.store.audit, silentLogger(), async () => false)));
    return new TestAdapter((context) => bot.run(context), {
      channelId: 'msteams',
      from: { id: 'user-1', name: 'Alex Wilber', aadObjectId: ADMIN },
      conversation: { id: 'conv-sync', isGroup: conversationType !== 'personal', conversationType, tenantId: TEST_TENANT, name: 'chat' },
    });
  }

  it('"sync <name>" answers at once, and the result card arrives in the same conversation', async () => {
    const seeded = await seedToken(env, { name: 'Northwind Sync', books: 12 });
    await adapter()
      .send('sync northwind sync')
      .assertReply((r) => assert.match(textOf(r), /^Sync started for \*\*Northwind Sync\*\*\.[\s\S]*post the result here/));
    await sender.waitFor(1);
    const [result] = sender.sent;
    assert.equal(result?.conversationId, 'conv-sync');
    const card = cardJson(result!.message);
    assert.ok(card.includes('Sync of Northwind Sync finished'));
    assert.ok(card.includes('"value":"12"'), 'books as a string fact');
    assert.ok(card.includes('240 total, 0 used, 240 available'));
    const [run] = await env.store.syncRuns.listRecent(seeded.token.id);
    assert.equal(run?.startedBy?.aadObjectId, ADMIN);
    assert.equal(run?.trigger, 'manual');
    await results.resume();
    await quiet();
    assert.equal(sender.sent.length, 1, 'posted once, also after a recovery sweep');
  });

  it('the tokens card\'s Sync now button starts that token; a second request while it runs is reported, not started, and told the result too', async () => {
    const seeded = await seedToken(env, { name: 'Slow Library', books: 60 });
    env.sandbox.faults.latencyMs = 40;
    const chat = adapter({ progressAfterMs: 0, progressEveryMs: 60_000 }, 'channel');
    await chat
      .send({ type: ActivityTypes.Message, value: { command: 'sync', tokenId: seeded.token.id } })
      .assertReply((r) => assert.match(textOf(r), /Sync started for \*\*Slow Library\*\*/))
      .send('sync Slow Library')
      .assertReply((r) => assert.match(textOf(r), /already running; I did not start another/));
    await sender.waitFor(3);
    assert.match(sender.sent[0]?.message.text ?? '', /^Still syncing \*\*Slow Library\*\*/);
    assert.ok(cardJson(sender.sent[1]!.message).includes('Sync of Slow Library finished'));
    assert.ok(cardJson(sender.sent[2]!.message).includes('Sync of Slow Library finished'), 'the second request gets the running sync\'s result');
    await quiet();
    assert.equal(sender.sent.length, 3, 'one result per request, no more');
    assert.equal((await env.store.syncRuns.listRecent(seeded.token.id)).length, 1);
  });

  it('refuses to start a sync from a group chat, where the bot is read-only', async () => {
    await adapter({}, 'groupChat')
      .send('sync all')
      .assertReply((r) => assert.equal(r.text, GROUP_CHAT_READ_ONLY_MESSAGE));
  });

  it('"sync all" syncs every token and posts one summary; a name matching nothing is refused', async () => {
    await seedToken(env, { name: 'Alpha School', books: 2 });
    const expired = await seedToken(env, { name: 'Beta School', books: 2 });
    await env.store.tokens.update(TEST_TENANT, expired.token.id, (t) => ({ ...t, state: 'expired' }));
    await seedToken(env, { name: 'Gamma School', books: 2 });
    await adapter()
      .send('sync all')
      .assertReply((r) => {
        const text = textOf(r);
        assert.match(text, /Sync started for \*\*Alpha School\*\*/);
        assert.match(text, /Sync started for \*\*Gamma School\*\*/);
        assert.match(text, /"Beta School" has expired, so it is not synced/);
      })
      .send('sync Nowhere')
      .assertReply((r) => assert.match(textOf(r), /No token matches "Nowhere"/));
    await sender.waitFor(1);
    assert.match(sender.sent[0]?.message.text ?? '', /Sync of 2 tokens finished: 2 completed, 0 failed/);
  });

  it('"status" shows each token as healthy, warning or unhealthy; a book title gets that book\'s assignment status', async () => {
    const healthy = await seedToken(env, { name: 'Healthy Org', books: 3 });
    await service.startToken(TEST_TENANT, healthy.token.id, { trigger: 'manual' });
    await service.idle();
    await seedToken(env, { name: 'Soon Org', expiresAt: new Date(Date.now() + 5 * 24 * 3600 * 1000) });
    const stale = await seedToken(env, { name: 'Stale Org' });
    await env.store.tokens.update(TEST_TENANT, stale.token.id, (t) => ({ ...t, state: 'invalid', lastSyncDateTime: new Date(Date.now() - 4 * 24 * 3600 * 1000).toISOString() }));
    await adapter()
      .send('status')
      .assertReply((r) => {
        const card = cardJson(r);
        assert.ok(card.includes('Token health (3)'));
        assert.ok(card.includes('1 healthy, 1 warning, 1 unhealthy'));
        assert.ok(card.includes('Healthy Org: Healthy'));
        assert.ok(card.includes('Soon Org: Warning'));
        assert.ok(card.includes('The token expires in 4 days') || card.includes('The token expires in 5 days'));
        assert.ok(card.includes('Stale Org: Unhealthy'));
        assert.ok(card.includes('Last successful sync 4 days ago'));
        assert.ok(card.includes('"value":"3"'), 'book count');
      })
      .send('status Soon Org')
      .assertReply((r) => {
        assert.ok(cardJson(r).includes('Token health (1)'));
        assert.ok(!cardJson(r).includes('Chart.VerticalBar'), 'a token never synced has no history to chart');
      })
      .send('status Healthy Org Book 2')
      .assertReply((r) => assert.ok(cardJson(r).includes('Assignment status: Healthy Org Book 2')))
      .send('status The Picture of Dorian Gray')
      .assertReply('No book matches "The Picture of Dorian Gray". Type **books** to browse them.');
  });
  it("\"status\" of one token, and a card's Token status button, chart its licenses and its recent syncs", async () => {
    const seeded = await seedToken(env, { name: 'Charted Org', books: 4 });
    const other = await seedToken(env, { name: 'Other Org', books: 1 });
    await service.startToken(TEST_TENANT, other.token.id, { trigger: 'scheduled' });
    for (let i = 0; i < 3; i++) {
      await service.startToken(TEST_TENANT, seeded.token.id, { trigger: 'scheduled' });
      await service.idle();
    }
    const charts = (activity: Partial<Activity>) => {
      const card = (activity.attachments?.[0]?.content ?? {}) as { body?: unknown };
      const found: Array<Record<string, unknown>> = [];
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          const element = node as Record<string, unknown>;
          if (String(element.type).startsWith('Chart.')) found.push(element);
          Object.values(element).forEach(walk);
        }
      };
      walk(card.body);
      return found;
    };
    await adapter()
      .send({ type: ActivityTypes.Message, value: { command: 'status', tokenId: seeded.token.id } })
      .assertReply((r) => {
        assert.ok(cardJson(r).includes('Token health (1)'), 'only the token on the button');
        const found = charts(r);
        assert.deepEqual(found.map((c) => c.type), ['Chart.Gauge', 'Chart.VerticalBar', 'Chart.VerticalBar']);
        assert.deepEqual([found[0]?.value, found[0]?.max], [0, 80], 'licenses used of all the token holds');
        assert.equal((found[1]?.data as unknown[]).length, 3, 'its three syncs');
        assert.match(String((found[1]?.fallback as { text?: string }).text), /^Duration of the last 3 syncs, oldest first/);
      })
      .send('status')
      .assertReply((r) => {
        assert.ok(cardJson(r).includes('Token health (2)'));
        assert.deepEqual(charts(r).map((c) => c.type), ['Chart.Gauge', 'Chart.Gauge'], 'several tokens: their gauges, no histories');
      });
  });
});
