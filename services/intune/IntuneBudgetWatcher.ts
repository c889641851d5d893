import { formatDate } from '../common/format';
import { randomUUID } from 'node:crypto';
import type { StandingAssignments } from '../backend/ports';
import type { TopUpRequester } from '../assignments/StandingAssignmentReconciler';
import type { RunReconciliation } from '../assignments/runReconciliation';
import { escapeMarkdown } from '../common/chatText';
import { truncate } from '../common/truncate';
import { UserFacing } from '../errors';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import { LIMITS } from '../store/entities/common';
import type { AssignmentRun, AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import { IntuneRetryAfterError, type EBookAssignment, type IntuneApi } from './IntuneApi';
import { bookLockName, describeTarget, lockBook, missingFrom, ownAssignmentsIn } from './IntuneAssignmentExecutor';
import { coveredAmong, laterRunGroups, membersOf, type MemberDirectory } from './IntuneAssignmentPlanner';

export interface IntuneBudgetWatcherOptions {
  store: Store;
  runs: AssignmentRunRepository;
  directory: MemberDirectory;
  intune: Pick<IntuneApi, 'listAssignments' | 'assign'>;
  /** Asks the approvers for more licenses (the ApprovalService), as the Apple reconciler does. */
  topUps: TopUpRequester;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
  instanceId?: string | undefined;
  /** How long one look at one assignment may hold it. */
  leaseMs?: number | undefined;
  /**
   * How long a refused top-up's withdrawal that did not go through (the book's list busy, Intune not answering)
   * waits before each next try, in turn; the last one repeats until it goes through or the watcher stops.
   */
  withdrawRetryDelaysMs?: readonly number[] | undefined;
  /** The timers those retries wait on (tests pass fake ones). */
  timers?: Pick<typeof globalThis, 'setTimeout' | 'clearTimeout'> | undefined;
}

const DEFAULT_LEASE_MS = 5 * 60_000;
const DEFAULT_WITHDRAW_RETRY_DELAYS_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000];

/** How the top-up was refused, in words: an approver's rejection, or nobody deciding in time (Intune mode counts it as one). */
function refusal(run: AssignmentRun): string {
  return run.topUp?.expired ? 'not decided in time' : 'rejected';
}

function emptyResult(run: AssignmentRun | undefined, runId = run?.id ?? '', tokenId = run?.tokenId ?? ''): RunReconciliation {
  return { runId, tokenId, bookTitle: run?.bookTitle ?? '', state: 'skipped', groups: [], licensing: 0, waiting: 0 };
}

/**
 * Keeps Intune assignments within their approved budget (Intune mode's StandingAssignments). Intune licenses
 * whoever joins an assigned group by itself, so the budget is kept by watching: after each sync, on
 * `reconcile`, right after a delivery and after a top-up decision, each delivered assignment's groups are
 * counted (their users who do not hold the book through an earlier assignment). When they hold more users than
 * the approved budget (top-ups included), the approvers are asked, once per number, for exactly the excess.
 * When such a top-up is refused (or, in Intune mode, expires undecided), the run's own assignments are taken off
 * the book in Intune (the rest of its list is kept as it was, an Intune admin's assignments of the same groups
 * included), so Intune spends no more licenses on them; licenses already spent stay with their users. A
 * withdrawal that does not go through is tried again in the background after 1, 5, 15 and then every 60 minutes,
 * not only after the next sync. A run whose assignments were removed in Intune itself is reported as such, and no
 * top-up is asked for it: Intune licenses nobody more through it.
 *
 * `spent` only grows: members who left keep their licenses. Someone who joins as another leaves between two
 * looks is not seen (the count stays the same) though Intune licensed them; the next count that grows shows it.
 */
export class IntuneBudgetWatcher implements StandingAssignments {
  private readonly now: () => Date;
  private readonly instanceId: string;
  private readonly leaseMs: number;
  private readonly background = new Set<Promise<void>>();
  private readonly inFlight = new Map<string, Promise<RunReconciliation>>();
  private readonly retryDelaysMs: readonly number[];
  private readonly timers: Pick<typeof globalThis, 'setTimeout' | 'clearTimeout'>;
  /** Withdrawals waiting for their next try, by run: the tries so far and the timer. */
  private readonly retries = new Map<string, { tries: number; timer?: ReturnType<typeof setTimeout> | undefined }>();
  private stopped = false;

