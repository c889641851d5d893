import { RunDelivery } from './RunDelivery';
import { randomUUID } from 'node:crypto';
import type { AppleBooksClient, AsyncOperationResult, UserRequest, VppUser as AppleVppUser } from '../apple/AppleBooksClient';
import { VppError } from '../apple/VppError';
import { DirectoryUnavailableError } from '../directory/errors';
import { StoreConcurrencyError, isStoreUnavailable } from '../store/errors';
import { forEachLimited } from '../common/forEachLimited';
import { escapeMarkdown } from '../common/chatText';
import type { DirectoryUser } from '../directory/GraphDirectory';
import { validEmail } from '../common/email';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import type { EBookAssignment } from '../store/entities/assignment';
import { LIMITS, type Actor } from '../store/entities/common';
import { truncate } from '../common/truncate';
import type { VppToken } from '../store/entities/vppToken';
import type { VppUser } from '../store/entities/vppUser';
import type { AssignmentRun, AssignmentRunRepository, RunCounts } from '../store/repositories/AssignmentRunRepository';
import {
  advance,
  batchMarker,
  creationFailures,
  earlierReservation,
  extendReservation,
  isBatch,
  judgeAssociate,
  needingLicense,
  offerCounts,
  recordBatch,
  reserve,
  tallyBatch,
  toAssociate,
  toCreate,
  withinBudget,
  type BatchMarker,
  type BatchTally,
  type UserFailure,
} from './batchTally';
import { bookHolders, listMembersSorted, type AppleClientProvider, type AssignmentDirectory } from './ports';
import { NO_REPORTER, type AssignmentOutcome, type AssignmentReporter } from './reporting';
import { NO_MEMBER_NOTICES, type MemberNotices } from './memberNotices';
import { noticeRunOf, refreshBookCounts, runIdentity } from './runIdentity';

export interface AssignmentExecutorOptions {
  store: Store;
  runs: AssignmentRunRepository;
  directory: AssignmentDirectory;
  clients: AppleClientProvider;
  reporter?: AssignmentReporter;
  logger?: Logger;
  /** A progress report each time this many more users are done; large groups take a while. */
  progressEveryUsers?: number;
  /** Apple /status polling for this executor's events (production: the client's 30 s default). */
  wait?: { intervalMs?: number; timeoutMs?: number };
  now?: () => Date;
  /**
   * How long a run's lease lasts without renewal. With several bot instances, only the lease holder works
   * on a run; a crashed holder's lease runs out and another instance's `resumeAll` takes the run over.
   */
  leaseMs?: number;
  /** Names this executor in leases; unique per process. */
  instanceId?: string;
  /** How long a run stopped by an Apple outage waits before the sweep resumes it. */
  resumeDelayMs?: number;
  /** Called when Apple says another MDM took the token over mid-run: admins are to be told. */
  onTokenTakenOver?: (token: VppToken) => Promise<void>;
  /** Members are told what the run did for them (licensed, invited, offered); nobody is told without it. */
  memberNotices?: MemberNotices;
  /**
   * After a run or pass completed: a top-up approved while it ran is handed out now (the reconciler), instead
   * of at the next sync.
   */
  afterCompleted?: (run: AssignmentRun) => void;
}

const DEFAULT_RESUME_DELAY_MS = 15 * 60_000;
const MAX_RESUME_DELAY_MS = 6 * 60 * 60_000;
/** VPP user records written at once while a batch's users are read back from Apple. */
const USER_WRITE_CONCURRENCY = 8;

/** Apple's "unknown event": an event id recorded before a restart that Apple no longer knows. */
const UNKNOWN_EVENT = 9708;
const DEFAULT_PROGRESS_EVERY = 5_000;
function appleStatus(status: AppleVppUser['status']): VppUser['status'] {
  if (status === 'Associated') return 'associated';
  if (status === 'Registered') return 'registered';
  return 'retired';
}

function noticeMember(u: DirectoryUser): { clientUserId: string; displayName: string; mail?: string | undefined } {
  return { clientUserId: u.id, displayName: u.displayName, mail: u.mail };
}

/** A batch a stopped process reserved licenses for or sent to Apple, still to be recorded, and whom it named. */
interface RecordedBatch {
  marker: BatchMarker;
  named: ReadonlySet<string>;
}

function recordedBatchOf(run: AssignmentRun): RecordedBatch | undefined {
  const marker = run.reserved ?? run.pending;
  if (!marker) return undefined;
  return {
    marker: { groupIndex: marker.groupIndex, firstUserId: marker.firstUserId, lastUserId: marker.lastUserId },
    named: new Set([...(run.reserved?.userIds ?? []), ...(run.pending?.userIds ?? [])]),
  };
}

/**
 * Takes the members a recorded batch named out of the other groups' plans (each user once across groups:
 * one who left the batch's group for another is still the batch's), and answers them by id.
 */
