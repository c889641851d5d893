import type { Container, SqlParameter } from '@azure/cosmos';
import { z } from 'zod';
import { forEachLimited } from '../../common/forEachLimited';
import { truncate } from '../../common/truncate';
import { DocumentStore, type Versioned } from '../DocumentStore';
import { LIMITS } from '../entities/common';
import {
  memberNoticeExportSchema,
  memberNoticeId,
  memberNoticeRunId,
  memberNoticeRunSchema,
  memberNoticeSchema,
  type MemberNotice,
  type MemberNoticeExport,
  type MemberNoticeRun,
} from '../entities/memberNotice';
import { clockOf, type RepositoryOptions } from './options';

/** What a caller gives for one notice; the repository adds id, state and dates. */
export type MemberNoticeDraft = Omit<MemberNotice, 'id' | 'state' | 'attempts' | 'createdDateTime' | 'notBeforeDateTime' | 'claimedBy' | 'claimedDateTime' | 'reason' | 'doneDateTime'>;

export interface NoticeCounts {
  /** Waiting or being sent: the run's summary waits for these. */
  open: number;
  sent: number;
  unreachable: number;
}

/** Creates at once: a batch of 1,000 members is recorded in well under a second, without flooding Cosmos. */
const CREATE_CONCURRENCY = 16;
const countSchema = z.number().int().min(0);

/**
 * Told-once bookkeeping for member messages (see entities/memberNotice). Every state change is a
 * conditional write on the ETag read, so of two instances (or a retry and the original) exactly one
 * moves a notice on; the loser sees `undefined` and leaves it alone.
 */
