import { memberMessage, reachSummaryMessage, type CardMessage } from '../cards/memberCards';
import type { MemberNoticeRun as NoticeRunIdentity, MemberNotices, NoticeMember } from '../services/assignments/memberNotices';
import { forEachLimited } from '../services/common/forEachLimited';
import { silentLogger, type Logger } from '../services/logging/logger';
import type { NotificationOutbox } from '../services/notifications/NotificationOutbox';
import type { Versioned } from '../services/store/DocumentStore';
import { pricingParamSchema } from '../services/store/entities/common';
import type { MemberNotice, MemberNoticeKind, MemberNoticeRun } from '../services/store/entities/memberNotice';
import type { MemberNoticeDraft, MemberNoticeRepository } from '../services/store/repositories/MemberNoticeRepository';
import type { ReachOutcome } from './ApproverReach';
import { exportIdOf, exportSecretSchema, exportUrl, newExportSecret, unreachableCsv, unreachableCsvFileName, type CsvFile } from './memberExports';
import type { ExportSource } from './exportRoute';

/** Gets a member a personal chat with the bot (TeamsUserReach: the stored one, or install + create). */
interface MemberReach {
  reach(tenantId: string, aadObjectId: string): Promise<ReachOutcome>;
}

export interface MemberMessengerOptions {
  notices: MemberNoticeRepository;
  /** Every message goes through it: Teams' rate limits, retries, forgetting chats the bot was removed from. */
  outbox: Pick<NotificationOutbox, 'send'>;
  reach: MemberReach;
  /** Names this process in claims: a notice it left `sending` in a previous life is known at start-up. */
  instanceId: string;
  /**
   * The bot's public base URL (https://host) for download links, read when a summary goes out (locally the
   * listening address is known only once the server listens). Undefined: no link is offered.
   */
  publicBaseUrl: () => string | undefined;
  /** The run's state: a run still delivering holds its summary back until it ends (one message, not one per batch). */
  runState?: ((tokenId: string, runId: string) => Promise<string | undefined>) | undefined;
  /** Background passes (pending notices, summaries); each record() starts one at once as well. */
  pollMs?: number | undefined;
  /** A notice `sending` for longer than this was left by an instance that died mid-send. */
  staleSendingMs?: number | undefined;
  /** How long a download link works. */
  exportTtlMs?: number | undefined;
  /** Members reached at once (Graph installs and new chats); the outbox paces the sends themselves. */
  concurrency?: number | undefined;
  /** Tries for a member whose failure may pass (Graph or Teams busy) before they are reported unreachable. */
  maxAttempts?: number | undefined;
  retryDelayMs?: number | undefined;
  now?: (() => Date) | undefined;
  logger?: Logger | undefined;
}

/** Run states in which more notices may still come: the summary waits for the run to end. */
const RUN_STILL_DELIVERING = new Set(['approved', 'running']);

const DEFAULTS = {
  pollMs: 30_000,
  staleSendingMs: 15 * 60_000,
  exportTtlMs: 7 * 24 * 3_600_000,
  concurrency: 8,
  maxAttempts: 3,
  retryDelayMs: 60_000,
};

const GONE_REASON = 'They removed or blocked the bot in Teams.';
const INTERRUPTED_REASON = 'The bot restarted while sending their message, so it may or may not have arrived; it was not sent again, so nobody is told twice.';

/**
 * Tells members of an assigned group, each in their personal chat with the bot, that a book is theirs,
 * that they must join VPP first, or that it is there to take; and tells the requester who could not be
 * reached, with the whole list as a CSV download.
 *
 * Calls only record: each notice is a document created conditionally (told once per run, member and kind,
 * whoever calls how often). A background worker delivers them: it reaches the member (stored chat, or
 * installs the bot through Graph and starts one), claims the notice with its ETag, sends through the outbox
 * and marks it sent or unreachable. Start-up picks up what a previous process left.
 */
