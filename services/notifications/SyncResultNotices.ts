import { randomUUID } from 'node:crypto';
import { escapeMarkdown } from '../common/chatText';
import { truncate } from '../common/truncate';
import { silentLogger, type Logger } from '../logging/logger';
import { LIMITS } from '../store/entities/common';
import { LOW_LICENSE_BOOKS_LIMIT, type StoredSyncResult, type SyncRequest } from '../store/entities/syncRequest';
import type { VppToken } from '../store/entities/vppToken';
import type { Store } from '../store/Store';
import { notSyncableReason } from '../sync/SyncEngine';
import type { StartResult, StartSyncRequest, SyncService } from '../sync/SyncService';
import { NO_CHANGES, type SyncOutcome } from '../sync/types';
import type { NoticeMessages, SyncResultView } from './noticeMessages';
import type { DeliveryReport, NotificationOutbox, Recipient } from './NotificationOutbox';

export interface SyncResultNoticesOptions {
  store: Store;
  outbox: Pick<NotificationOutbox, 'deliverOnceTo'>;
  sync: Pick<SyncService, 'startToken' | 'isRunning' | 'afterEachSync' | 'history'>;
  /** The result's wording and card (cards/notificationMessages.ts). */
  messages: Pick<NoticeMessages, 'syncResult' | 'syncSummary'>;
  /**
   * How long the chat turn that opened a request has to say "Sync started" before the request counts
   * as abandoned by a dead process (its result is then posted anyway, and its syncs restarted).
   */
  acknowledgeWithinMs?: number | undefined;
  /** Syncs restarted for one request (each time the process running them died) before it is answered with a failure. */
  maxResumes?: number | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
}

export interface ChatSyncRequest {
  tenantId: string;
  tokens: readonly VppToken[];
  request: StartSyncRequest;
  /** The conversation that asked: it gets the result. */
  recipient: Recipient;
}

const NO_LICENSES = { total: 0, used: 0, available: 0 };

/**
 * The result of a sync an admin started in chat, posted to that chat exactly once, even when the bot
 * restarts mid-sync or another instance finishes the sync.
 *
 * The request is a document (`syncRequests`) written before any sync starts. Every finished sync of a
 * token, on any instance and whatever started it, writes its result into the requests waiting for that
 * token; the write that completes a request (the last token's result, or the chat's "Sync started"
 * reply if the results came first) posts it through the outbox, whose send-once claim (keyed by the
 * request) makes a second poster a no-op. `resume()`, at start-up and on the background sweep, restarts
 * the syncs of requests whose process died, and posts requests left complete but unsent.
 */
export class SyncResultNotices {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly acknowledgeWithinMs: number;
  private readonly maxResumes: number;

  constructor(private readonly options: SyncResultNoticesOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.acknowledgeWithinMs = options.acknowledgeWithinMs ?? 2 * 60_000;
    this.maxResumes = options.maxResumes ?? 3;
    options.sync.afterEachSync((outcome) => this.record(outcome));
  }

  /**
   * Starts syncs of `tokens` for a chat and promises it their result: one card for one token, a summary
   * for several. `announce` tells the chat what started; the result is never posted before it.
   * Tokens that do not start (blocked, shutting down) are left out of the result.
   */
  async start(input: ChatSyncRequest, announce: (results: readonly StartResult[]) => Promise<void>): Promise<StartResult[]> {
    const { store, sync } = this.options;
    const { tenantId, tokens, request, recipient } = input;
    const id = randomUUID();
    const tokenIds = [...new Set(tokens.map((t) => t.id))];
    await store.syncRequests.create({
      id,
      tenantId,
      requestedBy: request.startedBy,
      requestedDateTime: this.now().toISOString(),
      conversationId: recipient.conversationId,
      reference: recipient.reference,
      tokens: tokenIds.map((tokenId) => ({ tokenId, tokenName: tokens.find((t) => t.id === tokenId)?.displayName ?? tokenId })),
      waitingFor: tokenIds,
      resumes: 0,
    });
    const results: StartResult[] = [];
    try {
      for (const token of tokens) results.push(await sync.startToken(tenantId, token.id, request));
    } finally {
      // Written before anything can be posted: the request is not acknowledged yet.
      const answered = new Set(results.filter((r) => r.status !== 'notSyncable').map((r) => r.tokenId));
      await this.drop(tenantId, id, tokenIds.filter((t) => !answered.has(t))).catch((err: unknown) => this.logger.error({ err, requestId: id }, 'sync request not trimmed'));
    }
    try {
      await announce(results);
    } finally {
      await this.acknowledge(tenantId, id);
    }
    return results;
  }

