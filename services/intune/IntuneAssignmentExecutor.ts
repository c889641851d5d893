import { RunDelivery } from '../assignments/RunDelivery';
import { randomUUID } from 'node:crypto';
import type { AssignmentOutcome, AssignmentReporter } from '../assignments/reporting';
import { NO_REPORTER } from '../assignments/reporting';
import { runIdentity } from '../assignments/runIdentity';
import { escapeMarkdown } from '../common/chatText';
import { formatCount } from '../common/format';
import { truncate } from '../common/truncate';
import { DirectoryUnavailableError } from '../directory/errors';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import type { EBookAssignment as StoredAssignment } from '../store/entities/assignment';
import { LIMITS, type Actor } from '../store/entities/common';
import { StoreConcurrencyError, isStoreUnavailable } from '../store/errors';
import type { AssignmentRun, AssignmentRunRepository, RunCounts } from '../store/repositories/AssignmentRunRepository';
import { GROUP_TARGET, IntuneRetryAfterError, type EBookAssignment, type IntuneApi } from './IntuneApi';
import { IntuneError } from './IntuneError';
import { coveredAmong, excludedGroupOf, groupOf, intentWord, laterRunGroups, membersOf, type MemberDirectory } from './IntuneAssignmentPlanner';

export interface IntuneAssignmentExecutorOptions {
  store: Store;
  runs: AssignmentRunRepository;
  directory: MemberDirectory;
  intune: Pick<IntuneApi, 'listAssignments' | 'assign'>;
  /** The requester's progress and result card (the same reporter the Apple executor uses). */
  reporter?: AssignmentReporter | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
  /** How long a run's lease lasts without renewal: one instance at a time works on a run. */
  leaseMs?: number | undefined;
  /** Names this executor in leases; unique per process. */
  instanceId?: string | undefined;
  /** How long a run stopped by an Intune outage or throttling waits before the sweep resumes it. */
  resumeDelayMs?: number | undefined;
  /** After a run completed: the budget watcher looks at it at once (groups grown since the request). */
  afterCompleted?: ((run: AssignmentRun) => void) | undefined;
}

const DEFAULT_RESUME_DELAY_MS = 15 * 60_000;
const MAX_RESUME_DELAY_MS = 6 * 60 * 60_000;
/** How long one change of a book's assignment list may hold the book (read, assign, read back). */
const BOOK_LOCK_MS = 5 * 60_000;
const BOOK_LOCK_TRIES = 50;
const BOOK_LOCK_WAIT_MS = 200;

/** A book's assignment as the run document keeps it: intent and target, the target whole. */
type KeptAssignment = NonNullable<AssignmentRun['intuneBefore']>[number];
type GroupMembers = Awaited<ReturnType<typeof membersOf>>;

/**
 * The lock every change of one book's assignment list in Intune takes: `assign` replaces the whole list, so
 * two changes read-modify-writing at once (two runs, or a run and a withdrawal) would lose one of them.
 */
export function bookLockName(tokenId: string, intuneBookId: string): string {
  return `intune-assign|${tokenId}|${intuneBookId}`;
}

/** Waits for a book's lock (another change of its list takes seconds); undefined when it stays taken. */
export async function lockBook(store: Pick<Store, 'leases'>, name: string, owner: string): Promise<Awaited<ReturnType<Store['leases']['acquire']>>> {
  let lock = await store.leases.acquire(name, owner, BOOK_LOCK_MS);
  for (let tries = 1; !lock && tries < BOOK_LOCK_TRIES; tries++) {
    await new Promise((resolve) => setTimeout(resolve, BOOK_LOCK_WAIT_MS));
    lock = await store.leases.acquire(name, owner, BOOK_LOCK_MS);
  }
  return lock;
}

/** The filter fields of a target (beta only): Graph fills in their defaults (null, "none") on the way back. */
const FILTER_ID = 'deviceAndAppManagementAssignmentFilterId';
const FILTER_TYPE = 'deviceAndAppManagementAssignmentFilterType';

