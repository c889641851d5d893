import { createHash, randomUUID } from 'node:crypto';
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
  /** Teams said the bot is gone from the conversation (404, or 403 uninstalled/blocked); its reference was deleted. */
  dropped: number;
  failed: number;
}

/** At most `limit` messages in any `ms` milliseconds. */
export interface RateWindow {
  ms: number;
  limit: number;
}

/**
 * Teams' "per bot per thread" limits for sending into one conversation (1:1 chat, group chat or channel), from
 * https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit#per-bot-per-thread-limit
 * ("Send to conversation": 7 per 1 s, 8 per 2 s, 60 per 30 s, 1800 per 3600 s). All of them hold at once, so a
 * long burst settles to 2 a second and then to one every 2 seconds.
 */
export const TEAMS_CONVERSATION_WINDOWS: readonly RateWindow[] = [
  { ms: 1000, limit: 7 },
  { ms: 2000, limit: 8 },
  { ms: 30_000, limit: 60 },
  { ms: 3_600_000, limit: 1800 },
];

/**
 * The same page's global limit per app per tenant: 50 requests per second (SPEC §3; older revisions of the
 * page said 30, so a tenant that still answers 429 is retried with backoff).
 */
const TEAMS_TENANT_WINDOWS: readonly RateWindow[] = [{ ms: 1000, limit: 50 }];

export interface NotificationOutboxOptions {
  store: Store;
  sender: ProactiveSender;
  instanceId?: string | undefined;
  /** Limits into one conversation; Teams' by default. */
  conversationWindows?: readonly RateWindow[] | undefined;
  /** Limits across all conversations of one tenant; Teams' by default. */
  tenantWindows?: readonly RateWindow[] | undefined;
  maxAttempts?: number | undefined;
  retryBaseMs?: number | undefined;
  retryMaxMs?: number | undefined;
  /** How long stop() waits for messages being sent. */
  stopTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

/** Short, stable name of a recipient inside a claim id (threshold is at most 64 characters). */
function recipientTag(recipient: Recipient): string {
  return createHash('sha256').update(`${recipient.tenantId}\n${recipient.conversationId}`).digest('hex').slice(0, 16);
}

/**
 * When recent messages went out, and how long until one more keeps every window. A sliding log rather
 * than evenly spaced slots, because the windows overlap (7 a second may go at once, but the 8th must wait
 * for the 2-second window, the 61st for the 30-second one).
 */
class SendLog {
  private readonly times: number[] = [];
  private readonly horizonMs: number;

  constructor(private readonly windows: readonly RateWindow[]) {
    this.horizonMs = Math.max(0, ...windows.map((w) => w.ms));
  }

  /** Milliseconds until one more send fits every window; 0 or less means now. */
  waitMs(now: number): number {
    this.prune(now);
    let wait = 0;
    for (const { ms, limit } of this.windows) {
      // The send `limit` places back must have left (now - ms, now], so that window holds fewer than `limit`.
      const blocking = this.times[this.times.length - limit];
      if (blocking !== undefined) wait = Math.max(wait, blocking + ms - now);
    }
    return wait;
  }

  record(now: number): void {
    this.times.push(now);
  }

  /** Nothing inside any window: forgetting this log changes no decision. */
  idle(now: number): boolean {
    this.prune(now);
    return this.times.length === 0;
  }

  private prune(now: number): void {
    let expired = 0;
    while (expired < this.times.length && (this.times[expired] as number) <= now - this.horizonMs) expired++;
    if (expired > 0) this.times.splice(0, expired);
  }
}

interface Job {
  recipient: Recipient;
  message: NotificationMessage;
  resolve: (result: DeliveryResult) => void;
  onSent?: ((activityId: string | undefined) => void) | undefined;
}

/** One conversation's messages, sent one at a time and in order (concurrent posts into one conversation earn 412s). */
interface ConversationQueue {
  jobs: Job[];
  log: SendLog;
  worker: Promise<void> | undefined;
}

/**
 * Every proactive message goes through here. Messages queue per conversation and go out within all of
 * Teams' rate windows (per conversation and per tenant), are retried with backoff on throttling and
 * transient failures (honouring Retry-After), and a conversation Teams says the bot is gone from is
 * forgotten. Send-once notices are claimed per recipient in Cosmos before sending and marked sent after,
 * so a restart or a second instance never sends them twice.
 */
export class NotificationOutbox {
  readonly instanceId: string;
  private readonly logger: Logger;
  private readonly conversationWindows: readonly RateWindow[];
  private readonly tenantWindows: readonly RateWindow[];
  private readonly queues = new Map<string, ConversationQueue>();
  private readonly tenantLogs = new Map<string, SendLog>();
  /** Wakes every pending wait (rate or backoff) when stop() gives up waiting. */
  private readonly sleepers = new Set<() => void>();
  /** The waits before a retry, woken as soon as shutdown begins: a retry would come after the process is gone. */
  private readonly backoffs = new Set<() => void>();
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private lastSweep = 0;
  /** No new messages and no more retries. */
  private stopped = false;
  /** Shutdown has begun: each message gets the attempt under way and no other. */
  private retriesOff = false;
  /** stop() timed out: whatever still waits is given up as failed. */
  private abandoned = false;