  /** After every finished sync: its result goes to each request waiting for that token. */
  async record(outcome: SyncOutcome): Promise<void> {
    const waiting = await this.options.store.syncRequests.listWaitingFor(outcome.tenantId, outcome.tokenId);
    for (const request of waiting) {
      try {
        await this.recordResult(request.tenantId, request.id, outcome.tokenId, outcome.tokenName, this.resultOf(outcome));
      } catch (err) {
        this.logger.error({ err, requestId: request.id, tokenId: outcome.tokenId }, 'sync result not recorded');
      }
    }
  }

  /**
   * The recovery sweep: posts requests that are complete but unsent, and restarts the syncs of requests
   * whose process died (a token neither syncing here nor, per its lease, anywhere else).
   */
  async resume(): Promise<void> {
    for (const request of await this.options.store.syncRequests.listAll()) {
      try {
        await this.resumeOne(request);
      } catch (err) {
        this.logger.error({ err, requestId: request.id }, 'sync request not resumed');
      }
    }
  }

  private async resumeOne(request: SyncRequest): Promise<void> {
    const { store, sync } = this.options;
    if (request.tokens.length === 0) {
      await store.syncRequests.delete(request.tenantId, request.id);
      return;
    }
    if (request.waitingFor.length === 0) {
      if (this.ready(request)) await this.deliver(request);
      return;
    }
    if (!this.acknowledged(request)) return; // its chat turn is still starting the syncs
    const idle = request.waitingFor.filter((tokenId) => !sync.isRunning(tokenId));
    const nameOf = (tokenId: string) => request.tokens.find((t) => t.tokenId === tokenId)?.tokenName ?? tokenId;
    if (idle.length > 0 && request.resumes >= this.maxResumes) {
      for (const tokenId of idle) await this.recordResult(request.tenantId, request.id, tokenId, nameOf(tokenId), this.failure('interrupted', `The sync of "${escapeMarkdown(nameOf(tokenId))}" was interrupted ${request.resumes + 1} times (the bot stopped) and did not finish. It is tried again at the next scheduled sync; type **sync ${escapeMarkdown(nameOf(tokenId))}** to try now.`));
      return;
    }
    let restarted = 0;
    for (const tokenId of idle) {
      const token = await store.tokens.get(request.tenantId, tokenId);
      if (!token) {
        await this.recordResult(request.tenantId, request.id, tokenId, nameOf(tokenId), this.failure('token_removed', `"${escapeMarkdown(nameOf(tokenId))}" was removed before its sync finished.`));
        continue;
      }
      const blocked = notSyncableReason(token);
      if (blocked) {
        await this.recordResult(request.tenantId, request.id, tokenId, token.displayName, { ...this.failure(blocked.code, blocked.message), status: 'skipped' });
        continue;
      }
      // Another instance holding the lease answers alreadyRunning and records the result itself.
      const started = await sync.startToken(request.tenantId, tokenId, { trigger: 'manual', startedBy: request.requestedBy });
      if (started.status === 'started') restarted++;
    }
    // Counted only when a sync really restarted: waiting on another instance's long sync is no retry.
    if (restarted > 0) await store.syncRequests.update(request.tenantId, request.id, (r) => ({ ...r, resumes: r.resumes + 1 }));
  }

  private async acknowledge(tenantId: string, id: string): Promise<void> {
    const at = this.now().toISOString();
    const updated = await this.options.store.syncRequests.update(tenantId, id, (r) => (r.acknowledgedDateTime ? undefined : { ...r, acknowledgedDateTime: at }));
    if (updated?.written && this.ready(updated.value)) await this.deliver(updated.value);
  }