function carryNamed(plan: DirectoryUser[][], recorded: RecordedBatch): Map<string, DirectoryUser> {
  const carried = new Map<string, DirectoryUser>();
  plan.forEach((users, gj) => {
    if (gj === recorded.marker.groupIndex) return;
    plan[gj] = users.filter((u) => {
      if (!recorded.named.has(u.id)) return true;
      carried.set(u.id, u);
      return false;
    });
  });
  return carried;
}

/**
 * Who a recorded batch processes now: today's members in its range and the members it named who are in
 * another group now. Those it named who are in no group any more (`leavers`) are only accounted for, by what
 * Apple did for them: nothing is sent to them again. Members who joined inside the range fill what room
 * Apple's request size leaves; any beyond it are behind the cursor afterwards, for reconciliation to find.
 */
function recordedSlice(recorded: RecordedBatch, users: readonly DirectoryUser[], carried: ReadonlyMap<string, DirectoryUser>, max: number): { members: DirectoryUser[]; leavers: Set<string> } {
  const { marker, named } = recorded;
  const members = sortById([...users.filter((u) => u.id >= marker.firstUserId && u.id <= marker.lastUserId), ...carried.values()]);
  const present = new Set(members.map((u) => u.id));
  const room = Math.max(0, max - members.filter((u) => named.has(u.id)).length);
  let others = 0;
  return { members: members.filter((u) => named.has(u.id) || others++ < room), leavers: new Set([...named].filter((id) => !present.has(id))) };
}