const lower = (value: unknown): unknown => (typeof value === 'string' ? value.toLowerCase() : value);

/**
 * Whether Intune's `found` is the assignment `wanted`, whole: the same intent and the same target, its filter
 * included (no filter and Graph's defaults for none are the same), and every other property `wanted` has as it
 * was. Ids are not compared (Graph may give a replaced list new ones); properties only `found` has are Graph's
 * defaults for what was not sent.
 */
function sameAssignment(wanted: Pick<EBookAssignment, 'installIntent' | 'target'>, found: Pick<EBookAssignment, 'installIntent' | 'target'>): boolean {
  if (wanted.installIntent !== found.installIntent) return false;
  const a = wanted.target;
  const b = found.target;
  if (a['@odata.type'].toLowerCase() !== b['@odata.type'].toLowerCase()) return false;
  if ((a.groupId ?? '').toLowerCase() !== (b.groupId ?? '').toLowerCase()) return false;
  if (lower(a[FILTER_ID] ?? null) !== lower(b[FILTER_ID] ?? null)) return false;
  if ((a[FILTER_TYPE] ?? 'none') !== (b[FILTER_TYPE] ?? 'none')) return false;
  // Any other property of a kind of target the bot does not know must have come back as it was.
  for (const [key, value] of Object.entries(a)) {
    if (key === '@odata.type' || key === 'groupId' || key === FILTER_ID || key === FILTER_TYPE) continue;
    if (JSON.stringify(value ?? null) !== JSON.stringify(b[key] ?? null)) return false;
  }
  return true;
}

/** The assignment the bot makes for a run's group: the group as target, no filter, the run's intent. */
function ownAssignment(groupId: string, installIntent: EBookAssignment['installIntent']): Pick<EBookAssignment, 'installIntent' | 'target'> {
  return { installIntent, target: { '@odata.type': GROUP_TARGET, groupId } };
}

/**
 * The run's own assignments in Intune's `list`, by group (lower case): those it recorded making, found by
 * Intune's id, or else by their exact target and intent (Graph does not document whether `assign` keeps ids).
 * Runs delivered before the bot recorded them are known by their groups' exact assignment. An assignment an
 * Intune admin made for the same group (a filter, another intent) is never the run's; one that now only
 * uninstalls spends nothing and is not counted. What cannot be told apart: an admin who deleted the run's
 * assignment and made the very same one again (Intune keeps one assignment per group, so it is that one).
 */
export function ownAssignmentsIn(run: Pick<AssignmentRun, 'groups' | 'installIntent' | 'intuneCreated'>, list: readonly EBookAssignment[]): Map<string, EBookAssignment> {
  const own = new Map<string, EBookAssignment>();
  const made: ReadonlyArray<Pick<EBookAssignment, 'id' | 'installIntent' | 'target'>> = run.intuneCreated ?? run.groups.map((g) => ownAssignment(g.groupId, run.installIntent));
  for (const wanted of made) {
    const byId = wanted.id ? list.find((a) => a.id !== undefined && a.id.toLowerCase() === wanted.id?.toLowerCase()) : undefined;
    const found = byId ?? list.find((a) => sameAssignment(wanted, a));
    const groupId = (wanted.target.groupId ?? '').toLowerCase();
    if (found && found.installIntent !== 'uninstall' && groupId) own.set(groupId, found);
  }
  return own;
}

/** Which of `wanted` are not in `found` (each found assignment answers for one wanted one). */
export function missingFrom(wanted: readonly Pick<EBookAssignment, 'installIntent' | 'target'>[], found: readonly EBookAssignment[]): Array<Pick<EBookAssignment, 'installIntent' | 'target'>> {
  const left = [...found];
  const missing: Array<Pick<EBookAssignment, 'installIntent' | 'target'>> = [];
  for (const w of wanted) {
    const at = left.findIndex((f) => sameAssignment(w, f));
    if (at < 0) missing.push(w);
    else left.splice(at, 1);
  }
  return missing;
}