  constructor(private readonly options: IntuneBudgetWatcherOptions) {
    this.now = options.now ?? (() => new Date());
    this.instanceId = options.instanceId ?? `intune-watcher-${randomUUID()}`;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.retryDelaysMs = options.withdrawRetryDelaysMs && options.withdrawRetryDelaysMs.length > 0 ? options.withdrawRetryDelaysMs : DEFAULT_WITHDRAW_RETRY_DELAYS_MS;
    this.timers = options.timers ?? globalThis;
  }

  async reconcileToken(tokenId: string, book?: { adamId: string; pricingParam: string }): Promise<RunReconciliation[]> {
    const results: RunReconciliation[] = [];
    for (const run of await this.options.runs.listStanding(tokenId, book)) {
      // Taken off the book in Intune after a refused top-up: nothing stands any more, nothing to report.
      if (run.withdrawnFromIntune) continue;
      try {
        results.push(await this.reconcileRun(run.tokenId, run.id));
      } catch (err) {
        // One assignment's trouble (Graph or Intune down) must not keep the others from being looked at.
        this.options.logger?.warn({ err, runId: run.id }, 'watching an Intune assignment failed; the next round tries again');
        results.push({ ...emptyResult(run), state: 'skipped', reason: err instanceof UserFacing ? err.userMessage : 'The directory or Intune did not answer; it is tried again after the next sync.' });
      }
    }
    return results;
  }

  afterSync(tokenId: string): void {
    if (this.stopped) return;
    this.track(() => this.reconcileToken(tokenId), tokenId);
  }

  /**
   * After a round of syncs, whatever came of it: every token's assignments are looked at, those whose sync
   * failed, did not start or was skipped included. Intune licenses newcomers whether or not its sync with Apple
   * worked, so the budget is watched all the same.
   */
  afterRound(): void {
    if (this.stopped) return;
    this.track(async () => {
      for (const token of await this.options.store.tokens.listAll()) {
        if (this.stopped) return;
        await this.reconcileToken(token.id);
      }
    }, 'sync round');
  }

  /** Right after a delivery: groups that grew between the request and the delivery are asked for at once. */
  afterDelivery(tokenId: string, runId: string): void {
    this.track(() => this.reconcileRun(tokenId, runId), runId);
  }

  /** The budget grew: looked at again (more may have joined while the top-up waited). */
  topUpApproved(tokenId: string, runId: string): void {
    this.track(() => this.reconcileRun(tokenId, runId), runId);
  }

  /** Refused (or expired): the run's groups come off the book in Intune now, not at the next sync. */
  topUpDeclined(tokenId: string, runId: string): void {
    this.track(() => this.reconcileRun(tokenId, runId), runId);
  }

  /** Waits for the looks under way (not for withdrawals waiting for their next try). */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Withdrawals waiting for their next try, by run id. */
  pendingWithdrawals(): string[] {
    return [...this.retries.keys()];
  }

  /** No more tries are started; those waiting are dropped (the next sync after a restart finds them again). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const retry of this.retries.values()) if (retry.timer !== undefined) this.timers.clearTimeout(retry.timer);
    this.retries.clear();
    await this.idle();
  }

  private track(work: () => Promise<unknown>, subject: string): void {
    const promise: Promise<void> = work()
      .then(() => undefined)
      .catch((err: unknown) => this.options.logger?.warn({ err, subject }, 'a background look at an Intune assignment failed; the next one tries again'))
      .finally(() => this.background.delete(promise));
    this.background.add(promise);
  }

  /** One assignment, under the reconciler's lease; looks at one run asked for meanwhile wait their turn. */
  async reconcileRun(tokenId: string, runId: string): Promise<RunReconciliation> {
    const before = this.inFlight.get(runId) ?? Promise.resolve(undefined);
    const mine = before.catch(() => undefined).then(() => this.withLease(tokenId, runId));
    this.inFlight.set(runId, mine);
    try {
      return await mine;
    } finally {
      if (this.inFlight.get(runId) === mine) this.inFlight.delete(runId);
    }
  }