  /** Takes tokens out of a request that is not acknowledged yet; a request left with none is deleted. */
  private async drop(tenantId: string, id: string, tokenIds: readonly string[]): Promise<void> {
    if (tokenIds.length === 0) return;
    const gone = new Set(tokenIds);
    const updated = await this.options.store.syncRequests.update(tenantId, id, (r) => ({ ...r, tokens: r.tokens.filter((t) => !gone.has(t.tokenId)), waitingFor: r.waitingFor.filter((t) => !gone.has(t)) }));
    if (updated && updated.value.tokens.length === 0) await this.options.store.syncRequests.delete(tenantId, id);
  }

  private async recordResult(tenantId: string, id: string, tokenId: string, tokenName: string, result: StoredSyncResult): Promise<void> {
    const updated = await this.options.store.syncRequests.update(tenantId, id, (r) =>
      r.waitingFor.includes(tokenId)
        ? { ...r, tokens: r.tokens.map((t) => (t.tokenId === tokenId ? { ...t, tokenName, result } : t)), waitingFor: r.waitingFor.filter((t) => t !== tokenId) }
        : undefined,
    );
    // Only the write that completed the request posts it (the outbox's claim covers any race beyond that).
    if (updated?.written && this.ready(updated.value)) await this.deliver(updated.value);
  }

  private acknowledged(request: SyncRequest): boolean {
    return request.acknowledgedDateTime !== undefined || this.now().getTime() - Date.parse(request.requestedDateTime) >= this.acknowledgeWithinMs;
  }

  private ready(request: SyncRequest): boolean {
    return request.tokens.length > 0 && request.waitingFor.length === 0 && this.acknowledged(request);
  }

  /**
   * Posts the result once (claimed per request in the outbox) and forgets the request. A delivery that
   * failed after the outbox's own retries stays for the next sweep.
   */
  private async deliver(request: SyncRequest): Promise<DeliveryReport> {
    const views: SyncResultView[] = request.tokens.flatMap((t) => (t.result ? [{ tokenId: t.tokenId, tokenName: t.tokenName, ...t.result }] : []));
    const [only] = views;
    const { messages } = this.options;
    const message = only && views.length === 1 ? messages.syncResult({ ...only, history: await this.history(only.tokenId) }) : messages.syncSummary(views);
    const [first] = request.tokens;
    const report = await this.options.outbox.deliverOnceTo(
      { tokenId: first?.tokenId ?? request.id, tenantId: request.tenantId, kind: 'syncResult', threshold: 'chat', occurrenceKey: request.id },
      [{ tenantId: request.tenantId, conversationId: request.conversationId, reference: request.reference }],
      message,
    );
    // Skipped: another instance holds the claim, sent it or is sending it; the request is done either way.
    if (report.failed === 0) await this.options.store.syncRequests.delete(request.tenantId, request.id);
    return report;
  }

  /** The token's recent syncs for the result's chart; the result goes out without it rather than not at all. */
  private async history(tokenId: string): Promise<SyncResultView['history']> {
    try {
      return await this.options.sync.history(tokenId);
    } catch (err) {
      this.logger.warn({ err, tokenId }, 'sync history not read');
      return undefined;
    }
  }

  private resultOf(outcome: SyncOutcome): StoredSyncResult {
    return {
      status: outcome.status,
      runId: outcome.runId,
      books: outcome.books,
      licenses: outcome.licenses,
      changes: outcome.changes,
      durationMs: Math.max(0, Math.round(outcome.durationMs)),
      error: outcome.error && { code: truncate(outcome.error.code, LIMITS.errorCode), message: truncate(outcome.error.message, LIMITS.message) },
      lowLicenseBooks: outcome.lowLicenseBooks
        .slice(0, LOW_LICENSE_BOOKS_LIMIT)
        .map((b) => ({ adamId: b.adamId, title: truncate(b.title, LIMITS.title), available: b.available, total: b.total })),
      finishedDateTime: this.now().toISOString(),
    };
  }

  private failure(code: string, message: string): StoredSyncResult {
    return { status: 'failed', books: 0, licenses: NO_LICENSES, changes: NO_CHANGES, durationMs: 0, error: { code, message }, lowLicenseBooks: [], finishedDateTime: this.now().toISOString() };
  }
}
