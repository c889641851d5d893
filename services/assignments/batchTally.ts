import type { AsyncOperationResult } from '../apple/AppleBooksClient';
import { truncate } from '../common/truncate';
import { LIMITS } from '../store/entities/common';
import type { VppUser } from '../store/entities/vppUser';
import { SAMPLE_LIMIT, ZERO_COUNTS, type AssignmentRun, type RunCounts } from '../store/repositories/AssignmentRunRepository';

/*
 * The pure part of an assignment batch: who takes a license within the budget, who is created, who is
 * sent to Apple, what Apple's answer means for each member, and what the run records. AssignmentExecutor
 * reads, calls these, and writes what they return; keeping the decisions here lets them be tested table
 * by table, and their invariants (every member counted once, never more sent than reserved) checked on
 * generated batches, without a server.
 */

/** Apple's "user already exists": the user is there, which is all a batch needs. */
const USER_EXISTS = 9716;

/** A member Apple never showed as a user it could license (their creation went unanswered): no license, and said so. */
export const NOT_LICENSED = { code: 'not_licensed', message: 'Apple did not confirm this user, so no license was given; the next reconciliation tries again.' };

export interface UserFailure {
  code: string;
  message: string;
}

/** A member of a batch as the directory names them (a DirectoryUser). */
export interface BatchMember {
  id: string;
  displayName: string;
  managedAppleId?: string | undefined;
}

/** What the store knows of a member's VPP user. */
export type KnownUser = Pick<VppUser, 'status' | 'inviteCode'>;

/** What names a batch in the run's markers (`pending`, `reserved`): its group and its first and last user. */
export interface BatchMarker {
  groupIndex: number;
  firstUserId: string;
  lastUserId: string;
}

/** The batch a slice of members makes: the slice's ids name it, whoever in it the budget leaves out. */
export function batchMarker(groupIndex: number, slice: readonly BatchMember[]): BatchMarker {
  return { groupIndex, firstUserId: slice[0]?.id ?? '', lastUserId: slice[slice.length - 1]?.id ?? '' };
}

export function isBatch(marker: BatchMarker | undefined, batch: BatchMarker): boolean {
  return marker !== undefined && marker.groupIndex === batch.groupIndex && marker.firstUserId === batch.firstUserId && marker.lastUserId === batch.lastUserId;
}

function addCounts(a: RunCounts, b: RunCounts): RunCounts {
  const offered = (a.offered ?? 0) + (b.offered ?? 0);
  return {
    processed: a.processed + b.processed,
    licensed: a.licensed + b.licensed,
    awaitingInvitation: a.awaitingInvitation + b.awaitingInvitation,
    failed: a.failed + b.failed,
    ...(offered > 0 ? { offered } : {}),
  };
}

/**
 * Required: a license goes only to someone Apple can give it to now, a Managed Apple Account or a member
 * who joined the organisation's VPP; the others are invited, and licensed once they have joined.
 */
function joinedNow(member: BatchMember, known: ReadonlyMap<string, KnownUser>): boolean {
  return member.managedAppleId !== undefined || known.get(member.id)?.status === 'associated';
}

/** Members who would take a new license: they lack the book and can be licensed now. Holders cost nothing. */
export function needingLicense<M extends BatchMember>(slice: readonly M[], holders: ReadonlySet<string>, known: ReadonlyMap<string, KnownUser>): M[] {
  return slice.filter((u) => !holders.has(u.id) && joinedNow(u, known));
}

/** A resumed batch keeps the reservation it made before the restart, for exactly the users it named. */
export function earlierReservation(run: AssignmentRun, batch: BatchMarker, fresh: readonly BatchMember[]): Set<string> | undefined {
  if (!isBatch(run.reserved, batch)) return undefined;
  const earlier = new Set(run.reserved?.userIds);
  return new Set(fresh.filter((u) => earlier.has(u.id)).map((u) => u.id));
}

