import { randomUUID } from 'node:crypto';
import { truncate } from '../common/truncate';
import type { DirectoryUser, MemberDelta } from '../directory/GraphDirectory';
import { UserFacingError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import { LIMITS } from '../store/entities/common';
import { LEFT_SAMPLE_LIMIT, MAX_WAITING_PER_GROUP, MAX_WATCHED_GROUPS, standingAssignmentId, type StandingAssignment, type StandingGroup } from '../store/entities/standingAssignment';
import { MAX_PASS_USERS, type AssignmentRun, type AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import type { VppToken } from '../store/entities/vppToken';
import { bookHolders, type AppleClientProvider } from './ports';

import type { GroupReconciliation, RunReconciliation } from './runReconciliation';
import type { StandingAssignments } from '../backend/ports';
/** The directory reads reconciliation needs (GraphDirectory): change feeds per group, users by id, membership. */
interface ReconcileDirectory {
  groupMemberDelta(groupId: string, deltaLink?: string): Promise<MemberDelta>;
  usersByIds(ids: readonly string[]): Promise<DirectoryUser[]>;
  isMember(userObjectId: string, groupId: string): Promise<boolean>;
}

/** Starts a reconciliation pass of a run (the AssignmentExecutor). */
interface PassStarter {
  start(tokenId: string, runId: string): void;
}

/** Asks the approvers for more licenses (the ApprovalService) and puts the request in front of them. */
export interface TopUpRequester {
  /** `count` 0: nobody waits any more, and a pending request is withdrawn. */
  requestTopUp(input: { run: AssignmentRun; count: number; groupNames: readonly string[] }): Promise<{ outcome: 'requested' | 'unchanged' | 'withdrawn' }>;
}

export interface StandingAssignmentReconcilerOptions {
  store: Store;
  runs: AssignmentRunRepository;
  directory: ReconcileDirectory;
  clients: AppleClientProvider;
  executor: PassStarter;
  topUps: TopUpRequester;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
  instanceId?: string | undefined;
  /** How long one reconciliation of one assignment may hold it (renewed never: it takes seconds). */
  leaseMs?: number | undefined;
}

const DEFAULT_LEASE_MS = 5 * 60_000;
/** Up to this many candidates known to VPP are asked about one by one; more, with one read of the book's holders. */
const FEW_CANDIDATES = 10;

interface PassPlan {
  /** Per group: who the pass processes (licensed now, invited now, or told about an Available book). */
  passes: string[][];
  /** Per group: what the pass does for them. */
  counts: Array<{ licensing: number; inviting: number; offering: number }>;
  /** Per group: licensable members left without a license because the budget is used up. */
  waiting: string[][];
  /** Per group (Required): members invited to the organisation's VPP who have not joined yet. */
  invited: string[][];
  /** Per group: members who joined since the last round and were not waiting or invited already. */
  newcomers: number[];
  /** Per group (Required): invited members licensed now because they joined. */
  joinedVpp: number[];
}

interface GroupRead {
  group: StandingGroup;
  /** Users who joined (directly or through a nested group) since the last round. */
  joined: Set<string>;
  /** Users who left the group (checked: not a member through another path either). */
  left: string[];
}

/**
 * Keeps delivered assignments standing, as Intune's group assignments do: after each sync, and on
 * demand, each completed assignment's groups are read for changes (Graph delta queries, so an unchanged
 * group costs one request), members who joined without the book get it within what is left of the
 * approved budget (a pass of the same run, so budget, fencing and resume all apply), and once the budget
 * is used up one top-up request asks the approvers for exactly the number waiting. Members who left are
 * counted; their licenses stay with them.
 */
export class StandingAssignmentReconciler implements StandingAssignments {
  private readonly now: () => Date;
  private readonly instanceId: string;
  private readonly leaseMs: number;
  private readonly background = new Set<Promise<void>>();
  private readonly inFlight = new Map<string, Promise<RunReconciliation | undefined>>();

  constructor(private readonly options: StandingAssignmentReconcilerOptions) {
    this.now = options.now ?? (() => new Date());
    this.instanceId = options.instanceId ?? `reconciler-${randomUUID()}`;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** Every standing assignment of a token (after its sync), or of one of its books (`reconcile <book>`). */
  async reconcileToken(tokenId: string, book?: { adamId: string; pricingParam: string }): Promise<RunReconciliation[]> {
    const results: RunReconciliation[] = [];
    for (const run of await this.options.runs.listStanding(tokenId, book)) {
      try {
        results.push(await this.reconcileRun(run.tokenId, run.id));
      } catch (err) {
        // One assignment's trouble (Graph or Apple down) must not keep the others from being looked at.
        this.options.logger?.warn({ err, runId: run.id }, 'reconciling a standing assignment failed; the next round tries again');
        results.push({ ...emptyResult(run), state: 'skipped', reason: err instanceof UserFacingError ? err.message : 'The directory or Apple did not answer; it is tried again after the next sync.' });
      }
    }
    return results;
  }

  /** After a token's sync, in the background: the sync's result is not held up by the directory reads. */
  afterSync(tokenId: string): void {
    this.track(() => this.reconcileToken(tokenId), tokenId);
  }

  /** An approved top-up: the members waiting get their licenses now, in the background. */
  topUpApproved(tokenId: string, runId: string): void {
    this.track(() => this.reconcileRun(tokenId, runId), runId);
  }

  /**
   * Right after a delivery: the groups' change feeds start from here, so later joiners are told apart from the
   * members it invited, and anyone it left out for want of licenses is asked for in a top-up at once.
   */
  afterDelivery(tokenId: string, runId: string): void {
    this.track(() => this.reconcileRun(tokenId, runId), runId);
  }

  /** Resolves when the background reconciliations started so far are done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  private track(work: () => Promise<unknown>, subject: string): void {
    const promise: Promise<void> = work()
      .then(() => undefined)
      .catch((err: unknown) => this.options.logger?.warn({ err, subject }, 'a background reconciliation failed; the next one tries again'))
      .finally(() => this.background.delete(promise));
    this.background.add(promise);
  }

  /**
   * One standing assignment, under a lease so two instances never plan the same newcomers twice. Within this
   * instance, looks at one run are taken in turn (the lease is this instance's either way): a look asked for
   * while another runs waits for it, then looks afresh.
   */
  async reconcileRun(tokenId: string, runId: string): Promise<RunReconciliation> {
    const before = this.inFlight.get(runId) ?? Promise.resolve(undefined);
    const mine = before.catch(() => undefined).then(() => this.reconcileWithLease(tokenId, runId));
    this.inFlight.set(runId, mine);
    try {
      return await mine;
    } finally {
      if (this.inFlight.get(runId) === mine) this.inFlight.delete(runId);
    }
  }

  private async reconcileWithLease(tokenId: string, runId: string): Promise<RunReconciliation> {
    const { leases } = this.options.store;
    const lease = await leases.acquire(`reconcile|${runId}`, this.instanceId, this.leaseMs);
    if (!lease) {
      const run = await this.options.runs.get(tokenId, runId);
      return { ...emptyResult(run, runId, tokenId), state: 'busy', reason: 'Another instance is reconciling it right now.' };
    }
    try {
      return await this.reconcileLeased(tokenId, runId);
    } finally {
      await leases.release(lease).catch(() => false);
    }
  }

  private async reconcileLeased(tokenId: string, runId: string): Promise<RunReconciliation> {
    const { store, runs } = this.options;
    const run = await runs.get(tokenId, runId);
    if (!run) return { ...emptyResult(undefined, runId, tokenId), state: 'skipped', reason: 'The assignment no longer exists.' };
    // A delivery (or a pass) under way covers the newcomers it can; the rest are seen once it is done.
    if (run.state !== 'completed') return { ...emptyResult(run), state: 'busy', reason: 'Its delivery is still under way.' };
    // Assignments approved before budgets existed have no number to stay within: they are not extended.
    if (run.budget === undefined) return { ...emptyResult(run), state: 'skipped', reason: 'It was approved before approvals carried a license budget.' };
    const token = await store.tokens.get(run.tenantId, run.tokenId);
    if (!token || token.state !== 'valid') return { ...emptyResult(run), state: 'skipped', reason: 'Its VPP token is not valid.' };

    const stored = await store.standing.get(tokenId, runId);
    const standing = stored ?? this.initialState(run);
    const reads: GroupRead[] = [];
    for (const group of standing.groups) reads.push(await this.readGroup(group));

    // Who needs the book, per group, each user once across the run's groups (the first group counts them):
    // those waiting for licenses, those invited who may have joined the organisation's VPP since, newcomers.
    const seen = new Set<string>();
    const wanted = reads.map((read, i) => {
      const left = new Set(read.left);
      const ids: string[] = [];
      // Required: whoever the last pass was for and did not get the book (Apple refused, the pass stopped) is
      // looked at again, not forgotten once the change feed moved past them.
      const group = run.groups[i];
      const passFellShort = run.lastError !== undefined || (group !== undefined && group.counts.failed > (group.passStart?.failed ?? group.counts.failed));
      const lastPass = run.installIntent === 'required' && passFellShort ? (group?.candidates ?? []) : [];
      for (const id of [...read.group.waiting, ...(read.group.invited ?? []), ...lastPass, ...read.joined]) {
        if (left.has(id) || seen.has(id)) continue;
        seen.add(id);
        ids.push(id);
      }
      return ids;
    });

    const holders = await this.holdersAmong(token, run, seen);
    const plan = await this.plan(run, reads, wanted, holders, stored === undefined);
    const { passes, waiting, invited, newcomers, joinedVpp } = plan;
    const passSize = passes.reduce((n, ids) => n + ids.length, 0);
    const licensing = plan.counts.reduce((n, c) => n + c.licensing, 0);

    if (passSize > 0) {
      // Only over the run as read: a pass or a top-up recorded meanwhile by anyone else wins, and this
      // round's reads are dropped (the links stay where they were, so nothing is missed).
      const started = await runs.update(tokenId, runId, (r) => (r.state === 'completed' && r.spent === run.spent && r.budget === run.budget && r.pass === run.pass ? startPass(r, passes) : undefined));
      if (started?.value.pass !== (run.pass ?? 0) + 1 || started.value.state !== 'approved') return { ...emptyResult(run), state: 'busy', reason: 'It changed while it was being looked at.' };
    }

    const groups: GroupReconciliation[] = [];
    const next: StandingAssignment = { ...standing, groups: [], lastReconciledDateTime: this.now().toISOString() };
    for (const [i, read] of reads.entries()) {
      const mine = waiting[i] ?? [];
      const overflow = mine.length > MAX_WAITING_PER_GROUP;
      const leftUsers = read.left.length === 0 ? read.group.leftUsers : [...(await this.namesOf(read.left.slice(-LEFT_SAMPLE_LIMIT))), ...read.group.leftUsers].slice(0, LEFT_SAMPLE_LIMIT);
      next.groups.push({
        ...read.group,
        // Too many waiting to remember one by one: the group is read whole next time, which finds them again.
        watched: overflow ? read.group.watched.map((w) => ({ groupId: w.groupId })) : read.group.watched,
        waiting: mine.slice(0, MAX_WAITING_PER_GROUP),
        invited: (invited[i] ?? []).slice(0, MAX_WAITING_PER_GROUP),
        licensedAfterJoining: (read.group.licensedAfterJoining ?? 0) + (joinedVpp[i] ?? 0),
        joined: read.group.joined + (newcomers[i] ?? 0),
        left: read.group.left + read.left.length,
        leftUsers,
      });
      groups.push({ groupName: read.group.groupName, joined: newcomers[i] ?? 0, left: read.left.length, ...(plan.counts[i] ?? { licensing: 0, inviting: 0, offering: 0 }), waiting: mine.length });
    }
    const waitingTotal = waiting.reduce((n, ids) => n + ids.length, 0);
    const result: RunReconciliation = { ...emptyResult(run), state: 'reconciled', groups, licensing, waiting: waitingTotal };

    // The approved licenses are used up and people wait: ask for exactly as many more (once per number).
    // An Available assignment spends only when members ask (BookClaimService), which asks for its own top-ups.
    if (run.installIntent === 'available') {
      // Nothing to ask here.
    } else if (waitingTotal > 0) {
      const current = (await runs.get(tokenId, runId)) ?? run;
      const groupNames = standing.groups.filter((_, i) => (waiting[i]?.length ?? 0) > 0).map((g) => g.groupName);
      try {
        const asked = await this.options.topUps.requestTopUp({ run: current, count: waitingTotal, groupNames });
        result.topUp = { outcome: asked.outcome, count: waitingTotal };
        next.topUpProblem = undefined;
      } catch (err) {
        if (!(err instanceof UserFacingError)) throw err;
        result.topUp = { outcome: 'failed', count: waitingTotal, message: err.message };
        next.topUpProblem = truncate(err.message, LIMITS.reason);
      }
    } else {
      next.topUpProblem = undefined;
      if (run.topUp?.state === 'pending') {
        const dropped = await this.options.topUps.requestTopUp({ run: (await runs.get(tokenId, runId)) ?? run, count: 0, groupNames: [] });
        if (dropped.outcome === 'withdrawn') result.topUp = { outcome: 'withdrawn', count: 0 };
      }
    }
    // Written after the pass is recorded: a crash in between reads the same changes again, and the members
    // handed to the pass then hold the book, are in it, or (when it fell short) are looked at again next time.
    await store.standing.save(next);
    if (passSize > 0) this.options.executor.start(tokenId, runId);
    return result;
  }

  /**
   * Which candidates hold the book at Apple. Only someone the organisation's VPP knows can (a sync stores every
   * user Apple has), so candidates without a VPP user cost no Apple request; a few are asked about one by one,
   * many with one read of the book's holders.
   */
  private async holdersAmong(token: VppToken, run: AssignmentRun, candidates: ReadonlySet<string>): Promise<Set<string>> {
    if (candidates.size === 0) return new Set();
    const known = (await this.options.store.vppUsers.getMany(run.tokenId, [...candidates])).map((u) => u.id);
    if (known.length === 0) return new Set();
    const client = this.options.clients(token);
    if (known.length > FEW_CANDIDATES) return bookHolders(client, run, (id) => candidates.has(id));
    const holders = new Set<string>();
    for (const clientUserId of known) {
      for await (const page of client.assignmentPages({ adamId: run.adamId, pricingParam: run.pricingParam, clientUserId })) {
        if (page.assignments.some((a) => a.clientUserId === clientUserId && a.pricingParam === run.pricingParam)) holders.add(clientUserId);
      }
    }
    return holders;
  }

  /**
   * What each group's candidates get. Required: a license within what is left of the budget for whoever
   * Apple can give one to now (a Managed Apple Account, or a member who joined the organisation's VPP),
   * the rest of those wait for a top-up; members without a VPP user are handed to the pass to be invited
   * (no license); invited members who have not joined yet stay invited. Available: newcomers are handed to
   * the pass, which tells them the book is there for them (nothing is spent).
   */
  private async plan(run: AssignmentRun, reads: readonly GroupRead[], wanted: readonly string[][], holders: ReadonlySet<string>, firstLook: boolean): Promise<PassPlan> {
    const plan: PassPlan = { passes: [], counts: [], waiting: [], invited: [], newcomers: [], joinedVpp: [] };
    const all = wanted.flat().filter((id) => !holders.has(id));
    const stored = new Map(all.length === 0 ? [] : (await this.options.store.vppUsers.getMany(run.tokenId, all)).map((u) => [u.id, u.status]));
    // The directory is asked only about members the organisation's VPP does not know (yet): whether they have a
    // Managed Apple Account, and that they still exist. Invited and joined members cost no Graph request.
    const unknown = all.filter((id) => stored.get(id) !== 'registered' && stored.get(id) !== 'associated');
    const directory = new Map(unknown.length === 0 ? [] : (await this.options.directory.usersByIds(unknown)).map((u) => [u.id, u]));
    const exists = (id: string): boolean => directory.has(id) || stored.get(id) === 'registered' || stored.get(id) === 'associated';
    let room = Math.max(0, (run.budget ?? 0) - (run.spent ?? 0));
    for (const [i, ids] of wanted.entries()) {
      const group = reads[i]?.group;
      const before = new Set([...(group?.waiting ?? []), ...(group?.invited ?? [])]);
      const wasInvited = new Set(group?.invited ?? []);
      // Gone from the directory: nobody to give it to (they are counted among those who left when Graph says so).
      const fresh = ids.filter((id) => !holders.has(id) && exists(id)).sort();
      // Newcomers are those the change feed says joined. The first look reads each group whole, as it was when
      // the delivery went to everyone in it: nobody joined yet, whoever lacks the book (told of an Available one,
      // invited, refused, left out for want of licenses) was a member then.
      const joiners = reads[i]?.joined;
      plan.newcomers.push(firstLook || !joiners ? 0 : ids.filter((id) => joiners.has(id) && !before.has(id)).length);
      if (run.installIntent === 'available') {
        // The first look follows the delivery, which told everyone then in the groups: nobody is new yet.
        const offer = firstLook ? [] : fresh.filter((id) => !before.has(id)).slice(0, MAX_PASS_USERS);
        plan.passes.push(offer);
        plan.counts.push({ licensing: 0, inviting: 0, offering: offer.length });
        plan.waiting.push([]);
        plan.invited.push([]);
        plan.joinedVpp.push(0);
        continue;
      }
      const licensable = fresh.filter((id) => directory.get(id)?.managedAppleId !== undefined || stored.get(id) === 'associated');
      const toInvite = fresh.filter((id) => !licensable.includes(id) && (stored.get(id) === undefined || stored.get(id) === 'retired'));
      const stillInvited = fresh.filter((id) => !licensable.includes(id) && stored.get(id) === 'registered');
      const take = Math.min(room, licensable.length, MAX_PASS_USERS);
      room -= take;
      const licensedNow = licensable.slice(0, take);
      // One pass holds at most MAX_PASS_USERS; those not invited now are still unknown to VPP next time.
      const inviteNow = toInvite.slice(0, MAX_PASS_USERS - take);
      plan.passes.push([...licensedNow, ...inviteNow].sort());
      plan.counts.push({ licensing: licensedNow.length, inviting: inviteNow.length, offering: 0 });
      plan.waiting.push(licensable.slice(take));
      plan.invited.push([...stillInvited, ...inviteNow]);
      plan.joinedVpp.push(licensedNow.filter((id) => wasInvited.has(id)).length);
    }
    return plan;
  }

  /** Reads one assigned group's changes: the group and each nested group through its own change feed. */
  private async readGroup(group: StandingGroup): Promise<GroupRead> {
    const joined = new Set<string>();
    const removed = new Set<string>();
    const removedGroups = new Set<string>();
    const queue = [...group.watched];
    const watched: StandingGroup['watched'] = [];
    for (let i = 0; i < queue.length; i++) {
      const entry = queue[i];
      if (!entry) continue;
      const delta = await this.options.directory.groupMemberDelta(entry.groupId, entry.deltaLink);
      for (const member of delta.added) {
        if (member.kind === 'user') {
          joined.add(member.id);
          removed.delete(member.id);
        } else if (member.kind === 'group' && !queue.some((q) => q.groupId === member.id) && queue.length < MAX_WATCHED_GROUPS) {
          // A nested group's users are members too: read whole now, followed for changes from here on.
          queue.push({ groupId: member.id });
        }
      }
      for (const member of delta.removed) {
        if (member.kind === 'user' && !joined.has(member.id)) removed.add(member.id);
        if (member.kind === 'group') removedGroups.add(member.id);
      }
      watched.push({ groupId: entry.groupId, deltaLink: delta.deltaLink });
    }
    // A nested group taken out takes its users with it, unless they are members another way.
    for (const groupId of removedGroups) {
      const last = await this.options.directory.groupMemberDelta(groupId);
      for (const member of last.added) if (member.kind === 'user' && !joined.has(member.id)) removed.add(member.id);
    }
    const left: string[] = [];
    for (const id of removed) if (!(await this.options.directory.isMember(id, group.groupId))) left.push(id);
    return { group: { ...group, watched: watched.filter((w) => !removedGroups.has(w.groupId)) }, joined, left };
  }

  private async namesOf(ids: string[]): Promise<StandingGroup['leftUsers']> {
    const users = new Map((await this.options.directory.usersByIds(ids)).map((u) => [u.id, u.displayName]));
    return ids.map((id) => ({ id, displayName: truncate(users.get(id) ?? 'a user no longer in the directory', LIMITS.displayName) }));
  }

  private initialState(run: AssignmentRun): StandingAssignment {
    const now = this.now().toISOString();
    return {
      id: standingAssignmentId(run.id),
      tokenId: run.tokenId,
      tenantId: run.tenantId,
      runId: run.id,
      adamId: run.adamId,
      pricingParam: run.pricingParam,
      groups: run.groups.map((g) => ({ groupId: g.groupId, groupName: g.groupName, watched: [{ groupId: g.groupId }], waiting: [], joined: 0, left: 0, leftUsers: [] })),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
  }
}

/** The run set up for a pass over `passes` (per group); groups with nobody new are done already. */
function startPass(r: AssignmentRun, passes: string[][]): AssignmentRun {
  return {
    ...r,
    state: 'approved',
    pass: (r.pass ?? 0) + 1,
    passStart: r.totals,
    // An approved top-up is part of the budget now, handed out by this pass.
    topUp: r.topUp?.state === 'approved' ? undefined : r.topUp,
    groups: r.groups.map((g, i) => {
      const candidates = passes[i] ?? [];
      return { ...g, candidates, passStart: g.counts, done: candidates.length === 0, cursor: undefined };
    }),
    usersVersionId: undefined,
    pending: undefined,
    reserved: undefined,
    interruptions: undefined,
    resumeAfterDateTime: undefined,
    lastError: undefined,
    finishedDateTime: undefined,
  };
}

function emptyResult(run: AssignmentRun | undefined, runId = run?.id ?? '', tokenId = run?.tokenId ?? ''): RunReconciliation {
  return { runId, tokenId, bookTitle: run?.bookTitle ?? '', state: 'skipped', groups: [], licensing: 0, waiting: 0 };
}
