import { silentLogger, type Logger } from '../logging/logger';
import { truncate } from '../common/truncate';
import { LIMITS } from '../store/entities/common';
import type { VppToken } from '../store/entities/vppToken';
import type { Store } from '../store/Store';
import { lowLicensesNoticedSeparately } from '../sync/lowLicenses';
import type { SyncOutcome } from '../sync/types';
import type { RecipientResolver } from './AdminRecipients';
import type { DeliveryReport, NoticeKey, NotificationOutbox } from './NotificationOutbox';
import type { NoticeMessages } from './noticeMessages';
import type { NotificationMessage } from './ProactiveSender';

/** Days before expiry at which admins are warned (Intune warns from 30 days). */
const EXPIRY_THRESHOLDS_DAYS: readonly number[] = [30, 14, 7, 1];

/** After this many failed syncs in a row the notice is an escalation; later failures stay quiet. */
const ESCALATE_AFTER_FAILURES = 3;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PlannedNotice {
  key: NoticeKey;
  message: NotificationMessage;
}

/**
 * A failed sync whose cause has a notice of its own (a takeover, a duplicate location) is not told again as a
 * failure. Apple mode knows a takeover by its error code; Intune mode's failure says what Intune reported, and
 * Intune's state of the token tells which.
 */
function toldByStateNotice(token: VppToken): boolean {
  if (token.lastError?.code === 'external_mdm') return true;
  return token.intuneTokenId !== undefined && (token.state === 'assignedToExternalMDM' || token.state === 'duplicateLocation');
}

/**
 * The send-once notices a token's current state calls for. Derived from state (not from events), so
 * running it again after a crash, on another instance or in tomorrow's sweep finds the same notices,
 * and the claims in Cosmos make sure each reaches each admin once.
 */
export function planTokenNotices(token: VppToken, now: Date, messages: NoticeMessages, thresholds: readonly number[] = EXPIRY_THRESHOLDS_DAYS): PlannedNotice[] {
  const notices: PlannedNotice[] = [];
  const key = (kind: NoticeKey['kind'], threshold: string, occurrenceKey: string): NoticeKey => ({
    tokenId: token.id,
    tenantId: token.tenantId,
    kind,
    threshold,
    // The expiry date makes a renewed token (new date) warn again.
    occurrenceKey: truncate(occurrenceKey, LIMITS.occurrenceKey),
  });

  const msLeft = Date.parse(token.expirationDateTime) - now.getTime();
  if (msLeft <= 0) {
    notices.push({ key: key('tokenExpired', 'expired', token.expirationDateTime), message: messages.expired(token) });
  } else {
    const daysLeft = Math.floor(msLeft / DAY_MS);
    // Only the tightest threshold reached: a token found at 5 days gets the 7-day notice, not three.
    const reached = [...thresholds].sort((a, b) => a - b).find((t) => daysLeft <= t);
    if (reached !== undefined) notices.push({ key: key('tokenExpiring', `${reached}d`, token.expirationDateTime), message: messages.expiring(token, daysLeft) });
  }

  if (token.state === 'assignedToExternalMDM') {
    const who = token.externalMdm?.id || token.externalMdm?.name || 'unknown';
    notices.push({ key: key('externalMdm', 'takeover', `${who}|${token.lastError?.occurredDateTime ?? ''}`), message: messages.externalMdm(token) });
  }

  if (token.state === 'duplicateLocation') {
    // The store's notice kinds have no duplicate location of their own: it is a sync that cannot run, told once per occurrence.
    notices.push({ key: key('duplicateLocation', 'duplicateLocation', `${token.locationName}|${token.lastError?.occurredDateTime ?? ''}`), message: messages.duplicateLocation(token) });
  }

  const failures = token.consecutiveSyncFailures;
  if (token.lastSyncStatus === 'failed' && token.lastError && !toldByStateNotice(token) && failures >= 1 && failures <= ESCALATE_AFTER_FAILURES) {
    const escalation = failures >= ESCALATE_AFTER_FAILURES;
    notices.push({
      key: key('syncFailed', escalation ? 'escalation' : 'failure', token.lastError.occurredDateTime),
      message: messages.syncFailed(token, escalation),
    });
  }
  return notices;
}

export interface TokenNotifierOptions {
  store: Store;
  outbox: NotificationOutbox;
  recipients: RecipientResolver;
  /** The notices' wording and cards (cards/notificationMessages.ts). */
  messages: NoticeMessages;
  thresholdsDays?: readonly number[] | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
}

/** Decides what admins hear about their tokens and hands it to the outbox. */
export class TokenNotifier {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: TokenNotifierOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
  }

  /** Sends whatever the token's state calls for that has not been sent yet. */
  async notifyToken(token: VppToken): Promise<DeliveryReport> {
    const total: DeliveryReport = { sent: 0, skipped: 0, dropped: 0, failed: 0 };
    const notices = planTokenNotices(token, this.now(), this.options.messages, this.options.thresholdsDays);
    if (notices.length === 0) return total;
    const recipients = await this.options.recipients.forTenant(token.tenantId);
    for (const notice of notices) {
      const report = await this.options.outbox.deliverOnce(notice.key, recipients, notice.message);
      for (const k of ['sent', 'skipped', 'dropped', 'failed'] as const) total[k] += report[k];
    }
    return total;
  }

  /** The daily check (and the catch-up after a restart): every token of every tenant. */
  async sweep(): Promise<DeliveryReport> {
    const total: DeliveryReport = { sent: 0, skipped: 0, dropped: 0, failed: 0 };
    for (const token of await this.options.store.tokens.listAll()) {
      try {
        const report = await this.notifyToken(token);
        for (const k of ['sent', 'skipped', 'dropped', 'failed'] as const) total[k] += report[k];
      } catch (err) {
        this.logger.error({ err, tokenId: token.id }, 'token notices failed');
      }
    }
    return total;
  }

  /** After a sync: failures, a takeover, books that just ran low. */
  async afterSync(outcome: SyncOutcome): Promise<void> {
    await this.notifyToken(outcome.token);
    if (outcome.lowLicenseBooks.length === 0 || !lowLicensesNoticedSeparately(outcome.trigger)) return;
    // Only the sync that saw the books cross the threshold reports them; the claim, keyed by that run,
    // keeps a retried delivery from telling an admin twice.
    await this.options.outbox.deliverOnce(
      { tokenId: outcome.token.id, tenantId: outcome.tenantId, kind: 'lowLicenses', threshold: 'crossing', occurrenceKey: outcome.runId ?? this.now().toISOString() },
      await this.options.recipients.forTenant(outcome.tenantId),
      this.options.messages.lowLicenses(outcome.token, outcome.lowLicenseBooks),
    );
  }
}