export type Reservation =
  /** Another process on this run reserved or moved on since `cursor` was read: this one must stop before spending. */
  | { stale: true }
  /** `run` is the run to write (undefined: nothing to reserve, nothing to write). */
  | { stale: false; allowed: Set<string>; run: AssignmentRun | undefined };

/**
 * A batch's reservation, worked out from the run as stored (inside its conditional write): as many of
 * `fresh`, in order, as the budget has room for, counted as spent before Apple is asked.
 */
export function reserve(stored: AssignmentRun, batch: BatchMarker, cursor: string | undefined, fresh: readonly BatchMember[]): Reservation {
  if (stored.reserved !== undefined || stored.groups[batch.groupIndex]?.cursor !== cursor || stored.budget === undefined) return { stale: true };
  const room = Math.max(0, stored.budget - (stored.spent ?? 0));
  const allowed = new Set(fresh.slice(0, room).map((u) => u.id));
  if (allowed.size === 0) return { stale: false, allowed, run: undefined };
  const userIds = [...allowed];
  return { stale: false, allowed, run: { ...stored, spent: (stored.spent ?? 0) + userIds.length, reserved: { ...batch, userIds } } };
}

/**
 * A resumed batch's reservation grown for `extra`, members its earlier one did not name (they joined since,
 * or the budget had no room then), within the room the budget has now. Stale unless the stored run still
 * holds this batch's reservation.
 */
export function extendReservation(stored: AssignmentRun, batch: BatchMarker, extra: readonly BatchMember[]): Reservation {
  if (!stored.reserved || !isBatch(stored.reserved, batch) || stored.budget === undefined) return { stale: true };
  const room = Math.max(0, stored.budget - (stored.spent ?? 0));
  const allowed = new Set(extra.slice(0, room).map((u) => u.id));
  if (allowed.size === 0) return { stale: false, allowed, run: undefined };
  const added = [...allowed];
  return { stale: false, allowed, run: { ...stored, spent: (stored.spent ?? 0) + added.length, reserved: { ...stored.reserved, userIds: [...stored.reserved.userIds, ...added] } } };
}

/**
 * Who a batch with a budget processes: holders, the members it reserved a license for, and those not
 * joined yet (invited, at no cost). The others are left out: over budget.
 */
export function withinBudget<M extends BatchMember>(slice: readonly M[], holders: ReadonlySet<string>, allowed: ReadonlySet<string>, known: ReadonlyMap<string, KnownUser>): { users: M[]; leftOut: number } {
  const users = slice.filter((u) => holders.has(u.id) || allowed.has(u.id) || !joinedNow(u, known));
  return { users, leftOut: slice.length - users.length };
}

/** Members without a VPP user Apple still knows (none stored, or retired): they are created first. */
export function toCreate<M extends BatchMember>(users: readonly M[], known: ReadonlyMap<string, KnownUser>): M[] {
  return users.filter((u) => {
    const stored = known.get(u.id);
    return !stored || stored.status === 'retired';
  });
}

/** Members whose creation Apple refused; "already exists" is no failure. */
export function creationFailures(created: Pick<AsyncOperationResult, 'failures'>): Map<string, UserFailure> {
  const failures = new Map<string, UserFailure>();
  for (const f of created.failures) {
    if (f.errorNumber === USER_EXISTS) continue;
    for (const id of f.clientUserIds) failures.set(id, { code: String(f.errorNumber), message: f.message });
  }
  return failures;
}

/**
 * Who is sent to Apple. Invited members (Registered at Apple) get no license yet: it would wait,
 * irrevocably, on someone who may never join. With a budget (`reserved` set), only those it reserved a
 * license for are sent, and holders, who cost nothing.
 */
export function toAssociate(
  ids: readonly string[],
  failures: ReadonlyMap<string, UserFailure>,
  holders: ReadonlySet<string>,
  known: ReadonlyMap<string, KnownUser>,
  reserved: ReadonlySet<string> | undefined,
): string[] {
  return ids.filter((id) => !failures.has(id) && (holders.has(id) || (known.get(id)?.status === 'associated' && (reserved === undefined || reserved.has(id)))));
}