export class MemberNoticeRepository {
  readonly store: DocumentStore<MemberNotice>;
  readonly runs: DocumentStore<MemberNoticeRun>;
  readonly exports: DocumentStore<MemberNoticeExport>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    const common = { container, partitionKeyField: 'tokenId' as const, maxAttempts: options.maxAttempts };
    this.store = new DocumentStore({ ...common, schema: memberNoticeSchema, docType: 'memberNotice' });
    this.runs = new DocumentStore({ ...common, schema: memberNoticeRunSchema, docType: 'memberNoticeRun' });
    this.exports = new DocumentStore({ ...common, schema: memberNoticeExportSchema, docType: 'memberNoticeExport' });
  }

  /**
   * Records each notice unless it exists (a conditional create per document); returns how many were new.
   * Only then is the run marked open for its summary: marking first could let a summary go out before
   * the notices it should count exist.
   */
  async record(drafts: readonly MemberNoticeDraft[]): Promise<number> {
    const createdDateTime = this.now().toISOString();
    let created = 0;
    await forEachLimited(drafts, CREATE_CONCURRENCY, async (draft) => {
      const notice: MemberNotice = { ...draft, id: memberNoticeId(draft.runId, draft.member.clientUserId, draft.kind), state: 'pending', attempts: 0, createdDateTime };
      if (await this.store.tryCreate(notice)) created++;
    });
    const first = drafts[0];
    if (created > 0 && first) await this.markOpen(first);
    return created;
  }

  /** Marks the run as having news for its requester (creating its document the first time). */
  async markOpen(about: Pick<MemberNotice, 'tokenId' | 'tenantId' | 'runId' | 'book' | 'requestedBy'>): Promise<void> {
    const updatedDateTime = this.now().toISOString();
    const id = memberNoticeRunId(about.runId);
    const fresh: MemberNoticeRun = { id, tokenId: about.tokenId, tenantId: about.tenantId, runId: about.runId, bookTitle: about.book.title, requestedBy: about.requestedBy, open: true, summaries: 0, updatedDateTime };
    if (await this.runs.tryCreate(fresh)) return;
    await this.runs.update(id, about.tokenId, (run) => (run.open ? undefined : { ...run, open: true, updatedDateTime }));
  }

  /**
   * Notices waiting to go out (any token), oldest first. A cross-partition sweep; no TOP/ORDER BY, which a
   * cross-partition query on the local emulator cannot do, and a pass delivers all of them anyway.
   */
  async due(): Promise<Array<Versioned<MemberNotice>>> {
    const found = await this.store.query(
      "SELECT * FROM c WHERE c.type = @type AND c.state = 'pending' AND (NOT IS_DEFINED(c.notBeforeDateTime) OR c.notBeforeDateTime <= @now)",
      [{ name: '@now', value: this.now().toISOString() }],
    );
    return found.sort((a, b) => a.value.createdDateTime.localeCompare(b.value.createdDateTime) || a.value.id.localeCompare(b.value.id));
  }

  /** Notices claimed for sending by `claimedBy`, or by anyone before `claimedBefore` (their sender died). */
  async interrupted(options: { claimedBy?: string; claimedBefore?: Date }): Promise<Array<Versioned<MemberNotice>>> {
    const conditions: string[] = [];
    const parameters: SqlParameter[] = [];
    if (options.claimedBy !== undefined) {
      conditions.push('c.claimedBy = @claimedBy');
      parameters.push({ name: '@claimedBy', value: options.claimedBy });
    }
    if (options.claimedBefore !== undefined) {
      conditions.push('c.claimedDateTime < @before');
      parameters.push({ name: '@before', value: options.claimedBefore.toISOString() });
    }
    if (conditions.length === 0) return [];
    return this.store.query(`SELECT * FROM c WHERE c.type = @type AND c.state = 'sending' AND (${conditions.join(' OR ')})`, parameters);
  }

  /** pending → sending, only if the notice is still as read: the winner sends, everyone else does nothing. */
  async claim(notice: Versioned<MemberNotice>, claimedBy: string): Promise<Versioned<MemberNotice> | undefined> {
    if (notice.value.state !== 'pending') return undefined;
    return this.store.tryReplace({ ...notice.value, state: 'sending', claimedBy, claimedDateTime: this.now().toISOString() }, notice.etag);
  }

  /** The outcome of a claimed (or still pending) notice, if nobody changed it since it was read. */
  async finish(notice: Versioned<MemberNotice>, outcome: { state: 'sent' } | { state: 'unreachable'; reason: string }): Promise<Versioned<MemberNotice> | undefined> {
    const done: MemberNotice = { ...notice.value, state: outcome.state, doneDateTime: this.now().toISOString(), notBeforeDateTime: undefined };
    if (outcome.state === 'unreachable') done.reason = truncate(outcome.reason, LIMITS.reason);
    else delete done.reason;
    return this.store.tryReplace(done, notice.etag);
  }

  /** Back to pending for another try after `delayMs` (a transient failure, or the bot shutting down mid-pass). */
  async retryLater(notice: Versioned<MemberNotice>, delayMs: number, reason: string): Promise<Versioned<MemberNotice> | undefined> {
    const next: MemberNotice = {
      ...notice.value,
      state: 'pending',
      attempts: notice.value.attempts + 1,
      notBeforeDateTime: new Date(this.now().getTime() + delayMs).toISOString(),
      reason: truncate(reason, LIMITS.reason),
      claimedBy: undefined,
      claimedDateTime: undefined,
    };
    return this.store.tryReplace(next, notice.etag);
  }

  async get(tokenId: string, runId: string, clientUserId: string, kind: MemberNotice['kind']): Promise<MemberNotice | undefined> {
    return this.store.get(memberNoticeId(runId, clientUserId, kind), tokenId);
  }

  listForRun(tokenId: string, runId: string): Promise<MemberNotice[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.runId = @runId', [{ name: '@runId', value: runId }], { partitionKey: tokenId });
  }

  /** Every member of the run who could not be reached, by name: the whole list, for the CSV. */
  async unreachable(tokenId: string, runId: string): Promise<MemberNotice[]> {
    const found = await this.store.queryValues("SELECT * FROM c WHERE c.type = @type AND c.runId = @runId AND c.state = 'unreachable'", [{ name: '@runId', value: runId }], { partitionKey: tokenId });
    return found.sort((a, b) => a.member.displayName.localeCompare(b.member.displayName, 'en') || a.member.clientUserId.localeCompare(b.member.clientUserId));
  }

  async counts(tokenId: string, runId: string): Promise<NoticeCounts> {
    const count = async (states: string): Promise<number> => {
      const [n] = await this.store.scalar(`SELECT VALUE COUNT(1) FROM c WHERE c.type = @type AND c.runId = @runId AND (${states})`, [{ name: '@runId', value: runId }], countSchema, { partitionKey: tokenId });
      return n ?? 0;
    };
    const [open, sent, unreachable] = await Promise.all([count("c.state = 'pending' OR c.state = 'sending'"), count("c.state = 'sent'"), count("c.state = 'unreachable'")]);
    return { open, sent, unreachable };
  }

  /** Runs with news for their requester (any token): a cross-partition sweep over one small document per run. */
  openRuns(): Promise<Array<Versioned<MemberNoticeRun>>> {
    return this.runs.query('SELECT * FROM c WHERE c.type = @type AND c.open = true');
  }

  /** open → closed, only if unchanged since read: the one instance that wins sends the summary. */
  claimSummary(run: Versioned<MemberNoticeRun>): Promise<Versioned<MemberNoticeRun> | undefined> {
    if (!run.value.open) return Promise.resolve(undefined);
    return this.runs.tryReplace({ ...run.value, open: false, summaries: run.value.summaries + 1, updatedDateTime: this.now().toISOString() }, run.etag);
  }

  async createExport(entry: MemberNoticeExport): Promise<void> {
    await this.exports.create(entry);
  }

  /**
   * The export whose id (the SHA-256 of a link's secret) is given, if it has not expired. The link carries
   * no token id, so this is a query across partitions; expired entries are deleted when found.
   */
  async findExport(id: string): Promise<MemberNoticeExport | undefined> {
    const [found] = await this.exports.queryValues('SELECT * FROM c WHERE c.type = @type AND c.id = @id', [{ name: '@id', value: id }]);
    if (!found) return undefined;
    if (Date.parse(found.expiresDateTime) > this.now().getTime()) return found;
    await this.exports.delete(found.id, found.tokenId).catch(() => false);
    return undefined;
  }

  /** With the token (TokenService's removal): notices name people and carry their invitation links. */
  async deleteAllForToken(tokenId: string): Promise<number> {
    const counts = await Promise.all([this.store.deletePartition(tokenId), this.runs.deletePartition(tokenId), this.exports.deletePartition(tokenId)]);
    return counts.reduce((a, b) => a + b, 0);
  }
}