/** An assignment as chat names it: the group, or the kind of target. */
export function describeTarget(a: Pick<EBookAssignment, 'installIntent' | 'target'>, groupNames: ReadonlyMap<string, string> = new Map()): string {
  const groupId = a.target.groupId;
  const type = a.target['@odata.type'];
  const group = groupId ? `group "${escapeMarkdown(groupNames.get(groupId.toLowerCase()) ?? groupId)}"` : undefined;
  const kind = escapeMarkdown(type.replace(/^#microsoft\.graph\./, ''));
  const who = group && type.toLowerCase() === GROUP_TARGET.toLowerCase() ? group : group ? `${kind} of ${group}` : kind;
  return `${who} (${intentWord(a.installIntent)})`;
}

function kept(a: EBookAssignment): KeptAssignment {
  return { installIntent: a.installIntent, target: a.target };
}

/** What a delivery left in Intune: the run's own assignments as Intune lists them, and what did not come out as sent. */
interface Delivered {
  run: AssignmentRun;
  created: EBookAssignment[];
  /** The run's groups Intune does not show (when others of them are there). */
  absent: string[];
  /** Said on the result and kept as the run's lastError: what is missing, and that the run stands all the same. */
  warning?: string | undefined;
}

class RunStopped extends Error {}

class RunFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What paused a run: Intune throttling or not answering, or our own database or the directory for a while. */
interface PauseCause {
  code: string;
  who: string;
  /** Graph's Retry-After, when it asked for longer than the client waits: the run does not go on before. */
  notBefore?: string | undefined;
}

function pauseCauseOf(err: unknown): PauseCause | undefined {
  if (err instanceof IntuneError && (err.kind === 'throttled' || err.kind === 'unavailable')) {
    return {
      code: err.code,
      who: err.kind === 'throttled' ? 'Microsoft Graph is throttling requests to Intune' : 'Intune is not answering through Microsoft Graph',
      notBefore: err instanceof IntuneRetryAfterError ? err.retryAfter : undefined,
    };
  }
  if (err instanceof DirectoryUnavailableError) return { code: 'graph_unavailable', who: 'Microsoft Graph (the directory) is not answering' };
  if (isStoreUnavailable(err) || err instanceof StoreConcurrencyError) return { code: 'store_unavailable', who: "The bot's database is not answering" };
  return undefined;
}

function pausedMessage(cause: PauseCause, resumeAfter: string): string {
  return `${cause.who} (${cause.code}), so the assignment is paused where it is. It goes on by itself after ${resumeAfter.slice(11, 16)} UTC on ${resumeAfter.slice(0, 10)}, or type **resume** to go on now. Nothing is assigned twice.`;
}

/**
 * Delivers approved assignment runs in Intune mode: the run's groups are added to the book's assignment list
 * in Intune (one `iosVppEBookAssignment` per group, the run's intent), and Intune licenses their members
 * itself. `assign` replaces the whole list, so every assignment read is sent back exactly as read (filters and
 * all), and the list is read back to check that none was lost and every new one is there. Nothing is sent again
 * when it is not: with none of the run's groups there the run fails; with some there it stands (Intune licenses
 * their members), recorded as delivered with a warning, so the budget watcher keeps an eye on it. The assignments
 * the run made are recorded as Intune lists them (`intuneCreated`): only those are ever the run's. The run
 * document, its lease, its states and the requester's result card are the Apple executor's; a resumed run adds
 * only the groups not in Intune yet.
 *
 * Counts: each group's users (each once across the run's groups) are its `processed` and `licensed`, since
 * Intune licenses them all; `spent` is the users of the groups who did not hold the book already through the
 * book's earlier assignments in Intune. Intune's own used count grows only as it works through its queue,
 * minutes later, so it cannot say at once what the delivery spent.
 */
export class IntuneAssignmentExecutor extends RunDelivery {
  private readonly reporter: AssignmentReporter;
  private readonly now: () => Date;
  private readonly resumeDelayMs: number;

  constructor(private readonly options: IntuneAssignmentExecutorOptions) {
    super({ runs: options.runs, leases: options.store.leases, now: options.now ?? (() => new Date()), instanceId: options.instanceId ?? `intune-executor-${randomUUID()}`, leaseMs: options.leaseMs, logger: options.logger });
    this.reporter = options.reporter ?? NO_REPORTER;
    this.now = options.now ?? (() => new Date());
    this.resumeDelayMs = options.resumeDelayMs ?? DEFAULT_RESUME_DELAY_MS;
  }

  start(tokenId: string, runId: string): void {
    void this.execute(tokenId, runId).catch((err: unknown) => this.options.logger?.error({ err, runId }, 'intune assignment run crashed'));
  }

  /** Runs (or joins) a run to its end; undefined when it was not runnable or the executor stopped. */
  execute(tokenId: string, runId: string): Promise<AssignmentOutcome | undefined> {
    const running = this.active.get(runId);
    if (running) return running;
    if (this.abort.signal.aborted) return Promise.resolve(undefined);
    const promise = this.leased(tokenId, runId).finally(() => this.active.delete(runId));
    this.active.set(runId, promise);
    return promise;
  }

  private checkStopped(runId: string): void {
    if (this.abort.signal.aborted || this.lostLeases.has(runId)) throw new RunStopped();
  }

  protected async run(tokenId: string, runId: string): Promise<AssignmentOutcome | undefined> {
    const { runs, store } = this.options;
    const initial = await runs.get(tokenId, runId);
    if (!initial || (initial.state !== 'approved' && initial.state !== 'running' && initial.state !== 'interrupted')) return undefined;
    let run = initial;
    try {
      const token = await store.tokens.get(run.tenantId, run.tokenId);
      if (!token) throw new RunFailure('token_removed', 'The VPP token of this book was removed, so nothing was assigned.');
      if (token.state !== 'valid') {
        throw new RunFailure('token_not_valid', `Intune reports this book's VPP token as ${token.state}, so Intune cannot license the book and nothing was assigned. Type **tokens** to see what to do.`);
      }
      const book = await store.books.get(run.tokenId, run.adamId, run.pricingParam);
      if (!book?.intuneBookId) throw new RunFailure('intune_book_unknown', `Intune no longer lists "${escapeMarkdown(run.bookTitle)}" for this VPP token, so nothing was assigned. Type **sync**, then assign it again.`);
      const bookId = book.intuneBookId;
      run = await this.save(run, (r) => ({ ...r, state: 'running', resumeAfterDateTime: undefined, startedDateTime: r.startedDateTime ?? this.now().toISOString() }));
      await this.markAssignments(run, (a) => (a.status === 'approved' || a.status === 'inProgress' ? { ...a, status: 'inProgress' } : undefined));

      // The groups' users are read before the book's lock is taken: the lock is held for Intune's calls only.
      const members = await membersOf(this.options.directory, run.groups.map((g) => g.groupId));
      const delivered = await this.deliver(run, bookId, members);
      const at = this.now().toISOString();
      const warning = delivered.warning ? { code: 'intune_assignments_mismatch', message: truncate(delivered.warning, LIMITS.message), occurredDateTime: at } : undefined;
      run = await this.save(delivered.run, (r) => ({
        ...r,
        state: 'completed',
        interruptions: undefined,
        lastError: warning,
        intuneCreated: delivered.created.map((a) => ({ ...(a.id ? { id: a.id } : {}), installIntent: a.installIntent, target: a.target })),
        finishedDateTime: at,
      }));
      const absent = new Set(delivered.absent);
      for (const group of run.groups) {
        const missing = absent.has(group.groupId.toLowerCase());
        await this.markAssignment(run, group.assignmentId, (a) => ({
          ...a,
          status: missing ? 'failed' : 'completed',
          lastError: missing ? warning : undefined,
          results: { targetedUsers: group.counts.processed, licensed: missing ? 0 : group.counts.licensed, awaitingInvitation: 0, failed: 0, updatedDateTime: at },
        }));
      }
      const outcome: AssignmentOutcome = { ...this.outcome(run), ...(delivered.warning ? { error: delivered.warning } : {}) };
      await this.audit(run, 'success');
      await this.safely(() => this.reporter.finished(outcome));
      this.options.afterCompleted?.(run);
      return outcome;
    } catch (err) {
      if (err instanceof RunStopped || this.abort.signal.aborted) return undefined;
      const pause = pauseCauseOf(err);
      if (pause) return this.interrupt(run, pause, initial.state === 'interrupted');
      return this.fail(run, err);
    }
  }

  /**
   * Adds the run's groups to the book's list in Intune, under the book's lock: reads the list, keeps every
   * assignment exactly as read, adds one per group not there yet, sends the whole list, and reads it back.
   * What the run spends is recorded before the list is sent, as an Apple batch reserves before it associates.
   *
   * A run's group the book is assigned to in Intune before this run sent anything (no `intuneBefore` yet) was
   * assigned there by someone else since the request: that assignment is not the run's, so the run adopts
   * nothing and fails whole (nothing sent, nothing spent), as for a group given another intent. A resumed run
   * (its list recorded, so it may have sent it) takes a group's assignment for its own only when it is exactly
   * the one the bot makes.
   */
  private async deliver(run: AssignmentRun, bookId: string, members: GroupMembers): Promise<Delivered> {
    const { store, intune } = this.options;
    const lock = await lockBook(store, bookLockName(run.tokenId, bookId), `${this.instanceId}|${run.id}`);
    if (!lock) throw new IntuneBookBusy();
    try {
      this.checkStopped(run.id);
      const current = await intune.listAssignments(bookId);
      this.refuseForeign(run, current);
      const ownGroups = new Set(run.groups.map((g) => g.groupId.toLowerCase()));
      const present = new Set(current.map(groupOf).filter((g): g is string => g !== undefined));
      const adding = run.groups.filter((g) => !present.has(g.groupId.toLowerCase()));
      // What was there before this run's groups: read now, or (when a stop came after the list was sent) as
      // recorded then, so a resumed run still checks that none of them was lost.
      const before = adding.length > 0 || !run.intuneBefore ? current.filter((a) => !ownGroups.has(groupOf(a) ?? '')).map(kept) : run.intuneBefore;
      if (adding.length > 0 || run.spent === undefined) run = await this.record(run, before, members);
      if (adding.length > 0) {
        this.checkStopped(run.id);
        const added: EBookAssignment[] = adding.map((g) => ownAssignment(g.groupId, run.installIntent));
        // Every assignment exactly as it was read (unknown kinds of target, filters), then the new ones.
        await intune.assign(bookId, [...current, ...added]);
      }
      return { run, ...this.verify(run, before, await intune.listAssignments(bookId)) };
    } finally {
      await store.leases.release(lock).catch(() => false);
    }
  }

  /**
   * Refuses, before anything is sent, groups whose assignment in Intune is not the run's to make: excluded from
   * the book, given another intent, or assigned by someone else since the request (see `deliver`).
   */
  private refuseForeign(run: AssignmentRun, current: readonly EBookAssignment[]): void {
    const title = escapeMarkdown(run.bookTitle);
    const named = (groups: ReadonlyArray<{ groupName: string }>): string => groups.map((g) => `"${escapeMarkdown(g.groupName)}"`).join(', ');
    const excluded = new Set(current.map(excludedGroupOf).filter((g): g is string => g !== undefined));
    const excludedGroups = run.groups.filter((g) => excluded.has(g.groupId.toLowerCase()));
    if (excludedGroups.length > 0) {
      throw new RunFailure(
        'intune_group_excluded',
        `"${title}" was set in Intune to leave out ${named(excludedGroups)} since the request (an exclusion), so Intune would give nobody in ${excludedGroups.length === 1 ? 'it' : 'them'} the book. Nothing was assigned and nothing is spent by this request: remove the exclusion in the Intune admin center (Apps › eBooks › "${title}" › Properties › Assignments), then ask again.`,
      );
    }
    const present = new Map<string, EBookAssignment>();
    for (const a of current) {
      const groupId = groupOf(a);
      if (groupId) present.set(groupId, a);
    }
    // A group given another intent in Intune since the request: Intune keeps one per group, and only Intune changes it.
    const clashes = run.groups.filter((g) => {
      const there = present.get(g.groupId.toLowerCase());
      return there !== undefined && there.installIntent !== run.installIntent;
    });
    if (clashes.length > 0) {
      const names = clashes.map((g) => `"${escapeMarkdown(g.groupName)}" (${intentWord(present.get(g.groupId.toLowerCase())?.installIntent ?? 'available')})`).join(', ');
      throw new RunFailure(
        'intune_intent_conflict',
        `"${title}" was assigned in Intune to ${names} with another intent since the request. Intune keeps one intent per group and book, so nothing was assigned: change it in the Intune admin center, or ask again for the other groups.`,
      );
    }
    const own = run.intuneBefore ? ownAssignmentsIn(run, current) : new Map<string, EBookAssignment>();
    const taken = run.groups.filter((g) => present.has(g.groupId.toLowerCase()) && !own.has(g.groupId.toLowerCase()));
    if (taken.length > 0) {
      throw new RunFailure(
        'intune_assigned_meanwhile',
        `"${title}" was assigned in Intune to ${named(taken)} since the request, by someone in the Intune admin center. That assignment is not this request's, so the bot leaves it as it is: nothing was assigned and nothing is spent by this request. Ask again for the other groups.`,
      );
    }
  }

  /**
   * Records what the delivery does, before the list is sent: each group's users (each once across the run's
   * groups) are processed and licensed, since Intune licenses them all; the run spends those who did not hold
   * the book already through its earlier assignments (not this run's groups, nor those of runs asked for after
   * it). A reduced scope cannot be kept in Intune, which assigns whole groups: such a run stops here.
   */
  private async record(run: AssignmentRun, before: KeptAssignment[], members: GroupMembers): Promise<AssignmentRun> {
    const later = laterRunGroups(run, await this.options.runs.listByBook(run.tokenId, run.adamId, run.pricingParam));
    const exclude = new Set([...run.groups.map((g) => g.groupId.toLowerCase()), ...later]);
    const covered = await coveredAmong(this.options.directory, before, members.all, exclude);
    const spent = members.all.size - covered.size;
    if (run.userLimit !== undefined && spent > run.userLimit) {
      throw new RunFailure(
        'intune_whole_groups',
        `Intune assigns a book to whole groups, so it cannot be given to the first ${formatCount(run.userLimit)} users only: the groups hold ${formatCount(spent)} users who would get a license. Nothing was assigned. Ask again once enough licenses are free, or for smaller groups.`,
      );
    }
    this.checkStopped(run.id);
    const counts = (n: number): RunCounts => ({ processed: n, licensed: n, awaitingInvitation: 0, failed: 0 });
    return this.save(run, (r) => ({
      ...r,
      intuneBefore: before,
      groups: r.groups.map((g, i) => ({ ...g, done: true, counts: counts(members.perGroup[i] ?? 0) })),
      totals: counts(members.all.size),
      spent,
      batchesCompleted: Math.max(1, r.batchesCompleted),
    }));
  }

  /**
   * Every earlier assignment, whole (filters and all), and every one of the run's groups must be in the list
   * Intune answers now. When none of the run's groups is there, the run fails (nothing of it stands). When some
   * are, Intune licenses their members whatever else went wrong: the run is recorded as delivered, so its budget
   * is watched, with a warning saying what is missing.
   */
  private verify(run: AssignmentRun, before: readonly KeptAssignment[], after: readonly EBookAssignment[]): Omit<Delivered, 'run'> {
    const names = new Map(run.groups.map((g) => [g.groupId.toLowerCase(), g.groupName]));
    const lost = missingFrom(before, after);
    const own = ownAssignmentsIn(run, after);
    const absent = run.groups.filter((g) => !own.has(g.groupId.toLowerCase()));
    const created = [...own.values()];
    if (lost.length === 0 && absent.length === 0) return { created, absent: [] };
    const parts: string[] = [];
    if (absent.length > 0) parts.push(`Intune's list does not show the book assigned to ${absent.map((g) => describeTarget(ownAssignment(g.groupId, run.installIntent), names)).join(', ')}`);
    if (lost.length > 0) parts.push(`Intune's list no longer shows ${formatCount(lost.length)} assignment${lost.length === 1 ? '' : 's'} the book had before: ${lost.slice(0, 10).map((a) => describeTarget(a)).join(', ')}`);
    const check = `check the book's assignments in the Intune admin center (Apps › eBooks › "${escapeMarkdown(run.bookTitle)}" › Properties › Assignments) and put back what is missing`;
    if (created.length === 0) {
      throw new RunFailure(
        'intune_assignments_mismatch',
        `After the change, ${parts.join('; and ')}. None of this request's groups is assigned in Intune, so it is recorded as failed. The bot did not try again: ${check}.`,
      );
    }
    const standing = run.groups.filter((g) => own.has(g.groupId.toLowerCase())).map((g) => `"${escapeMarkdown(g.groupName)}"`);
    return {
      created,
      absent: absent.map((g) => g.groupId.toLowerCase()),
      warning: `After the change, ${parts.join('; and ')}. ${standing.join(', ')} ${standing.length === 1 ? 'is' : 'are'} assigned in Intune, so the assignment is recorded as delivered and its budget is watched. The bot did not try again: ${check}.`,
    };
  }

  private async interrupt(run: AssignmentRun, cause: PauseCause, alreadyPaused: boolean): Promise<AssignmentOutcome | undefined> {
    const interruptions = (run.interruptions ?? 0) + 1;
    const delay = Math.min(this.resumeDelayMs * 2 ** (interruptions - 1), MAX_RESUME_DELAY_MS);
    const at = this.now();
    // Never before Graph's Retry-After, however long it asked for.
    const resumeAt = Math.max(at.getTime() + delay, cause.notBefore ? Date.parse(cause.notBefore) : 0);
    const resumeAfter = new Date(resumeAt).toISOString();
    const message = pausedMessage(cause, resumeAfter);
    const lastError = { code: truncate(cause.code, LIMITS.errorCode), message: truncate(message, LIMITS.message), occurredDateTime: at.toISOString() };
    this.options.logger?.warn({ runId: run.id, code: cause.code, resumeAfter }, 'intune assignment run interrupted; it resumes later');
    let paused = run;
    try {
      paused = await this.save(run, (r) => ({ ...r, state: 'interrupted', resumeAfterDateTime: resumeAfter, interruptions, lastError }));
    } catch (saveErr) {
      this.options.logger?.error({ err: saveErr, runId: run.id }, 'could not record an interrupted assignment run');
    }
    await this.audit(paused, 'interrupted');
    const outcome: AssignmentOutcome = { ...this.outcome(paused), state: 'interrupted', resumeAfter, error: message };
    if (!alreadyPaused) await this.safely(() => this.reporter.finished(outcome));
    return outcome;
  }

  private async fail(run: AssignmentRun, err: unknown): Promise<AssignmentOutcome | undefined> {
    const code = err instanceof RunFailure || err instanceof IntuneError ? err.code : 'internal';
    const message =
      err instanceof RunFailure ? err.message : err instanceof IntuneError ? err.userMessage : 'Something went wrong assigning the book in Intune; the bot logged the details.';
    this.options.logger?.error({ err, runId: run.id }, 'intune assignment run failed');
    const lastError = { code: truncate(code, LIMITS.errorCode), message: truncate(message, LIMITS.message), occurredDateTime: this.now().toISOString() };
    let failed = run;
    try {
      failed = await this.save(run, (r) => ({ ...r, state: r.pass ? 'completed' : 'failed', lastError, finishedDateTime: this.now().toISOString() }));
      for (const group of failed.groups) await this.markAssignment(failed, group.assignmentId, (a) => ({ ...a, status: 'failed', lastError }));
      await this.audit(failed, 'failure');
    } catch (saveErr) {
      this.options.logger?.error({ err: saveErr, runId: run.id }, 'could not record a failed assignment run');
    }
    const outcome: AssignmentOutcome = { ...this.outcome(failed), state: 'failed', error: message };
    await this.safely(() => this.reporter.finished(outcome));
    return outcome;
  }

  private outcome(run: AssignmentRun): AssignmentOutcome {
    return {
      ...runIdentity(run),
      state: run.state === 'completed' ? 'completed' : 'failed',
      totals: run.totals,
      groups: run.groups.map((g) => ({ groupName: g.groupName, counts: g.counts })),
      budget: run.budget,
      failureReasons: [],
      failedUsers: [],
      invitedUsers: [],
    };
  }

  private async save(run: AssignmentRun, mutate: (r: AssignmentRun) => AssignmentRun | undefined): Promise<AssignmentRun> {
    const result = await this.options.runs.update(run.tokenId, run.id, mutate);
    if (!result) throw new RunFailure('run_missing', 'The assignment record disappeared, so the assignment stopped.');
    return result.value;
  }

  private async markAssignments(run: AssignmentRun, mutate: (a: StoredAssignment) => StoredAssignment | undefined): Promise<void> {
    for (const group of run.groups) await this.markAssignment(run, group.assignmentId, mutate);
  }

  private async markAssignment(run: AssignmentRun, assignmentId: string, mutate: (a: StoredAssignment) => StoredAssignment | undefined): Promise<void> {
    await this.options.store.assignments.update(run.tokenId, assignmentId, mutate);
  }

  protected async audit(run: AssignmentRun, outcome: 'success' | 'failure' | 'interrupted' | 'resumed', by?: Actor): Promise<void> {
    await this.safely(() =>
      this.options.store.audit.record({
        tenantId: run.tenantId,
        actor: by ? { aadObjectId: by.aadObjectId, displayName: by.displayName } : { system: 'assignment-executor' },
        action: outcome === 'resumed' ? 'assignment.resume' : outcome === 'interrupted' ? 'assignment.interrupt' : 'assignment.execute',
        target: { type: 'book', id: `${run.adamId}|${run.pricingParam}`, name: truncate(run.bookTitle, LIMITS.title) },
        tokenId: run.tokenId,
        outcome: outcome === 'interrupted' ? 'failure' : outcome === 'resumed' ? 'success' : outcome,
        details: { approvalId: run.approvalId, backend: 'intune', processed: run.totals.processed, licensed: run.totals.licensed, spent: run.spent ?? 0 },
      }),
    );
  }

  /** Reports and audits must not undo a delivery that happened; their failures are only logged. */
  private async safely(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      this.options.logger?.warn({ err }, 'assignment side effect failed');
    }
  }
}

/** Another change of the book's assignment list held it too long: the run pauses like for an outage. */
class IntuneBookBusy extends IntuneError {
  constructor() {
    super('Another change of this book\'s assignments in Intune is under way.', 'intune_book_busy', 'unavailable');
  }
}
