import { createHash, randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { silentLogger, type Logger } from '../logging/logger';
import type { ConversationReferenceJson, StoredConversation } from '../store/entities/conversation';
import type { Notification } from '../store/entities/notification';
import type { Store } from '../store/Store';
import { ProactiveSendError, type NotificationMessage, type ProactiveSender } from './ProactiveSender';

/** Where one message goes. */
export interface Recipient {
  tenantId: string;
  conversationId: string;
  reference: ConversationReferenceJson;
}

export type DeliveryResult = 'sent' | 'dropped' | 'failed';

/** What a send-once notice is about; with the recipient it names the claim document. */
export interface NoticeKey {
  tokenId: string;
  tenantId: string;
  kind: Notification['kind'];
  threshold: string;
  occurrenceKey: string;
}

export interface DeliveryReport {
  sent: number;
  /** Already sent (or being sent by another instance) to that recipient. */
  skipped: number;
  /** The conversation is gone (403/404); its reference was deleted. */
  dropped: number;
  failed: number;
}

export interface NotificationOutboxOptions {
  store: Store;
  sender: ProactiveSender;
  instanceId?: string | undefined;
  /** Teams allows 7 messages per second into one conversation. */
  perConversationPerSecond?: number | undefined;
  /** And 50 per second per bot per tenant. */
  perTenantPerSecond?: number | undefined;
  maxAttempts?: number | undefined;
  retryBaseMs?: number | undefined;
  retryMaxMs?: number | undefined;
  /** How long stop() waits for messages being sent. */
  stopTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Short, stable name of a recipient inside a claim id (threshold is at most 64 characters). */
function recipientTag(recipient: Recipient): string {
  return createHash('sha256').update(`${recipient.tenantId}\n${recipient.conversationId}`).digest('hex').slice(0, 16);
}

/**
 * Every proactive message goes through here. Messages are spaced to Teams' limits (per conversation
 * and per tenant), retried with backoff on throttling and transient failures, and a conversation that
 * answers 403/404 is forgotten. Send-once notices are claimed per recipient in Cosmos before sending
 * and marked sent after, so a restart or a second instance never sends them twice.
 */
export class NotificationOutbox {
  readonly instanceId: string;
  private readonly logger: Logger;
  private readonly conversationLimiters: Bottleneck.Group;
  private readonly tenantLimiters = new Map<string, Bottleneck>();
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly perTenantMinTime: number;
  private stopped = false;

  constructor(private readonly options: NotificationOutboxOptions) {
    this.instanceId = options.instanceId ?? `outbox-${randomUUID()}`;
    this.logger = options.logger ?? silentLogger();
    this.maxAttempts = options.maxAttempts ?? 6;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.perTenantMinTime = Math.ceil(1000 / (options.perTenantPerSecond ?? 50)) + 1;
    // minTime spacing (not a refilled reservoir) so no 1-second window ever holds more than the limit.
    this.conversationLimiters = new Bottleneck.Group({ maxConcurrent: 1, minTime: Math.ceil(1000 / (options.perConversationPerSecond ?? 7)) + 1 });
    this.conversationLimiters.on('created', (limiter, key) => {
      limiter.chain(this.tenantLimiter(key.slice(0, key.indexOf('\n'))));
    });
  }

  private tenantLimiter(tenantId: string): Bottleneck {
    let limiter = this.tenantLimiters.get(tenantId);
    if (!limiter) {
      limiter = new Bottleneck({ minTime: this.perTenantMinTime });
      this.tenantLimiters.set(tenantId, limiter);
    }
    return limiter;
  }

  /** One message to one conversation, e.g. a sync result to the chat that asked for it. */
  async send(recipient: Recipient, message: NotificationMessage): Promise<DeliveryResult> {
    if (this.stopped) return 'failed';
    const limiter = this.conversationLimiters.key(`${recipient.tenantId}\n${recipient.conversationId}`);
    for (let attempt = 1; ; attempt++) {
      try {
        await limiter.schedule(() => this.options.sender.send(recipient.reference, message));
        return 'sent';
      } catch (err) {
        const status = err instanceof ProactiveSendError ? err.statusCode : undefined;
        if (err instanceof ProactiveSendError && err.conversationGone) {
          this.logger.info({ conversationId: recipient.conversationId, status }, 'conversation gone; reference removed');
          await this.options.store.conversations.deleteByConversationId(recipient.tenantId, recipient.conversationId);
          return 'dropped';
        }
        const retryable = err instanceof ProactiveSendError && err.retryable;
        if (!retryable || attempt >= this.maxAttempts || this.stopped) {
          this.logger.warn({ err, conversationId: recipient.conversationId, status, attempt }, 'proactive message not delivered');
          return 'failed';
        }
        const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
        const retryAfter = err instanceof ProactiveSendError ? err.retryAfterMs : undefined;
        await sleep(Math.max(retryAfter ?? 0, Math.floor(backoff / 2 + Math.random() * (backoff / 2))));
      }
    }
  }

  /** A notice that must reach each recipient once, across restarts and instances. */
  deliverOnce(notice: NoticeKey, recipients: readonly StoredConversation[], message: NotificationMessage): Promise<DeliveryReport> {
    return this.deliverOnceTo(
      notice,
      recipients.map((c) => ({ tenantId: c.tenantId, conversationId: c.conversationId, reference: c.reference })),
      message,
    );
  }

  /** deliverOnce to conversations given by reference (the chat that asked for a sync, say). */
  async deliverOnceTo(notice: NoticeKey, recipients: readonly Recipient[], message: NotificationMessage): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, skipped: 0, dropped: 0, failed: 0 };
    await Promise.all(
      recipients.map(async (recipient) => {
        const claim = await this.options.store.notifications.claim({
          tokenId: notice.tokenId,
          tenantId: notice.tenantId,
          kind: notice.kind,
          threshold: `${notice.threshold}@${recipientTag(recipient)}`,
          occurrenceKey: notice.occurrenceKey,
          claimedBy: this.instanceId,
        });
        if (!claim) {
          report.skipped++;
          return;
        }
        const result = await this.send(recipient, message);
        report[result]++;
        if (result === 'sent') await this.options.store.notifications.markSent(notice.tokenId, claim.id, 1);
        else await this.options.store.notifications.markFailed(notice.tokenId, claim.id, result === 'dropped' ? 'conversation removed (403/404)' : 'not delivered');
      }),
    );
    return report;
  }

  /** Waits for queued messages; nothing new is retried after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    const drained = (async () => {
      await Promise.all(this.conversationLimiters.limiters().map(({ limiter }) => limiter.stop({ dropWaitingJobs: false })));
      await Promise.all([...this.tenantLimiters.values()].map((limiter) => limiter.stop({ dropWaitingJobs: false })));
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.stopTimeoutMs ?? 10_000);
    });
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    this.conversationLimiters.disconnect(false);
  }
}
