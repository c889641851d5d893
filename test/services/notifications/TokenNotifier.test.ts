import { strict as assert } from 'node:assert';
import { noticeMessages } from '../../../cards/notificationMessages';
import { AdminRecipients } from '../../../services/notifications/AdminRecipients';
import { NotificationOutbox } from '../../../services/notifications/NotificationOutbox';
import { TokenNotifier, planTokenNotices } from '../../../services/notifications/TokenNotifier';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { SyncService } from '../../../services/sync/SyncService';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { seedToken, syncEngine } from '../../support/syncFixtures';
import { RecordingSender, addAdminChat } from '../../support/syncSender';

const DAY = 24 * 3600 * 1000;
const EXPIRY = '2031-03-01T12:00:00.000Z';

function tokenAt(overrides: Partial<VppToken> = {}): VppToken {
  return {
    id: 'tok-1',
    tenantId: TEST_TENANT,
    displayName: 'Northwind',
    organizationName: 'Northwind',
    accountType: 'business',
    locationName: 'Main',
    expirationDateTime: EXPIRY,
    state: 'valid',
    lastSyncStatus: 'completed',
    consecutiveSyncFailures: 0,
    encryptedToken: { keyId: 'k', iv: 'aaaa', ciphertext: 'bbbb', authTag: 'cccc' },
    createdBy: { aadObjectId: 'x' },
    createdDateTime: '2030-01-01T00:00:00.000Z',
    lastModifiedDateTime: '2030-01-01T00:00:00.000Z',
    ...overrides,
  };
}

const daysBefore = (days: number) => new Date(Date.parse(EXPIRY) - days * DAY);