function sortById(users: DirectoryUser[]): DirectoryUser[] {
  return users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** What the current pass did: the totals since it began (the whole run when it is the first delivery). */
function passCounts(run: AssignmentRun, counts: RunCounts, start: RunCounts | undefined): RunCounts {
  if (!run.pass || !start) return counts;
  return {
    processed: Math.max(0, counts.processed - start.processed),
    licensed: Math.max(0, counts.licensed - start.licensed),
    awaitingInvitation: Math.max(0, counts.awaitingInvitation - start.awaitingInvitation),
    failed: Math.max(0, counts.failed - start.failed),
  };
}

function assignmentStatusOf(counts: RunCounts): EBookAssignment['status'] {
  if (counts.failed === 0) return 'completed';
  return counts.failed < counts.processed ? 'partiallyCompleted' : 'failed';
}

class RunStopped extends Error {}

/**
 * Delivers approved assignments: creates the VPP users a group lacks (a Managed Apple Account where the
 * directory has one, an invitation otherwise), associates the book in Apple-sized batches, follows the
 * events to the end and records every batch on the run document, so a restart resumes after the last
 * recorded batch and never sends a recorded batch again. Runs in the background; knows nothing of chat.
 */
export class AssignmentExecutor extends RunDelivery {
  /** Runs asked for again while they were running: looked at once more when the current work ends. */
  private readonly again = new Set<string>();
  private readonly reporter: AssignmentReporter;
  private readonly notices: MemberNotices;
  private readonly now: () => Date;
  private readonly progressEvery: number;
  private readonly resumeDelayMs: number;

  constructor(private readonly options: AssignmentExecutorOptions) {
    super({ runs: options.runs, leases: options.store.leases, now: options.now ?? (() => new Date()), instanceId: options.instanceId ?? `executor-${randomUUID()}`, leaseMs: options.leaseMs, logger: options.logger });
    this.reporter = options.reporter ?? NO_REPORTER;
    this.notices = options.memberNotices ?? NO_MEMBER_NOTICES;
    this.now = options.now ?? (() => new Date());
    this.progressEvery = Math.max(1, options.progressEveryUsers ?? DEFAULT_PROGRESS_EVERY);
    this.resumeDelayMs = options.resumeDelayMs ?? DEFAULT_RESUME_DELAY_MS;
  }

  /** Starts a run in the background; the caller's turn answers at once. */
  start(tokenId: string, runId: string): void {
    void this.execute(tokenId, runId).catch((err: unknown) => this.options.logger?.error({ err, runId }, 'assignment run crashed'));
  }

  /** Runs (or joins) a run to its end; undefined when it was not runnable or the executor stopped. */
  execute(tokenId: string, runId: string): Promise<AssignmentOutcome | undefined> {
    const running = this.active.get(runId);
    if (running) {
      // A reconciliation pass may be recorded while the last one is still finishing: it runs right after.
      this.again.add(runId);
      return running;
    }
    if (this.abort.signal.aborted) return Promise.resolve(undefined);
    const promise = this.leased(tokenId, runId).finally(() => {
      this.active.delete(runId);
      if (this.again.delete(runId)) this.start(tokenId, runId);
    });
    this.active.set(runId, promise);
    return promise;
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private checkStopped(runId?: string): void {
    if (this.signal.aborted || (runId !== undefined && this.lostLeases.has(runId))) throw new RunStopped();
  }

  /** Runs under a lease renewed in the background, so one instance at a time works on a run. */
  protected async run(tokenId: string, runId: string): Promise<AssignmentOutcome | undefined> {
    const { runs, store } = this.options;
    const initial = await runs.get(tokenId, runId);
    if (!initial || (initial.state !== 'approved' && initial.state !== 'running' && initial.state !== 'interrupted')) return undefined;
    let run = initial;
    let client: AppleBooksClient | undefined;
    try {
      const token = await store.tokens.get(run.tenantId, run.tokenId);
      if (!token) throw new RunFailure('token_removed', 'The VPP token of this book was removed, so the assignment stopped.');
      if (token.state === 'assignedToExternalMDM') throw new RunFailure('external_mdm', takenOverMessage(token.externalMdm?.name));
      client = this.options.clients(token);
      const limits = await client.getLimits();
      run = await this.save(run, (r) => ({ ...r, state: 'running', resumeAfterDateTime: undefined, startedDateTime: r.startedDateTime ?? this.now().toISOString() }));
      await this.markAssignments(run, (a) => (a.status === 'approved' || a.status === 'inProgress' ? { ...a, status: 'inProgress' } : undefined));
      if (run.usersVersionId === undefined) {
        const versionId = await this.currentUsersVersion(client);
        run = await this.save(run, (r) => ({ ...r, usersVersionId: versionId }));
      }

      const plan = await this.plan(run);
      const recorded = recordedBatchOf(run);
      const carried = recorded ? carryNamed(plan, recorded) : new Map<string, DirectoryUser>();
      const total = plan.reduce((n, users) => n + users.length, 0) + carried.size;
      // Members who hold the book already cost nothing; everyone else counts against the budget. Those a recorded
      // batch named are asked about too, members or not: what Apple did for them is that batch's.
      const planned = new Set([...plan.flatMap((users) => users.map((u) => u.id)), ...(recorded?.named ?? [])]);
      // A pass's members were checked against Apple's holders when it was planned: that read is not made again
      // (someone who got the book in between costs the budget one license too many, never one too few).
      const holders = run.budget === undefined || run.pass ? new Set<string>() : await bookHolders(client, run, (id) => planned.has(id));
      let reportedAt = Math.floor(run.totals.processed / this.progressEvery);
      for (let gi = 0; gi < run.groups.length; gi++) {
        const group = run.groups[gi];
        if (!group || group.done) continue;
        const cursor = group.cursor;
        let users = (plan[gi] ?? []).filter((u) => cursor === undefined || u.id > cursor);
        if (recorded?.marker.groupIndex === gi) {
          // The batch a stopped process reserved or sent goes first, under its own marker: members who joined or
          // left since would make another slice, which its reservation and its events do not name.
          this.checkStopped(run.id);
          const { members, leavers } = recordedSlice(recorded, users, carried, limits.maxClientUserIds);
          run = await this.batch(run, gi, members, client, holders, { marker: recorded.marker, leavers });
          users = users.filter((u) => u.id > recorded.marker.lastUserId);
        }
        for (let i = 0; i < users.length; i += limits.maxClientUserIds) {
          this.checkStopped(run.id);
          run = await this.batch(run, gi, users.slice(i, i + limits.maxClientUserIds), client, holders);
          const step = Math.floor(run.totals.processed / this.progressEvery);
          if (step > reportedAt && run.totals.processed < total) {
            reportedAt = step;
            await this.safely(() => this.reporter.progress({ ...runIdentity(run), processed: run.totals.processed, total, totals: run.totals }));
          }
        }
        run = await this.save(run, (r) => ({ ...r, groups: r.groups.map((g, j) => (j === gi ? { ...g, done: true } : g)) }));
        const finished = run.groups[gi];
        if (finished) await this.markAssignment(run, finished.assignmentId, (a) => ({ ...a, status: assignmentStatusOf(finished.counts) }));
      }
      // The last answers may have named another MDM after the last license went out: the token is no longer ours.
      if (client.foreignMdm) await this.takenOver(run, client.foreignMdm);
      run = await this.save(run, (r) => ({ ...r, state: 'completed', interruptions: undefined, finishedDateTime: this.now().toISOString() }));
      const outcome = await this.outcome(run, client);
      await this.audit(run, 'success');
      await this.refreshBook(run, client);
      await this.safely(() => this.reporter.finished(outcome));
      this.options.afterCompleted?.(run);
      return outcome;
    } catch (err) {
      if (err instanceof RunStopped || this.signal.aborted) return undefined;
      if (err instanceof VppError && err.kind === 'ownership') return this.fail(run, await this.takenOver(run, client?.foreignMdm));
      // Licenses may have been spent before the stop: the book's counts are read again either way.
      if (client && !(err instanceof VppError && err.isRetryable)) await this.refreshBook(run, client);
      if (err instanceof VppError && err.isRetryable) return this.interrupt(run, err, initial.state === 'interrupted');
      const passing = passingFailure(err);
      if (passing) return this.interrupt(run, passing, initial.state === 'interrupted');
      return this.fail(run, err);
    }
  }

  /**
   * Another MDM holds the token now (an answer's mdmInfo said so): no more licenses are spent, the token
   * changes state as a sync would set it, and admins are told.
   */
  private async takenOver(run: AssignmentRun, other: { id: string; name: string } | undefined): Promise<RunFailure> {
    const name = other?.name || 'another MDM';
    try {
      const updated = await this.options.store.tokens.update(run.tenantId, run.tokenId, (t) =>
        t.state === 'valid' ? { ...t, state: 'assignedToExternalMDM', externalMdm: { id: other?.id ?? 'unknown', name } } : undefined,
      );
      if (updated) await this.safely(() => this.options.onTokenTakenOver?.(updated.value) ?? Promise.resolve());
    } catch (err) {
      this.options.logger?.error({ err, runId: run.id }, 'could not record that another MDM took the token over');
    }
    return new RunFailure('external_mdm', takenOverMessage(name));
  }

  /**
   * Apple stayed unavailable or kept rate limiting past the retry deadline: the run pauses where it is
   * (batches recorded complete stay done) and the sweep resumes it later; the requester may resume sooner.
   */
  private async interrupt(run: AssignmentRun, err: PauseCause, alreadyPaused: boolean): Promise<AssignmentOutcome | undefined> {
    // Each pause in a row waits twice as long (a maintenance window can last hours), and never less than Apple asked.
    const interruptions = (run.interruptions ?? 0) + 1;
    const delay = Math.max(Math.min(this.resumeDelayMs * 2 ** (interruptions - 1), MAX_RESUME_DELAY_MS), err.retryAfterMs ?? 0);
    // One instant for both, so "paused at" and "resumes at" are exactly the delay apart.
    const at = this.now();
    const resumeAfter = new Date(at.getTime() + delay).toISOString();
    const message = pausedMessage(err, resumeAfter);
    const lastError = { code: truncate(err.code, LIMITS.errorCode), message: truncate(message, LIMITS.message), occurredDateTime: at.toISOString() };
    this.options.logger?.warn({ runId: run.id, code: err.code, resumeAfter }, 'assignment run interrupted; it resumes later');
    let paused = run;
    try {
      paused = await this.save(run, (r) => ({ ...r, state: 'interrupted', resumeAfterDateTime: resumeAfter, interruptions, lastError }));
    } catch (saveErr) {
      // Still `running` in the store: the sweep takes it over once its lease runs out.
      this.options.logger?.error({ err: saveErr, runId: run.id }, 'could not record an interrupted assignment run');
    }
    await this.audit(paused, 'interrupted');
    const outcome: AssignmentOutcome = { ...(await this.outcome(paused)), state: 'interrupted', resumeAfter, error: message };
    // The requester hears of the pause once, not after every resume that meets the same outage.
    if (!alreadyPaused) await this.safely(() => this.reporter.finished(outcome));
    return outcome;
  }

  /**
   * Users per group in id order: each user once across groups, capped by the admin's reduced scope. A
   * reconciliation pass processes only the members it names (who joined since), read by id.
   */
  private async plan(run: AssignmentRun): Promise<DirectoryUser[][]> {
    const seen = new Set<string>();
    // The reduced scope the requester chose: places, not licenses (the license budget is checked per batch).
    // A pass is bounded by the budget alone: its members were counted against it when it was planned.
    let places = run.pass ? Number.POSITIVE_INFINITY : (run.userLimit ?? Number.POSITIVE_INFINITY);
    const plan: DirectoryUser[][] = [];
    for (const group of run.groups) {
      const members = group.candidates
        ? sortById(await this.options.directory.usersByIds(group.candidates))
        : await listMembersSorted(this.options.directory, group.groupId);
      const mine: DirectoryUser[] = [];
      for (const user of members) {
        if (places <= 0) break;
        if (seen.has(user.id)) continue;
        seen.add(user.id);
        mine.push(user);
        places--;
      }
      plan.push(mine);
    }
    return plan;
  }

  /**
   * One Apple-sized batch: reserve its new licenses within the budget, create the missing users, associate
   * the book, record the outcome and give back what Apple refused. Members beyond the budget are left out.
   * What each step decides is batchTally's; this reads, asks Apple, tells members and writes.
   */
  private async batch(
    run: AssignmentRun,
    gi: number,
    slice: DirectoryUser[],
    client: AppleBooksClient,
    holders: ReadonlySet<string>,
    resumed?: { marker: BatchMarker; leavers: ReadonlySet<string> },
  ): Promise<AssignmentRun> {
    const marker = resumed?.marker ?? batchMarker(gi, slice);
    if (run.installIntent === 'available') return this.offer(run, gi, slice, holders, marker);
    const stored = new Map((await this.options.store.vppUsers.getMany(run.tokenId, slice.map((u) => u.id))).map((u) => [u.id, u]));
    // As the stopped process left it, before this batch sends anything of its own.
    const recordedPending = isBatch(run.pending, marker) ? run.pending : undefined;
    let users = slice;
    let leftOut = 0;
    let reserved: ReadonlySet<string> | undefined;
    if (run.budget !== undefined) {
      const fresh = needingLicense(slice, holders, stored);
      const earlier = earlierReservation(run, marker, fresh);
      const extra = earlier ? fresh.filter((u) => !earlier.has(u.id)) : fresh;
      let allowed = earlier ?? new Set<string>();
      if (extra.length > 0) {
        // Worked out inside the write, from the run as stored: another process on this run (a deploy's old
        // and new one) that reserved or moved on meanwhile stops this one before anything is spent.
        const cursor = run.groups[gi]?.cursor;
        let stale = false;
        run = await this.save(run, (r) => {
          const reservation = earlier ? extendReservation(r, marker, extra) : reserve(r, marker, cursor, fresh);
          stale = reservation.stale;
          if (reservation.stale) return undefined;
          allowed = new Set([...(earlier ?? []), ...reservation.allowed]);
          return reservation.run;
        });
        if (stale) throw new RunStopped();
      }
      ({ users, leftOut } = withinBudget(slice, holders, allowed, stored));
      reserved = allowed;
    }
    const known = new Map(users.flatMap((u) => (stored.has(u.id) ? [[u.id, stored.get(u.id) as VppUser] as const] : [])));
    let failures = new Map<string, UserFailure>();
    let usersVersionId = run.usersVersionId;

    const creating = toCreate(users, known);
    if (creating.length > 0) {
      const created = await client.createUsersAndWait(creating.map(userRequest), this.waitOptions());
      failures = creationFailures(created);
      const read = await this.readCreatedUsers(run, client, usersVersionId, new Set(creating.map((u) => u.id)), users, new Map(known));
      for (const user of read.users) known.set(user.id, user);
      usersVersionId = read.versionId ?? usersVersionId;
    }

    const eligible = toAssociate(users.map((u) => u.id), failures, holders, known, reserved);
    let lastEventId: string | undefined;
    if (eligible.length > 0) {
      const result = await this.associate(run, marker, eligible, client);
      lastEventId = result.eventIds[result.eventIds.length - 1];
      const sent = new Set(eligible);
      const othersNamed = (recordedPending?.eventIds.length ?? 0) > 0 && (recordedPending?.userIds ?? []).some((id) => !sent.has(id));
      let verdict = judgeAssociate(eligible, result, undefined, othersNamed);
      if (verdict.needsHolders) verdict = judgeAssociate(eligible, result, await bookHolders(client, run, (id) => sent.has(id)), othersNamed);
      for (const [id, failure] of verdict.failures) failures.set(id, failure);
    }

    const counted = tallyBatch({ users, groupId: run.groups[gi]?.groupId, holders, known, eligible, failures, reserved: reserved ?? new Set() });
    const leavers = resumed && run.budget !== undefined ? await this.leaversRefund(run, recordedPending, resumed.leavers, client) : { reserved: 0, refunded: 0 };
    const tally = { ...counted, refunded: counted.refunded + leavers.refunded };
    await this.tellMembers(run, client, users, tally, known);
    this.checkStopped(run.id);
    let stale = false;
    const saved = await this.save(run, (r) => {
      const recorded = recordBatch(r, { batch: marker, tally, reserved: (reserved?.size ?? 0) + leavers.reserved, leftOut, usersVersionId });
      stale = recorded === undefined;
      return recorded;
    });
    if (stale) throw new RunStopped();
    const group = saved.groups[gi];
    if (group) {
      const now = this.now().toISOString();
      await this.markAssignment(saved, group.assignmentId, (a) => ({
        ...a,
        results: {
          targetedUsers: group.counts.processed,
          licensed: group.counts.licensed,
          awaitingInvitation: group.counts.awaitingInvitation,
          failed: group.counts.failed,
          lastEventId,
          updatedDateTime: now,
        },
      }));
    }
    return saved;
  }

  /**
   * The licenses a recorded batch reserved for members who have left since, and how many of them go back to
   * the budget: all when nothing was sent; those the recorded request named and Apple did not license once its
   * events are done; none when the request was on its way as the process stopped (Apple may take it yet: one too
   * many, never one too few).
   */
  private async leaversRefund(run: AssignmentRun, recordedPending: AssignmentRun['pending'], leavers: ReadonlySet<string>, client: AppleBooksClient): Promise<{ reserved: number; refunded: number }> {
    const reservedFor = (run.reserved?.userIds ?? []).filter((id) => leavers.has(id));
    if (reservedFor.length === 0) return { reserved: 0, refunded: 0 };
    if (!recordedPending) return { reserved: reservedFor.length, refunded: reservedFor.length };
    if (recordedPending.eventIds.length === 0) return { reserved: reservedFor.length, refunded: 0 };
    // Only leavers the awaited request named: one it replaced, sent with no events recorded, may still grant the others.
    const named = new Set(recordedPending.userIds ?? []);
    const judged = reservedFor.filter((id) => named.has(id));
    if (judged.length === 0) return { reserved: reservedFor.length, refunded: 0 };
    try {
      await client.waitForEvents(recordedPending.eventIds, this.waitOptions());
    } catch (err) {
      // Apple no longer knows the events: who holds the book says what they did.
      if (!(err instanceof VppError && err.errorNumber === UNKNOWN_EVENT)) throw err;
    }
    const holding = await bookHolders(client, run, (id) => leavers.has(id));
    return { reserved: reservedFor.length, refunded: judged.filter((id) => !holding.has(id)).length };
  }

  /**
   * Available: nothing is spent; the batch's members (but those who hold the book already) are told it is
   * there for them, and the batch is recorded like any other so a restart goes on after it.
   */
  private async offer(run: AssignmentRun, gi: number, slice: DirectoryUser[], holders: ReadonlySet<string>, marker: BatchMarker): Promise<AssignmentRun> {
    const { offered, counts } = offerCounts(slice, holders);
    await this.notices.offered(noticeRunOf(run), offered.map(noticeMember));
    this.checkStopped(run.id);
    const saved = await this.save(run, (r) => advance(r, marker, counts));
    const group = saved.groups[gi];
    if (group) {
      await this.markAssignment(saved, group.assignmentId, (a) => ({
        ...a,
        results: { targetedUsers: group.counts.processed, licensed: group.counts.licensed, awaitingInvitation: group.counts.awaitingInvitation, failed: group.counts.failed, updatedDateTime: this.now().toISOString() },
      }));
    }
    return saved;
  }

  /** Required: who got the book now, and who must join the organisation's VPP first (with their own link). */
  private async tellMembers(
    run: AssignmentRun,
    client: AppleBooksClient,
    users: readonly DirectoryUser[],
    tally: Pick<BatchTally, 'newlyLicensed' | 'invited'>,
    known: ReadonlyMap<string, VppUser>,
  ): Promise<void> {
    const nowLicensed = users.filter((u) => tally.newlyLicensed.has(u.id)).map(noticeMember);
    if (nowLicensed.length > 0) await this.notices.licensed(noticeRunOf(run), nowLicensed);
    const toInvite: Array<ReturnType<typeof noticeMember> & { invitationUrl: string }> = [];
    for (const u of users.filter((member) => tally.invited.has(member.id))) {
      const code = known.get(u.id)?.inviteCode;
      const invitationUrl = code ? await client.invitationUrl(code).catch(() => undefined) : undefined;
      if (invitationUrl) toInvite.push({ ...noticeMember(u), invitationUrl });
    }
    if (toInvite.length > 0) await this.notices.invited(noticeRunOf(run), toInvite);
  }

  /**
   * Associates the book with `clientUserIds`. A request recorded as sent for this very batch before a
   * restart is awaited instead of sent again; only when Apple no longer knows its events is it re-sent
   * (associate is idempotent per user and book, so no license is spent twice).
   */
  private async associate(run: AssignmentRun, batch: BatchMarker, clientUserIds: string[], client: AppleBooksClient): Promise<AsyncOperationResult> {
    const pending = run.pending;
    if (pending && isBatch(pending, batch) && pending.eventIds.length === 0) {
      // Stopped while the request was on its way: Apple may have taken it. Whoever holds the book now is not
      // sent again; only the others are.
      const named = new Set(pending.userIds ?? clientUserIds);
      const holding = await bookHolders(client, run, (id) => named.has(id));
      const already: AsyncOperationResult = { eventIds: [], status: 'COMPLETE', numRequested: 0, numCompleted: 0, failures: [] };
      for (const id of clientUserIds) if (holding.has(id)) already.numCompleted++;
      already.numRequested = already.numCompleted;
      const rest = clientUserIds.filter((id) => !holding.has(id));
      return rest.length === 0 ? already : mergeResults(already, await this.send(run, batch, rest, client));
    }
    if (pending && isBatch(pending, batch)) {
      try {
        const earlier = await client.waitForEvents(pending.eventIds, this.waitOptions());
        // Users of this batch the earlier request did not name (their creation failed then, say) go now.
        const named = new Set(pending.userIds ?? clientUserIds);
        const rest = clientUserIds.filter((id) => !named.has(id));
        return rest.length === 0 ? earlier : mergeResults(earlier, await this.send(run, batch, rest, client));
      } catch (err) {
        if (!(err instanceof VppError && err.errorNumber === UNKNOWN_EVENT)) throw err;
      }
    }
    return this.send(run, batch, clientUserIds, client);
  }

  /** Sends one associate request, recording whom it names before sending and its events before waiting for them. */
  private async send(run: AssignmentRun, batch: BatchMarker, clientUserIds: string[], client: AppleBooksClient): Promise<AsyncOperationResult> {
    // A run whose lease went to another instance stops here, before spending anything.
    this.checkStopped(run.id);
    const asset = { adamId: run.adamId, pricingParam: run.pricingParam };
    // Recorded before it is sent (no events yet): a stop while it is on its way is resumed by asking Apple who holds the book.
    await this.save(run, (r) => ({ ...r, pending: { ...batch, eventIds: [], userIds: clientUserIds } }));
    const eventIds = await client.associateAssets([asset], clientUserIds);
    await this.save(run, (r) => ({ ...r, pending: { ...batch, eventIds, userIds: clientUserIds } }));
    return client.waitForEvents(eventIds, this.waitOptions());
  }

  /** Apple's current users versionId: one page read, so later reads see only what changed since. */
  private async currentUsersVersion(client: AppleBooksClient): Promise<string | undefined> {
    for await (const page of client.userPages({})) return page.versionId;
    return undefined;
  }

  /** Reads the users created since `sinceVersionId` (invite codes are only in /users) and stores ours. */
  private async readCreatedUsers(
    run: AssignmentRun,
    client: AppleBooksClient,
    sinceVersionId: string | undefined,
    wanted: Set<string>,
    users: DirectoryUser[],
    storedBefore: ReadonlyMap<string, VppUser>,
  ): Promise<{ users: VppUser[]; versionId: string | undefined }> {
    const directory = new Map(users.map((u) => [u.id, u]));
    const found: VppUser[] = [];
    let versionId: string | undefined;
    let first = true;
    for await (const page of client.userPages({ sinceVersionId })) {
      if (first) versionId = page.versionId;
      first = false;
      await forEachLimited(page.users, USER_WRITE_CONCURRENCY, async (apple) => {
        if (!wanted.has(apple.clientUserId)) return;
        const now = this.now().toISOString();
        const mail = directory.get(apple.clientUserId)?.mail;
        const email = apple.email ?? mail;
        const user: VppUser = {
          id: apple.clientUserId,
          tokenId: run.tokenId,
          tenantId: run.tenantId,
          clientUserId: apple.clientUserId,
          status: appleStatus(apple.status),
          inviteCode: apple.inviteCode,
          email: validEmail(email),
          managedAppleId: apple.managedAppleId,
          appleUserId: apple.userId,
          createdDateTime: now,
          lastModifiedDateTime: now,
        };
        // Users we are creating are known to be absent from the store (null), which saves a read each.
        const stored = storedBefore.get(apple.clientUserId);
        found.push((await this.options.store.vppUsers.upsertIfChanged(stored ? { ...user, createdDateTime: stored.createdDateTime } : user, stored ? undefined : null)).value);
      });
    }
    return { users: found, versionId };
  }

  private waitOptions(): { intervalMs?: number; timeoutMs?: number; signal: AbortSignal } {
    return { ...this.options.wait, signal: this.signal };
  }

  /** Writes the run; a mutation that answers undefined writes nothing (the stored run is returned). */
  private async save(run: AssignmentRun, mutate: (r: AssignmentRun) => AssignmentRun | undefined): Promise<AssignmentRun> {
    const result = await this.options.runs.update(run.tokenId, run.id, mutate);
    if (!result) throw new RunFailure('run_missing', 'The assignment record disappeared, so the assignment stopped.');
    return result.value;
  }

  /**
   * The book's license counts, read afresh from Apple for that one book: after a run, `status`, `status
   * <book>` and `books` show what the run spent instead of the counts of the last sync.
   */
  private async refreshBook(run: AssignmentRun, client: AppleBooksClient): Promise<void> {
    await this.safely(() => refreshBookCounts(this.options.store, client, run, this.now()));
  }


  private async markAssignments(run: AssignmentRun, mutate: (a: EBookAssignment) => EBookAssignment | undefined): Promise<void> {
    for (const group of run.groups) if (!group.done) await this.markAssignment(run, group.assignmentId, mutate);
  }

  private async markAssignment(run: AssignmentRun, assignmentId: string, mutate: (a: EBookAssignment) => EBookAssignment | undefined): Promise<void> {
    await this.options.store.assignments.update(run.tokenId, assignmentId, mutate);
  }

  private async fail(run: AssignmentRun, err: unknown): Promise<AssignmentOutcome | undefined> {
    const code = err instanceof RunFailure ? err.code : err instanceof VppError ? String(err.errorNumber ?? err.kind) : 'internal';
    const message = err instanceof RunFailure || err instanceof VppError ? err.message : 'Something went wrong delivering the book; the bot logged the details.';
    this.options.logger?.error({ err, runId: run.id }, 'assignment run failed');
    const lastError = { code: truncate(code, LIMITS.errorCode), message: truncate(message, LIMITS.message), occurredDateTime: this.now().toISOString() };
    let failed = run;
    try {
      // A reconciliation pass that fails leaves the assignment standing (the next one looks again); a first delivery fails.
      failed = await this.save(run, (r) => ({ ...r, state: r.pass ? 'completed' : 'failed', lastError, pending: undefined, finishedDateTime: this.now().toISOString() }));
      for (const group of failed.groups) {
        if (group.done) continue;
        await this.markAssignment(failed, group.assignmentId, (a) => ({ ...a, status: group.counts.processed - group.counts.failed > 0 ? 'partiallyCompleted' : 'failed', lastError }));
      }
      await this.audit(failed, 'failure');
    } catch (saveErr) {
      this.options.logger?.error({ err: saveErr, runId: run.id }, 'could not record a failed assignment run');
    }
    const outcome = { ...(await this.outcome(failed)), state: 'failed' as const, error: message };
    await this.safely(() => this.reporter.finished(outcome));
    return outcome;
  }

  private async outcome(run: AssignmentRun, client?: AppleBooksClient): Promise<AssignmentOutcome> {
    const reasons = new Map(run.failureReasons.map((f) => [f.code, f.message]));
    // A pass reports on its own members only.
    const inPass = run.pass ? new Set(run.groups.flatMap((g) => g.candidates ?? [])) : undefined;
    const mine = (u: { clientUserId: string }): boolean => !inPass || inPass.has(u.clientUserId);
    const invitedUsers = [];
    for (const u of run.invitedUsers.filter(mine)) {
      let invitationUrl: string | undefined;
      if (u.inviteCode && client) invitationUrl = await client.invitationUrl(u.inviteCode).catch(() => undefined);
      invitedUsers.push({ clientUserId: u.clientUserId, displayName: u.displayName, invitationUrl });
    }
    return {
      ...runIdentity(run),
      state: run.state === 'completed' ? 'completed' : 'failed',
      totals: passCounts(run, run.totals, run.passStart),
      groups: run.groups.filter((g) => !run.pass || g.candidates?.length).map((g) => ({ groupName: g.groupName, counts: passCounts(run, g.counts, g.passStart) })),
      budget: run.budget,
      // Who a pass leaves waiting is counted by reconciliation (and asked for in a top-up), not here.
      overBudget: run.pass ? undefined : run.overBudget,
      failureReasons: run.failureReasons,
      failedUsers: run.failedUsers.filter(mine).map((u) => ({ ...u, reason: reasons.get(u.code) ?? u.code })),
      invitedUsers,
    };
  }

  protected async audit(run: AssignmentRun, outcome: 'success' | 'failure' | 'interrupted' | 'resumed', by?: Actor): Promise<void> {
    await this.safely(() =>
      this.options.store.audit.record({
        tenantId: run.tenantId,
        actor: by ? { aadObjectId: by.aadObjectId, displayName: by.displayName } : { system: 'assignment-executor' },
        action: outcome === 'resumed' ? 'assignment.resume' : outcome === 'interrupted' ? 'assignment.interrupt' : 'assignment.execute',
        target: { type: 'book', id: `${run.adamId}|${run.pricingParam}`, name: truncate(run.bookTitle, LIMITS.title) },
        tokenId: run.tokenId,
        // A pause is a failure of this attempt; a resume is an admin's successful action.
        outcome: outcome === 'interrupted' ? 'failure' : outcome === 'resumed' ? 'success' : outcome,
        details: {
          approvalId: run.approvalId,
          processed: run.totals.processed,
          licensed: run.totals.licensed,
          awaitingInvitation: run.totals.awaitingInvitation,
          failed: run.totals.failed,
        },
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

/** Two associate outcomes of one batch as one (a resumed request and the users it had not named). */
function mergeResults(a: AsyncOperationResult, b: AsyncOperationResult): AsyncOperationResult {
  return {
    eventIds: [...a.eventIds, ...b.eventIds],
    status: a.status === 'FAILED' || b.status === 'FAILED' ? 'FAILED' : 'COMPLETE',
    numRequested: a.numRequested + b.numRequested,
    numCompleted: a.numCompleted + b.numCompleted,
    failures: [...a.failures, ...b.failures],
  };
}

/** What paused a run: Apple (rate limit, outage), or our own database or directory being out of reach for a while. */
interface PauseCause {
  code: string;
  kind?: string | undefined;
  httpStatus?: number | undefined;
  retryAfterMs?: number | undefined;
  /** Who did not answer, in the admin's words (Apple when absent). */
  who?: string | undefined;
}

/** A passing failure of the bot's own database or of Microsoft Graph: the run pauses like for an Apple outage. */
function passingFailure(err: unknown): PauseCause | undefined {
  if (err instanceof DirectoryUnavailableError) return { code: 'graph_unavailable', who: 'Microsoft Graph (the directory) is not answering' };
  if (isStoreUnavailable(err) || err instanceof StoreConcurrencyError) return { code: 'store_unavailable', who: "The bot's database is not answering" };
  return undefined;
}

/** What a paused run tells the requester: who did not answer, when it goes on, and that nothing is spent twice. */
function pausedMessage(err: PauseCause, resumeAfter: string): string {
  const why = err.who ?? (err.kind === 'rateLimit' || err.httpStatus === 429 ? 'Apple is limiting requests for this VPP token' : "Apple's Apps and Books service is not answering");
  return `${why} (${err.code}), so the assignment is paused where it is. It goes on by itself after ${resumeAfter.slice(11, 16)} UTC on ${resumeAfter.slice(0, 10)}, or type **resume** to go on now. Nobody gets a second license.`;
}

function takenOverMessage(name: string | undefined): string {
  return `Apple says ${name ? escapeMarkdown(name) : 'another MDM'} now manages this VPP token, so the bot stopped before spending more licenses. To manage it here again, upload the token (type **upload token**) and confirm taking control.`;
}

class RunFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function userRequest(user: DirectoryUser): UserRequest {
  const request: UserRequest = { clientUserId: user.id };
  if (user.managedAppleId) request.managedAppleId = user.managedAppleId;
  else if (validEmail(user.mail)) request.email = user.mail;
  return request;
}