  constructor(private readonly options: NotificationOutboxOptions) {
    this.instanceId = options.instanceId ?? `outbox-${randomUUID()}`;
    this.logger = options.logger ?? silentLogger();
    this.maxAttempts = options.maxAttempts ?? 6;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.conversationWindows = options.conversationWindows ?? TEAMS_CONVERSATION_WINDOWS;
    this.tenantWindows = options.tenantWindows ?? TEAMS_TENANT_WINDOWS;
  }

  /**
   * One message to one conversation, e.g. a sync result to the chat that asked for it. `onSent` learns
   * the posted activity's id, for a card that is to be updated in place later.
   */
  send(recipient: Recipient, message: NotificationMessage, onSent?: (activityId: string | undefined) => void): Promise<DeliveryResult> {
    if (this.stopped) return Promise.resolve('failed');
    this.sweepIdle(Date.now());
    const key = `${recipient.tenantId}\n${recipient.conversationId}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { jobs: [], log: new SendLog(this.conversationWindows), worker: undefined };
      this.queues.set(key, queue);
    }
    const result = new Promise<DeliveryResult>((resolve) => queue.jobs.push({ recipient, message, resolve, onSent }));
    if (!queue.worker) queue.worker = this.drain(queue);
    return result;
  }

  private async drain(queue: ConversationQueue): Promise<void> {
    for (let job = queue.jobs.shift(); job; job = queue.jobs.shift()) {
      job.resolve(this.abandoned ? 'failed' : await this.deliver(queue.log, job));
    }
    queue.worker = undefined;
  }

  private async deliver(log: SendLog, { recipient, message, onSent }: Job): Promise<DeliveryResult> {
    for (let attempt = 1; ; attempt++) {
      if (!(await this.takeSlot(log, recipient.tenantId))) return 'failed';
      try {
        const activityId = await this.options.sender.send(recipient.reference, message);
        onSent?.(activityId ?? undefined);
        return 'sent';
      } catch (err) {
        const failure = err instanceof ProactiveSendError ? err : undefined;
        const status = failure?.statusCode;
        if (failure?.conversationGone) {
          this.logger.info({ conversationId: recipient.conversationId, status, code: failure.code }, 'bot is gone from the conversation; reference removed');
          await this.options.store.conversations.deleteByConversationId(recipient.tenantId, recipient.conversationId);
          return 'dropped';
        }
        if (!failure?.retryable || attempt >= this.maxAttempts || this.retriesOff) {
          this.logger.warn({ err, conversationId: recipient.conversationId, status, code: failure?.code, attempt }, 'proactive message not delivered');
          return 'failed';
        }
        const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
        await this.sleep(Math.max(failure.retryAfterMs ?? 0, Math.floor(backoff / 2 + Math.random() * (backoff / 2))), this.backoffs);
        if (this.retriesOff) {
          this.logger.warn({ err, conversationId: recipient.conversationId, status, code: failure.code, attempt }, 'proactive message not delivered before shutdown');
          return 'failed';
        }
      }
    }
  }

  /** Waits until one more message fits the conversation's and the tenant's windows, and counts it. */
  private async takeSlot(log: SendLog, tenantId: string): Promise<boolean> {
    for (;;) {
      if (this.abandoned) return false;
      const now = Date.now();
      const tenantLog = this.tenantLog(tenantId);
      const wait = Math.max(log.waitMs(now), tenantLog.waitMs(now));
      if (wait <= 0) {
        log.record(now);
        tenantLog.record(now);
        return true;
      }
      await this.sleep(wait);
    }
  }

  private tenantLog(tenantId: string): SendLog {
    let log = this.tenantLogs.get(tenantId);
    if (!log) {
      log = new SendLog(this.tenantWindows);
      this.tenantLogs.set(tenantId, log);
    }
    return log;
  }

  /** Forgets conversations and tenants with nothing queued and nothing inside a window, once a minute. */
  private sweepIdle(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, queue] of this.queues) if (!queue.worker && queue.log.idle(now)) this.queues.delete(key);
    for (const [tenantId, log] of this.tenantLogs) if (log.idle(now)) this.tenantLogs.delete(tenantId);
  }

  private sleep(ms: number, alsoIn?: Set<() => void>): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        alsoIn?.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
      alsoIn?.add(wake);
    });
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
        else await this.options.store.notifications.markFailed(notice.tokenId, claim.id, result === 'dropped' ? 'bot gone from the conversation; reference removed' : 'not delivered');
      }),
    );
    return report;
  }

  /** Resolves when no message is queued, waiting for a window or a retry, or being sent. */
  async idle(): Promise<void> {
    for (;;) {
      const workers = [...this.queues.values()].flatMap((queue) => (queue.worker ? [queue.worker] : []));
      if (workers.length === 0) return;
      await Promise.all(workers);
    }
  }

  /**
   * The first step of shutdown: a message waiting to be retried fails now (its sender keeps it for the next
   * start), so whoever waits on it, the member notices say, can stop without sitting out a backoff of up to
   * retryMaxMs. New messages are still sent, once each.
   */
  stopRetrying(): void {
    this.retriesOff = true;
    for (const wake of [...this.backoffs]) wake();
  }

  /** Waits for queued messages (up to stopTimeoutMs); nothing new is accepted or retried after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopRetrying();
    const drained = this.idle();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.stopTimeoutMs ?? 10_000);
    });
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    // What still waits for a window or a retry fails now rather than keeping the process alive.
    this.abandoned = true;
    for (const wake of [...this.sleepers]) wake();
  }
}