export interface AssociateVerdict {
  /** The members sent whom Apple's answer failed, with why. */
  failures: Map<string, UserFailure>;
  /**
   * Apple's errorInfo may name only the book: when fewer users completed than were not named, Apple is to
   * be asked who holds the book now (passed back as `holdingNow`) instead of counting the unnamed ones as licensed.
   */
  needsHolders: boolean;
}

/**
 * What Apple's associate answer means for each member sent (`eligible`). `othersNamed`: the answer is a
 * resumed request's that also named users not judged now (members who left since), so its counts say nothing
 * of these alone: who holds the book decides.
 */
export function judgeAssociate(eligible: readonly string[], result: AsyncOperationResult, holdingNow?: ReadonlySet<string>, othersNamed = false): AssociateVerdict {
  const sent = new Set(eligible);
  const failures = new Map<string, UserFailure>();
  let unattributed: UserFailure | undefined;
  // One failure names every user it applies to (Apple's errorInfo); the others in a partly failed event got the book.
  for (const f of result.failures) {
    const reason = { code: String(f.errorNumber), message: f.message };
    if (f.clientUserIds.length === 0) unattributed = reason;
    for (const id of f.clientUserIds) if (sent.has(id)) failures.set(id, reason);
  }
  const unaccounted = eligible.filter((id) => !failures.has(id)).length - result.numCompleted;
  // (Whatever the event's status says: a COMPLETE with fewer done than sent is read the same way.)
  const needsHolders = othersNamed || (result.numCompleted > 0 && unaccounted > 0);
  if (needsHolders && holdingNow) {
    const reason = unattributed ?? { code: 'event_failed', message: 'Apple could not complete the assignment for this user.' };
    for (const id of eligible) if (!failures.has(id) && !holdingNow.has(id)) failures.set(id, reason);
  }
  // An event that failed with nothing completed failed for everyone in it, named or not.
  if (result.status === 'FAILED' && result.numCompleted === 0) {
    const reason = unattributed ?? { code: 'event_failed', message: 'Apple could not complete the assignment for these users.' };
    for (const id of eligible) if (!failures.has(id)) failures.set(id, reason);
  }
  return { failures, needsHolders: needsHolders && !holdingNow };
}

export interface BatchTally {
  /** Every member processed lands in exactly one of licensed, awaitingInvitation and failed. */
  counts: RunCounts;
  /** Members who got the book from this batch (not those who held it already): they are told. */
  newlyLicensed: Set<string>;
  /** Members who must accept their VPP invitation first: they are told, with their own link. */
  invited: Set<string>;
  failedSamples: AssignmentRun['failedUsers'];
  invitedSamples: AssignmentRun['invitedUsers'];
  /** Failures by code, with the admin text. */
  reasons: Map<string, { message: string; count: number }>;
  /** Licenses reserved and not spent: Apple refused them, or the member turned out not to have joined yet. */
  refunded: number;
}

export interface BatchFacts {
  users: readonly BatchMember[];
  groupId: string | undefined;
  holders: ReadonlySet<string>;
  known: ReadonlyMap<string, KnownUser>;
  /** Who was sent to Apple. */
  eligible: readonly string[];
  /** Creation and association failures. */
  failures: ReadonlyMap<string, UserFailure>;
  /** The licenses this batch reserved (empty without a budget). */
  reserved: ReadonlySet<string>;
}