  private async withLease(tokenId: string, runId: string): Promise<RunReconciliation> {
    const { leases } = this.options.store;
    const lease = await leases.acquire(`reconcile|${runId}`, this.instanceId, this.leaseMs);
    if (!lease) {
      const run = await this.options.runs.get(tokenId, runId);
      return { ...emptyResult(run, runId, tokenId), state: 'busy', reason: 'Another instance is looking at it right now.' };
    }
    try {
      return await this.look(tokenId, runId);
    } finally {
      await leases.release(lease).catch(() => false);
    }
  }

  private async look(tokenId: string, runId: string): Promise<RunReconciliation> {
    const { store, runs } = this.options;
    const run = await runs.get(tokenId, runId);
    if (!run) return { ...emptyResult(undefined, runId, tokenId), state: 'skipped', reason: 'The assignment no longer exists.' };
    if (run.withdrawnFromIntune) return { ...emptyResult(run), state: 'skipped', reason: 'Its groups were taken off the book in Intune after a top-up was rejected.' };
    if (run.state !== 'completed') return { ...emptyResult(run), state: 'busy', reason: 'Its delivery is still under way.' };
    if (run.budget === undefined) return { ...emptyResult(run), state: 'skipped', reason: 'It was approved before approvals carried a license budget.' };
    const token = await store.tokens.get(run.tenantId, run.tokenId);
    if (!token || token.state !== 'valid') return { ...emptyResult(run), state: 'skipped', reason: 'Its VPP token is not valid.' };
    const book = await store.books.get(run.tokenId, run.adamId, run.pricingParam);
    if (!book?.intuneBookId) return { ...emptyResult(run), state: 'skipped', reason: 'Intune no longer lists the book for this VPP token.' };

    if (run.topUp?.state === 'declined') return this.withdrawOrRetry(run, book.intuneBookId);
    return this.count(run, book.intuneBookId);
  }

  /** A withdrawal that did not go through is tried again soon, in the background, until it does. */
  private async withdrawOrRetry(run: AssignmentRun, bookId: string): Promise<RunReconciliation> {
    let result: RunReconciliation;
    try {
      result = await this.withdraw(run, bookId);
    } catch (err) {
      this.retryWithdrawal(run, err);
      throw err;
    }
    if (result.state === 'reconciled') {
      const retry = this.retries.get(run.id);
      if (retry?.timer !== undefined) this.timers.clearTimeout(retry.timer);
      this.retries.delete(run.id);
    } else {
      this.retryWithdrawal(run);
    }
    return result;
  }

  /** Schedules the next try (one at a time per run): 1, 5, 15, then every 60 minutes, never before Graph's Retry-After. */
  private retryWithdrawal(run: AssignmentRun, err?: unknown): void {
    if (this.stopped) return;
    const retry = this.retries.get(run.id) ?? { tries: 0 };
    if (retry.timer !== undefined) return;
    const planned = this.retryDelaysMs[Math.min(retry.tries, this.retryDelaysMs.length - 1)] ?? 60_000;
    const asked = err instanceof IntuneRetryAfterError ? Date.parse(err.retryAfter) - this.now().getTime() : 0;
    const delay = Math.max(planned, asked);
    retry.tries++;
    retry.timer = this.timers.setTimeout(() => {
      retry.timer = undefined;
      if (this.stopped) return;
      this.track(() => this.reconcileRun(run.tokenId, run.id), run.id);
    }, delay);
    // A waiting retry must not keep the process alive.
    (retry.timer as { unref?: () => void }).unref?.();
    this.retries.set(run.id, retry);
    this.options.logger?.warn({ runId: run.id, tries: retry.tries, delayMs: delay }, "taking a run's groups off a book in Intune did not go through; trying again later");
  }