export class MemberMessenger implements MemberNotices, ExportSource {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly settings: typeof DEFAULTS;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: MemberMessengerOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.settings = {
      pollMs: options.pollMs ?? DEFAULTS.pollMs,
      staleSendingMs: options.staleSendingMs ?? DEFAULTS.staleSendingMs,
      exportTtlMs: options.exportTtlMs ?? DEFAULTS.exportTtlMs,
      concurrency: options.concurrency ?? DEFAULTS.concurrency,
      maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts,
      retryDelayMs: options.retryDelayMs ?? DEFAULTS.retryDelayMs,
    };
  }

  licensed(run: NoticeRunIdentity, members: readonly NoticeMember[]): Promise<void> {
    return this.record(run, 'licensed', members);
  }

  invited(run: NoticeRunIdentity, members: ReadonlyArray<NoticeMember & { invitationUrl: string }>): Promise<void> {
    return this.record(run, 'invited', members);
  }

  offered(run: NoticeRunIdentity, members: readonly NoticeMember[]): Promise<void> {
    return this.record(run, 'offered', members);
  }

  /**
   * Starts the worker: notices a previous life of this instance left `sending` are reported (never sent
   * again), then everything pending goes out, and a pass runs every pollMs.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.settleInterrupted({ claimedBy: this.options.instanceId }).catch((err: unknown) => this.logger.warn({ err }, 'could not settle member notices interrupted by a restart'));
    this.timer = setInterval(() => this.wake(), this.settings.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Runs a pass now (or right after the one running) and resolves when the worker is idle. */
  async poll(): Promise<void> {
    this.wake();
    await this.idle();
  }

  /** Resolves once no pass is running or due (tests, and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** No new pass starts; the one running finishes its sends (the outbox is still up) and stops early. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** A download link's CSV: every member of the run who could not be reached, as the list stands now. */
  async exportCsv(secret: string): Promise<CsvFile | undefined> {
    if (!exportSecretSchema.safeParse(secret).success) return undefined;
    const entry = await this.options.notices.findExport(exportIdOf(secret));
    if (!entry) return undefined;
    const rows = await this.options.notices.unreachable(entry.tokenId, entry.runId);
    // Who downloaded what is worth knowing; the link itself is a credential and stays out of the log.
    this.logger.info({ tokenId: entry.tokenId, runId: entry.runId, rows: rows.length }, 'list of unreachable members downloaded');
    return { fileName: unreachableCsvFileName(entry.bookTitle, this.now()), csv: unreachableCsv(rows) };
  }

  private async record(run: NoticeRunIdentity, kind: MemberNoticeKind, members: ReadonlyArray<NoticeMember & { invitationUrl?: string }>): Promise<void> {
    if (members.length === 0) return;
    const drafts: MemberNoticeDraft[] = members.map((m) => ({
      tokenId: run.tokenId,
      tenantId: run.tenantId,
      runId: run.runId,
      kind,
      member: { clientUserId: m.clientUserId, displayName: m.displayName, ...(m.mail ? { mail: m.mail } : {}) },
      ...(m.invitationUrl ? { invitationUrl: m.invitationUrl } : {}),
      book: { adamId: run.adamId, pricingParam: pricingParamSchema.parse(run.pricingParam), title: run.bookTitle },
      requestedBy: run.requestedBy,
    }));
    const created = await this.options.notices.record(drafts);
    this.logger.debug({ runId: run.runId, kind, members: members.length, created }, 'member notices recorded');
    if (created > 0) this.wake();
  }

  /** Runs a pass now, or right after the one running (which may have missed what was just recorded). */
  private wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch((err: unknown) => this.logger.warn({ err }, 'member notice pass failed; the next one tries again'));
      } while (this.again && !this.stopped);
      this.running = undefined;
    })();
  }

  private async pass(): Promise<void> {
    await this.settleInterrupted({ claimedBefore: new Date(this.now().getTime() - this.settings.staleSendingMs) });
    const due = await this.options.notices.due();
    const finished = new Map<string, MemberNotice>();
    await forEachLimited(due, this.settings.concurrency, async (notice) => {
      if (this.stopped) return;
      try {
        if (await this.deliver(notice)) finished.set(notice.value.runId, notice.value);
      } catch (err) {
        this.logger.warn({ err, runId: notice.value.runId, user: notice.value.member.clientUserId }, 'member notice not delivered; it is tried again');
      }
    });
    // Each run with notices finished here has news for its requester, even if recording them was cut off before it said so.
    for (const notice of finished.values()) await this.options.notices.markOpen(notice);
    if (!this.stopped) await this.summarize();
  }

  /** Reaches the member, claims the notice and sends it; true when the notice reached an end (sent or unreachable). */
  private async deliver(notice: Versioned<MemberNotice>): Promise<boolean> {
    const { value } = notice;
    const outcome = await this.options.reach.reach(value.tenantId, value.member.clientUserId);
    if (!outcome.reached) {
      const { failure } = outcome;
      this.logger.info({ runId: value.runId, user: value.member.clientUserId, transient: failure.transient, err: failure.cause }, 'member could not be reached');
      if (failure.transient && value.attempts + 1 < this.settings.maxAttempts) {
        await this.options.notices.retryLater(notice, this.settings.retryDelayMs * 2 ** value.attempts, failure.reason);
        return false;
      }
      return (await this.options.notices.finish(notice, { state: 'unreachable', reason: failure.reason })) !== undefined;
    }
    // The claim comes last, right before the send: a crash after it means "maybe sent", never "sent twice".
    const claimed = await this.options.notices.claim(notice, this.options.instanceId);
    if (!claimed) return false;
    let message: CardMessage;
    try {
      message = value.kind === 'invited' ? memberMessage('invited', value.book, value.invitationUrl ?? '') : memberMessage(value.kind, value.book);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return (await this.options.notices.finish(claimed, { state: 'unreachable', reason: `No message could be written for them: ${reason}` })) !== undefined;
    }
    const { conversation } = outcome;
    const result = await this.options.outbox.send({ tenantId: conversation.tenantId, conversationId: conversation.conversationId, reference: conversation.reference }, message);
    if (result === 'sent') return (await this.options.notices.finish(claimed, { state: 'sent' })) !== undefined;
    if (result === 'dropped') return (await this.options.notices.finish(claimed, { state: 'unreachable', reason: GONE_REASON })) !== undefined;
    // The outbox retried throttling and transient errors already; Teams refused, so nothing arrived: another try later.
    if (value.attempts + 1 < this.settings.maxAttempts) {
      await this.options.notices.retryLater(claimed, this.settings.retryDelayMs * 2 ** value.attempts, 'Teams did not accept the message.');
      return false;
    }
    return (await this.options.notices.finish(claimed, { state: 'unreachable', reason: 'Teams did not accept the message, even after several tries.' })) !== undefined;
  }

  /** Notices left `sending` by a dead sender: maybe sent, so reported unreachable rather than sent again. */
  private async settleInterrupted(which: { claimedBy?: string; claimedBefore?: Date }): Promise<void> {
    const left = await this.options.notices.interrupted(which);
    for (const notice of left) {
      const settled = await this.options.notices.finish(notice, { state: 'unreachable', reason: INTERRUPTED_REASON });
      if (settled) await this.options.notices.markOpen(settled.value);
    }
    if (left.length > 0) this.logger.warn({ notices: left.length }, 'member notices interrupted mid-send were reported, not sent again');
  }

  /** Each run whose notices are all done, and whose delivery ended, gets one message to its requester. */
  private async summarize(): Promise<void> {
    for (const run of await this.options.notices.openRuns()) {
      if (this.stopped) return;
      try {
        await this.summarizeRun(run);
      } catch (err) {
        this.logger.warn({ err, runId: run.value.runId }, 'could not tell the requester who was reached; the next pass tries again');
      }
    }
  }

  private async summarizeRun(run: Versioned<MemberNoticeRun>): Promise<void> {
    const { tokenId, tenantId, runId, requestedBy, bookTitle } = run.value;
    const counts = await this.options.notices.counts(tokenId, runId);
    if (counts.open > 0) return;
    const state = await this.options.runState?.(tokenId, runId);
    if (state !== undefined && RUN_STILL_DELIVERING.has(state)) return;
    // One instance wins the claim and sends; a crash after it loses this summary rather than sending it twice.
    if (!(await this.options.notices.claimSummary(run))) return;
    // The requester asked in their chat, so it is normally stored; if it was lost, the bot starts one as for anyone.
    const reached = await this.options.reach.reach(tenantId, requestedBy.aadObjectId);
    if (!reached.reached) {
      this.logger.warn({ runId, user: requestedBy.aadObjectId, reason: reached.failure.reason }, 'could not reach the requester to say who was reached');
      return;
    }
    const chat = reached.conversation;
    const unreachable = counts.unreachable > 0 ? await this.options.notices.unreachable(tokenId, runId) : [];
    const download = unreachable.length > 0 ? await this.downloadLink(run.value) : undefined;
    const message = reachSummaryMessage({
      bookTitle,
      told: counts.sent,
      unreachable: unreachable.length,
      firstUnreachable: unreachable.map((n) => ({ displayName: n.member.displayName, mail: n.member.mail, reason: n.reason ?? 'unknown' })),
      download,
    });
    await this.options.outbox.send({ tenantId, conversationId: chat.conversationId, reference: chat.reference }, message);
  }

  private async downloadLink(run: MemberNoticeRun): Promise<{ url: string; expires: Date } | undefined> {
    const base = this.options.publicBaseUrl();
    if (!base) return undefined;
    const { secret, id } = newExportSecret();
    const now = this.now();
    const expires = new Date(now.getTime() + this.settings.exportTtlMs);
    await this.options.notices.createExport({
      id,
      tokenId: run.tokenId,
      tenantId: run.tenantId,
      runId: run.runId,
      bookTitle: run.bookTitle,
      createdDateTime: now.toISOString(),
      expiresDateTime: expires.toISOString(),
    });
    return { url: exportUrl(base, secret), expires };
  }
}