describe('token notices', function () {
  this.timeout(30_000);

  describe('planTokenNotices (what a token\'s state calls for)', () => {
    it('warns at the tightest expiry threshold reached, then on expiry', () => {
      const plan = (days: number) => planTokenNotices(tokenAt(), daysBefore(days), noticeMessages).map((n) => `${n.key.kind}:${n.key.threshold}`);
      assert.deepEqual(plan(45), []);
      assert.deepEqual(plan(30.5), ['tokenExpiring:30d']);
      assert.deepEqual(plan(20), ['tokenExpiring:30d']);
      assert.deepEqual(plan(14), ['tokenExpiring:14d']);
      assert.deepEqual(plan(5), ['tokenExpiring:7d']);
      assert.deepEqual(plan(1.5), ['tokenExpiring:1d']);
      assert.deepEqual(plan(0.2), ['tokenExpiring:1d']);
      assert.deepEqual(plan(-0.1), ['tokenExpired:expired']);
      assert.equal(planTokenNotices(tokenAt(), daysBefore(10), noticeMessages)[0]?.key.occurrenceKey, EXPIRY, 'keyed by the expiry date, so a renewed token warns again');
    });

    it('notifies sync failures up to the third, which is an escalation, and a takeover without a duplicate failure notice', () => {
      const failing = (n: number) =>
        planTokenNotices(tokenAt({ lastSyncStatus: 'failed', consecutiveSyncFailures: n, lastError: { code: 'vpp_9603', message: 'Apple had an internal error.', occurredDateTime: `2030-06-0${n}T00:00:00.000Z` } }), daysBefore(100), noticeMessages);
      assert.deepEqual(failing(1).map((n) => n.key.threshold), ['failure']);
      assert.deepEqual(failing(2).map((n) => n.key.threshold), ['failure']);
      assert.deepEqual(failing(3).map((n) => n.key.threshold), ['escalation']);
      assert.match(failing(3)[0]?.message.text ?? '', /last 3 syncs.*Apple had an internal error/);
      assert.deepEqual(failing(4), [], 'quiet after the escalation until a sync succeeds');
      const takenOver = planTokenNotices(
        tokenAt({ state: 'assignedToExternalMDM', externalMdm: { id: 'c', name: 'Contoso MDM' }, lastSyncStatus: 'failed', consecutiveSyncFailures: 1, lastError: { code: 'external_mdm', message: 'x', occurredDateTime: '2030-06-01T00:00:00.000Z' } }),
        daysBefore(100),
        noticeMessages,
      );
      assert.deepEqual(takenOver.map((n) => n.key.kind), ['externalMdm']);
      assert.match(takenOver[0]?.message.text ?? '', /Contoso MDM/);
    });
  });

  describe('Intune mode (a record of a token Intune holds): the same notices, in Intune\'s words', () => {
    const intuneToken = (overrides: Partial<VppToken> = {}): VppToken => {
      const { encryptedToken: _held, ...token } = tokenAt();
      return { ...token, intuneTokenId: '9ceb2f92-2f92-9ceb-922f-eb9c922feb9c', ...overrides };
    };
    const cardOf = (notice: { message: { card?: unknown } } | undefined): string => JSON.stringify(notice?.message.card ?? {});
    const failed = (overrides: Partial<VppToken>) =>
      intuneToken({ lastSyncStatus: 'failed', consecutiveSyncFailures: 1, lastError: { code: 'intune_sync_failed', message: 'Intune could not sync "Northwind" with Apple: Intune reports the token as invalid (revoked or replaced at Apple). Download the newest token from Apple and renew it.', occurredDateTime: '2030-06-01T00:00:00.000Z' }, ...overrides });

    it('expiry: Intune can no longer sync it, and it is renewed in Intune or here', () => {
      const [expiring] = planTokenNotices(intuneToken(), daysBefore(5), noticeMessages);
      assert.equal(expiring?.key.threshold, '7d');
      assert.equal(expiring?.message.text, 'The VPP token "Northwind" expires in 5 days (1 Mar 2031). After that Intune can no longer sync it with Apple or license its books to anyone new.');
      assert.match(cardOf(expiring), /renew it in Intune \(upload the file to the token in the Intune admin center \(Tenant administration › Connectors and tokens › Apple VPP tokens\)\) or here: type \*\*renew\*\*/);
      const [expired] = planTokenNotices(intuneToken(), daysBefore(-1), noticeMessages);
      assert.match(expired?.message.text ?? '', /expired on .+\. Intune can no longer sync it with Apple or license its books to anyone new; licenses already assigned stay with their users\.$/);
      assert.match(cardOf(expired), /renew it in Intune/);
    });

    it("a failed sync: Intune's reason, and never Apple's words", () => {
      const [notice] = planTokenNotices(failed({ state: 'invalid' }), daysBefore(100), noticeMessages);
      assert.equal(notice?.key.kind, 'syncFailed');
      assert.match(notice?.message.text ?? '', /^The sync of "Northwind" through Intune failed\. Intune could not sync "Northwind" with Apple: Intune reports the token as invalid/);
      const escalated = planTokenNotices(failed({ state: 'valid', consecutiveSyncFailures: 3 }), daysBefore(100), noticeMessages)[0];
      assert.match(escalated?.message.text ?? '', /^The last 3 syncs of "Northwind" through Intune failed in a row, .+ The last error: Intune could not sync/);
      assert.doesNotMatch(`${escalated?.message.text} ${cardOf(escalated)}`, /Apple's reason|Apple gave/);
      assert.match(cardOf(escalated), /I ask Intune again at the next scheduled sync/);
    });

    it("a takeover Intune reports: one notice, Intune's words, no failure notice besides", () => {
      const notices = planTokenNotices(failed({ state: 'assignedToExternalMDM' }), daysBefore(100), noticeMessages);
      assert.deepEqual(notices.map((n) => `${n.key.kind}:${n.key.threshold}`), ['externalMdm:takeover']);
      assert.equal(notices[0]?.message.text, 'Intune reports that another MDM now manages the VPP token "Northwind", so Intune can no longer license its books, and I stopped syncing it.');
      assert.doesNotMatch(cardOf(notices[0]), /Apple says/);
      assert.match(cardOf(notices[0]), /give it back to Intune: download its newest token .+ and type \*\*renew Northwind\*\*/);
    });

    it('a duplicate location: a notice of its own, once per occurrence, and no failure notice besides', () => {
      const found = planTokenNotices(intuneToken({ state: 'duplicateLocation' }), daysBefore(100), noticeMessages);
      assert.deepEqual(found.map((n) => `${n.key.kind}:${n.key.threshold}`), ['duplicateLocation:duplicateLocation']);
      assert.equal(found[0]?.message.text, 'Intune reports that the VPP token "Northwind" is for an Apple location ("Main") another of its tokens already covers, so it is not synced.');
      assert.match(cardOf(found[0]), /Two tokens for one Apple location/);
      const afterFailure = planTokenNotices(failed({ state: 'duplicateLocation' }), daysBefore(100), noticeMessages);
      assert.deepEqual(afterFailure.map((n) => `${n.key.kind}:${n.key.threshold}`), ['duplicateLocation:duplicateLocation']);
      assert.notEqual(afterFailure[0]?.key.occurrenceKey, found[0]?.key.occurrenceKey, 'a later occurrence is told again');
    });

    it('books running low: Intune cannot license new group members once none are left', () => {
      const message = noticeMessages.lowLicenses(intuneToken(), [{ adamId: '1', title: 'Emma', available: 2, total: 20 }]);
      assert.equal(message.text, 'A book is running low on licenses under "Northwind": Emma: 2 of 20 left.');
      assert.match(JSON.stringify(message.card), /Intune cannot license new members of the groups a book is assigned to/);
    });

    it("leaves Apple mode's words as they were", () => {
      const [expiring] = planTokenNotices(tokenAt(), daysBefore(5), noticeMessages);
      assert.equal(expiring?.message.text, 'The VPP token "Northwind" expires in 5 days (1 Mar 2031). After that I can no longer sync or assign its books.');
      assert.doesNotMatch(cardOf(expiring), /Intune/);
      const apple = noticeMessages.lowLicenses(tokenAt(), [{ adamId: '1', title: 'Emma', available: 2, total: 20 }]);
      assert.doesNotMatch(JSON.stringify(apple.card), /Intune/);
    });
  });

  describe('TokenNotifier (embedded Cosmos, fake clock)', () => {
    const env = new TestEnvironment();
    before(() => env.start());
    after(() => env.stop());

    it('sends each expiry warning once per admin over the days before expiry, and again after a renewal', async () => {
      const tenantId = '00000000-0000-0000-0000-00000000e001';
      const admin = await addAdminChat(env.store, tenantId, 'admin-1');
      await addAdminChat(env.store, tenantId, 'not-an-admin');
      const token = tokenAt({ id: 'tok-expiry', tenantId });
      await env.store.tokens.create(token);
      let now = daysBefore(40);
      const sender = new RecordingSender();
      const outbox = new NotificationOutbox({ store: env.store, sender, retryBaseMs: 10 });
      const recipients = new AdminRecipients({ store: env.store, isAdmin: async (_t, id) => id === 'admin-1' });
      const notifier = new TokenNotifier({ store: env.store, outbox, recipients, messages: noticeMessages, now: () => now });
      for (const days of [40, 30, 29, 25, 14, 13, 7, 6.5, 3, 1, 0.5, -1, -2]) {
        now = daysBefore(days);
        await notifier.notifyToken((await env.store.tokens.get(tenantId, token.id))!);
      }
      const titles = sender.sent.map((s) => (s.message.card?.body as Array<{ text: string }>)[0]?.text);
      assert.deepEqual(titles, ['⏳ VPP token expires in 30 days', '⏳ VPP token expires in 14 days', '⚠️ VPP token expires in 7 days', '⚠️ VPP token expires tomorrow', '⌛ VPP token expired']);
      assert.ok(sender.sent.every((s) => s.conversationId === admin.conversationId), 'admins only');

      const renewed = new Date(Date.parse(EXPIRY) + 365 * DAY).toISOString();
      await env.store.tokens.update(tenantId, token.id, (t) => ({ ...t, expirationDateTime: renewed }));
      now = new Date(Date.parse(renewed) - 20 * DAY);
      await notifier.sweep();
      assert.equal(sender.sent.length, 6);
      assert.match(sender.sent[5]?.message.text ?? '', /expires in 20 days/);
      await outbox.stop();
    });

    it('after syncs: a failure notice with Apple\'s reason, an escalation at the third, a takeover once, low licenses', async () => {
      const tenantId = '00000000-0000-0000-0000-00000000e002';
      await addAdminChat(env.store, tenantId);
      const seeded = await seedToken(env, { tenantId, books: 2 });
      const sender = new RecordingSender();
      const outbox = new NotificationOutbox({ store: env.store, sender, retryBaseMs: 10 });
      const notifier = new TokenNotifier({ store: env.store, outbox, recipients: new AdminRecipients({ store: env.store }), messages: noticeMessages });
      const service = new SyncService({ engine: syncEngine(env, { lowLicenses: { count: 3, percent: 0 } }), store: env.store, afterSync: (o) => notifier.afterSync(o) });
      const sync = async () => {
        const started = await service.startToken(tenantId, seeded.token.id, { trigger: 'scheduled' });
        assert.ok(started.status === 'started', started.status);
        return started.done;
      };

      env.sandbox.faults.failNext('/client/config', 4, { kind: 'status', status: 400, errorNumber: 9602 });
      for (let i = 0; i < 4; i++) await sync();
      assert.deepEqual(
        sender.sent.map((s) => (s.message.card?.body as Array<{ text: string }>)[0]?.text),
        ['⚠️ VPP sync failed', '⚠️ VPP sync failed', '⚠️ Sync keeps failing (3 times in a row)'],
      );
      assert.match(sender.sent[0]?.message.text ?? '', /Apple refused a value I sent/);

      const [book] = [...seeded.org.books.values()];
      assert.ok(book);
      book.assignedCount = 18;
      const lowRun = await sync();
      assert.match(sender.sent[3]?.message.text ?? '', /running low on licenses.*2 of 20 left/);
      // Delivering the same run's report again (a retry after a crash) tells nobody twice.
      await notifier.afterSync(lowRun);
      assert.equal(sender.sent.length, 4);

      seeded.org.mdmInfo = { id: 'contoso', name: 'Contoso MDM' };
      await sync();
      assert.equal(sender.sent.length, 5);
      assert.match(sender.sent[4]?.message.text ?? '', /Contoso MDM now manages/);
      assert.equal((await service.startToken(tenantId, seeded.token.id, { trigger: 'manual' })).status, 'notSyncable');
      await notifier.sweep();
      assert.equal(sender.sent.length, 5, 'the daily sweep does not repeat anything');
      await outbox.stop();
    });
  });
});