  /**
   * Counts the run's groups now against its budget and asks for exactly the excess. Members who hold the book
   * through an earlier assignment (another group's, or all licensed users) cost this run nothing.
   */
  private async count(run: AssignmentRun, bookId: string): Promise<RunReconciliation> {
    const { runs } = this.options;
    const assignments = await this.options.intune.listAssignments(bookId);
    // Only the groups whose assignment of the run still stands in Intune license anyone more.
    const own = ownAssignmentsIn(run, assignments);
    if (own.size === 0) return this.removedInIntune(run);
    const standing = run.groups.map((g) => own.has(g.groupId.toLowerCase()));
    const counted = await membersOf(this.options.directory, run.groups.filter((_, i) => standing[i]).map((g) => g.groupId));
    const all = counted.all;
    const perGroup: Array<number | undefined> = [];
    for (let i = 0, next = 0; i < run.groups.length; i++) perGroup.push(standing[i] ? counted.perGroup[next++] : undefined);
    const later = laterRunGroups(run, await runs.listByBook(run.tokenId, run.adamId, run.pricingParam));
    const covered = await coveredAmong(this.options.directory, assignments, all, new Set([...run.groups.map((g) => g.groupId.toLowerCase()), ...later]));
    const usersNow = all.size - covered.size;

    // Intune licensed whoever joined: the high-water mark is what it has spent (people who left keep theirs).
    const updated = await runs.update(run.tokenId, run.id, (r) => {
      if (r.state !== 'completed' || r.withdrawnFromIntune) return undefined;
      const groups = r.groups.map((g, i) => {
        const n = Math.max(g.counts.processed, perGroup[i] ?? 0);
        return n === g.counts.processed ? g : { ...g, counts: { ...g.counts, processed: n, licensed: n } };
      });
      const spent = Math.max(r.spent ?? 0, usersNow);
      if (spent === r.spent && groups.every((g, i) => g === r.groups[i])) return undefined;
      const sum = groups.reduce((n, g) => n + g.counts.processed, 0);
      return { ...r, groups, totals: { ...r.totals, processed: sum, licensed: sum }, spent };
    });
    const current = updated?.value ?? (await runs.get(run.tokenId, run.id)) ?? run;
    const groups = current.groups.map((g, i) => {
      const joined = Math.max(0, g.counts.processed - (run.groups[i]?.counts.processed ?? g.counts.processed));
      return { groupName: g.groupName, joined, left: 0, licensing: joined, inviting: 0, offering: 0, waiting: 0 };
    });
    const result: RunReconciliation = { ...emptyResult(current), state: 'reconciled', groups, licensing: groups.reduce((n, g) => n + g.licensing, 0), waiting: 0 };

    const excess = (current.spent ?? 0) - (current.budget ?? 0);
    try {
      if (excess > 0) {
        const asked = await this.options.topUps.requestTopUp({ run: current, count: excess, groupNames: current.groups.map((g) => g.groupName) });
        result.topUp = { outcome: asked.outcome, count: excess };
      } else if (current.topUp?.state === 'pending') {
        const dropped = await this.options.topUps.requestTopUp({ run: current, count: 0, groupNames: [] });
        if (dropped.outcome === 'withdrawn') result.topUp = { outcome: 'withdrawn', count: 0 };
      }
    } catch (err) {
      if (!(err instanceof UserFacing)) throw err;
      result.topUp = { outcome: 'failed', count: Math.max(0, excess), message: err.userMessage };
    }
    return result;
  }

  /**
   * None of the run's assignments is in Intune's list any more: someone removed them there, so Intune licenses
   * nobody more through the run. Nothing is asked for it, and a top-up waiting for an answer is withdrawn.
   */
  private async removedInIntune(run: AssignmentRun): Promise<RunReconciliation> {
    const result: RunReconciliation = {
      ...emptyResult(run),
      state: 'skipped',
      reason: `Its groups' assignment of the book was removed in Intune (${run.groups.map((g) => `"${escapeMarkdown(g.groupName)}"`).join(', ')}), so Intune licenses nobody more through it and no more licenses are asked for it.`,
    };
    if (run.topUp?.state === 'pending') {
      try {
        const dropped = await this.options.topUps.requestTopUp({ run, count: 0, groupNames: [] });
        if (dropped.outcome === 'withdrawn') result.topUp = { outcome: 'withdrawn', count: 0 };
      } catch (err) {
        if (!(err instanceof UserFacing)) throw err;
        result.topUp = { outcome: 'failed', count: 0, message: err.userMessage };
      }
    }
    return result;
  }