/** What a batch did for each member, counted. */
export function tallyBatch({ users, groupId, holders, known, eligible, failures, reserved }: BatchFacts): BatchTally {
  const associatedNow = new Set(eligible.filter((id) => !failures.has(id)));
  const tally: BatchTally = {
    counts: { ...ZERO_COUNTS, processed: users.length },
    newlyLicensed: new Set([...associatedNow].filter((id) => !holders.has(id))),
    invited: new Set(),
    failedSamples: [],
    invitedSamples: [],
    reasons: new Map(),
    refunded: [...reserved].filter((id) => !associatedNow.has(id)).length,
  };
  const fail = (user: BatchMember, failure: UserFailure): void => {
    tally.counts.failed++;
    const reason = tally.reasons.get(failure.code) ?? { message: failure.message, count: 0 };
    reason.count++;
    tally.reasons.set(failure.code, reason);
    tally.failedSamples.push({ clientUserId: user.id, displayName: truncate(user.displayName, LIMITS.displayName), code: failure.code, groupId });
  };
  for (const user of users) {
    const failure = failures.get(user.id);
    const stored = known.get(user.id);
    if (failure) {
      fail(user, failure);
    } else if (stored?.status === 'registered') {
      tally.counts.awaitingInvitation++;
      tally.invited.add(user.id);
      tally.invitedSamples.push({ clientUserId: user.id, displayName: truncate(user.displayName, LIMITS.displayName), inviteCode: stored.inviteCode });
    } else if (!associatedNow.has(user.id) && !holders.has(user.id)) {
      // Neither invited nor licensed (Apple never showed their user): not counted as licensed.
      fail(user, NOT_LICENSED);
    } else {
      tally.counts.licensed++;
    }
  }
  return tally;
}

export interface BatchRecord {
  batch: BatchMarker;
  tally: BatchTally;
  /** Licenses this batch reserved; with some, the run must still hold this batch's reservation. */
  reserved: number;
  /** Members the budget left out. */
  leftOut: number;
  usersVersionId: string | undefined;
}

/**
 * The run with a batch recorded: counts added, the cursor moved past it, the reservation settled (what
 * was not spent goes back to the budget). Undefined when the stored run no longer holds this batch's
 * reservation: another instance finished the batch meanwhile, and a second refund or a cursor moved back
 * would let later batches spend more than approved.
 */
export function recordBatch(stored: AssignmentRun, { batch, tally, reserved, leftOut, usersVersionId }: BatchRecord): AssignmentRun | undefined {
  if (reserved > 0 && !isBatch(stored.reserved, batch)) return undefined;
  const merged = new Map(stored.failureReasons.map((f) => [f.code, { ...f }]));
  for (const [code, { message, count }] of tally.reasons) {
    const existing = merged.get(code);
    if (existing) existing.count += count;
    else merged.set(code, { code, message: truncate(message, LIMITS.message), count });
  }
  return {
    ...advance(stored, batch, tally.counts),
    // Licenses Apple refused were not spent: they go back to the budget.
    ...(stored.budget === undefined ? {} : { spent: Math.max(0, (stored.spent ?? 0) - tally.refunded), reserved: undefined, overBudget: (stored.overBudget ?? 0) + leftOut }),
    failureReasons: [...merged.values()].slice(0, SAMPLE_LIMIT),
    // The newest are kept: a reconciliation pass's result names its own members.
    failedUsers: [...stored.failedUsers, ...tally.failedSamples].slice(-SAMPLE_LIMIT),
    invitedUsers: [...stored.invitedUsers, ...tally.invitedSamples].slice(-SAMPLE_LIMIT),
    pending: undefined,
    usersVersionId,
  };
}

/** Available: nothing is spent; those who hold the book count as licensed, the others are offered it. */
export function offerCounts<M extends BatchMember>(slice: readonly M[], holders: ReadonlySet<string>): { offered: M[]; counts: RunCounts } {
  const offered = slice.filter((u) => !holders.has(u.id));
  return { offered, counts: { ...ZERO_COUNTS, processed: slice.length, licensed: slice.length - offered.length, offered: offered.length } };
}

/** The run with a batch's counts added and its group's cursor after the batch, so a restart goes on after it. */
export function advance(stored: AssignmentRun, batch: BatchMarker, counts: RunCounts): AssignmentRun {
  return {
    ...stored,
    groups: stored.groups.map((g, j) => (j === batch.groupIndex ? { ...g, cursor: batch.lastUserId, counts: addCounts(g.counts, counts) } : g)),
    totals: addCounts(stored.totals, counts),
    batchesCompleted: stored.batchesCompleted + 1,
  };
}