  /**
   * The top-up was refused: the run's group assignments come off the book in Intune, under the book's lock, and
   * everything else in its list is sent back as it was read. Read back: the groups must be gone and the rest
   * there; otherwise nothing is recorded and the next look tries again (the list is read afresh each time).
   */
  private async withdraw(run: AssignmentRun, bookId: string): Promise<RunReconciliation> {
    const { store, intune } = this.options;
    // Only the assignments the run made, as it recorded them: an Intune admin's for the same groups stay.
    const ownIn = (list: readonly EBookAssignment[]): Set<EBookAssignment> => new Set(ownAssignmentsIn(run, list).values());
    const lock = await lockBook(store, bookLockName(run.tokenId, bookId), `${this.instanceId}|${run.id}`);
    if (!lock) return { ...emptyResult(run), state: 'busy', reason: "Another change of the book's assignments in Intune is under way; the bot tries again shortly." };
    let removed: EBookAssignment[];
    try {
      const current = await intune.listAssignments(bookId);
      const ours = ownIn(current);
      removed = current.filter((a) => ours.has(a));
      const keep = current.filter((a) => !ours.has(a));
      if (removed.length > 0) {
        await intune.assign(bookId, keep);
        const after = await intune.listAssignments(bookId);
        const lost = missingFrom(keep, after);
        const stayed = [...ownIn(after)];
        if (lost.length > 0 || stayed.length > 0) {
          const names = new Map(run.groups.map((g) => [g.groupId.toLowerCase(), g.groupName]));
          const what = [
            ...(stayed.length > 0 ? [`still shows ${stayed.map((a) => describeTarget(a, names)).join(', ')}`] : []),
            ...(lost.length > 0 ? [`no longer shows ${lost.slice(0, 10).map((a) => describeTarget(a)).join(', ')}`] : []),
          ].join(' and ');
          this.options.logger?.error({ runId: run.id, lost: lost.length, stayed: stayed.length }, "taking a run's groups off a book in Intune did not come out as sent");
          return {
            ...emptyResult(run),
            state: 'skipped',
            reason: `Taking its groups off the book in Intune did not come out as sent: Intune's list ${what}. Check the book's assignments in the Intune admin center; the bot tries again shortly.`,
          };
        }
      }
    } finally {
      await store.leases.release(lock).catch(() => false);
    }
    const at = this.now().toISOString();
    await this.options.runs.update(run.tokenId, run.id, (r) => (r.withdrawnFromIntune ? undefined : { ...r, withdrawnFromIntune: at }));
    const lastError = {
      code: 'intune_withdrawn',
      message: truncate(`The top-up was ${refusal(run)}, so I took this group off "${escapeMarkdown(run.bookTitle)}" in Intune on ${formatDate(at)}. Licenses already spent stay with their users.`, LIMITS.message),
      occurredDateTime: at,
    };
    for (const group of run.groups) await store.assignments.update(run.tokenId, group.assignmentId, (a) => (a.approvalId === run.approvalId ? { ...a, lastError } : undefined));
    await this.audit(run, removed.length);
    return {
      ...emptyResult(run),
      state: 'reconciled',
      reason: `The top-up was ${refusal(run)}, so I took ${run.groups.map((g) => `"${escapeMarkdown(g.groupName)}"`).join(', ')} off the book in Intune: Intune spends no more licenses on them (licenses already spent stay).`,
    };
  }

  private async audit(run: AssignmentRun, removed: number): Promise<void> {
    try {
      await this.options.store.audit.record({
        tenantId: run.tenantId,
        actor: { system: 'intune-budget-watcher' },
        action: 'assignment.withdrawFromIntune',
        target: { type: 'book', id: `${run.adamId}|${run.pricingParam}`, name: truncate(run.bookTitle, LIMITS.title) },
        tokenId: run.tokenId,
        outcome: 'success',
        details: { approvalId: run.approvalId, topUpApprovalId: run.topUp?.approvalId ?? '', removed },
      });
    } catch (err) {
      this.options.logger?.warn({ err }, 'could not audit an Intune withdrawal');
    }
  }
}
