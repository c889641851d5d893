import { randomUUID } from 'node:crypto';
import type { BackendKind, FreshLicenseCounts } from '../backend/ports';
import { APPLE_PORTALS } from '../common/appleTerms';
import { escapeMarkdown } from '../common/chatText';
import { formatCount } from '../common/format';
import { nameList } from '../common/nameList';
import { truncate } from '../common/truncate';
import { UserFacingError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import { assignmentId as assignmentIdOf, type EBookAssignment } from '../store/entities/assignment';
import type { ApprovalRequest } from '../store/entities/approval';
import { LIMITS, type Actor } from '../store/entities/common';
import { ZERO_COUNTS, runId, type AssignmentRun, type AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import type { AssignmentPreview } from '../assignments/assignmentPreview';

/** Teams refreshes a card for at most 60 users (`refresh.userIds`). */
const MAX_REFRESH_USERS = 60;
const DEFAULT_APPROVAL_EXPIRY_MS = 72 * 60 * 60 * 1000;
/** Licenses a requester may add for people who join the groups before the run reaches them. */
export const MAX_NEWCOMER_HEADROOM = 10;
/** How long writing one request may take; an assignment claimed longer ago without its approval was cut off. */
export const REQUEST_IN_FLIGHT_MS = 2 * 60_000;

/** Who may decide (never the requester: the service checks that on every decision). */
export interface ApproverPolicy {
  /** Every approver: each gets the request card, whatever their number. */
  approverIds(tenantId: string): Promise<string[]>;
  isApprover(tenantId: string, aadObjectId: string): Promise<boolean>;
  /** Display names where known (for messages that name approvers), in the order asked. */
  displayNames?(tenantId: string, aadObjectIds: readonly string[]): Promise<Array<string | undefined>>;
}

/**
 * Makes sure approvers can be sent a card: a personal chat with the bot, started by the bot (installing
 * itself for the user) when there is none yet. The bot implements it; services know nothing of Teams.
 */
export interface ApproverReach {
  ensureReachable(tenantId: string, aadObjectIds: readonly string[]): Promise<{ reachable: string[]; unreachable: string[] }>;
}

/** Starts a run once it is approved (the AssignmentExecutor). */
interface RunStarter {
  start(tokenId: string, runId: string): void;
}

/** Hands an approved top-up's licenses to the members waiting for them (the reconciler). */
interface TopUpStarter {
  topUpApproved(tokenId: string, runId: string): void;
  /** A top-up refused (or withdrawn by its requester): Intune mode takes the assignment's groups off the book at once. */
  topUpDeclined?(tokenId: string, runId: string): void;
}

/** The run an approval spends from: a top-up's standing assignment, or the request's own run. */
function runIdOf(request: Pick<ApprovalRequest, 'id' | 'runId'>): string {
  return request.runId ?? runId(request.id);
}

/** Who withdraws a top-up request the bot replaced with one for a new number. */
const REPLACED_BY_BOT = { aadObjectId: 'vpp-books-bot', displayName: 'the bot (replaced by a newer top-up request)' };
/** Who withdraws a top-up nobody waits for any more. */
const NOBODY_WAITS = { aadObjectId: 'vpp-books-bot', displayName: 'the bot (nobody waits for these licenses any more)' };

export type TopUpResult =
  | { outcome: 'requested'; request: ApprovalRequest; approvers: string[]; replaced?: ApprovalRequest | undefined }
  /** The same number was asked for already (pending, or refused): approvers are not asked again. */
  | { outcome: 'unchanged' }
  /** Nobody waits any more (they left, or got a license given back): the pending request is withdrawn. */
  | { outcome: 'withdrawn'; replaced: ApprovalRequest };

export interface ApprovalServiceOptions {
  store: Store;
  runs: AssignmentRunRepository;
  approvers: ApproverPolicy;
  /** Without it every approver counts as reachable (tests that do not send cards). */
  reach?: ApproverReach | undefined;
  /** Apple's counts for one book: an approval is checked against them (without it, not checked). */
  licenses?: FreshLicenseCounts | undefined;
  /** A group's user members now (Graph's transitive count): the approver is told how the groups changed. */
  groupUserCount?: ((groupId: string) => Promise<number>) | undefined;
  executor: RunStarter;
  /** Without it an approved top-up waits for the next reconciliation to hand its licenses out. */
  topUps?: TopUpStarter | undefined;
  /** Who holds the tokens (`VPP_BACKEND`): what the approval card and the group-change notice say. Apple by default. */
  backend?: BackendKind | undefined;
  expiryMs?: number;
  logger?: Logger;
  now?: () => Date;
}

export interface RequestInput {
  preview: AssignmentPreview;
  requestedBy: Actor;
  /** A reduced scope the admin chose when licenses are short: at most this many users. */
  userLimit?: number | undefined;
  /** Licenses added to the budget for people who join the groups before the run reaches them. */
  headroom?: number | undefined;
}

export type DecisionResult =
  | { outcome: 'decided'; request: ApprovalRequest }
  | { outcome: 'alreadyDecided'; request: ApprovalRequest }
  | { outcome: 'expired'; request: ApprovalRequest }
  | { outcome: 'notFound' }
  | { outcome: 'ownRequest'; request: ApprovalRequest }
  | { outcome: 'notApprover'; request: ApprovalRequest }
  /** Apple has fewer licenses free (after approved requests still under way) than this one approves. */
  | { outcome: 'notEnoughLicenses'; request: ApprovalRequest; message: string };


/** How long one approval may hold its book while it checks Apple's counts and records the decision. */
const BOOK_LOCK_MS = 60_000;
const BOOK_LOCK_TRIES = 50;
const BOOK_LOCK_WAIT_MS = 100;
/** Longer than the recovery sweep's period, so an approval whose start failed stays held back until it starts. */
const APPROVING_MARK_MS = 15 * 60_000;

/**
 * Assignment requests and their approval: one approval per request (one or more groups), decided on the
 * server against the clicker's identity with exactly-one-winner semantics; an approved request starts
 * its delivery in the background.
 */
export class ApprovalService {
  private readonly now: () => Date;
  readonly expiryMs: number;

  constructor(private readonly options: ApprovalServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.expiryMs = options.expiryMs ?? DEFAULT_APPROVAL_EXPIRY_MS;
  }

  /** Who holds the tokens and spends the licenses: the cards say what an approval means there. */
  get backend(): BackendKind {
    return this.options.backend ?? 'apple';
  }

  get approvers(): ApproverPolicy {
    return this.options.approvers;
  }

  /**
   * Whom Teams refreshes the request card for: the approvers' Teams user ids (MRIs, `29:…`) from their
   * stored chats with the bot, at most 60 (Teams' limit). Entra object ids would never match in Teams.
   */
  async refreshUserIds(tenantId: string): Promise<string[]> {
    return this.refreshIdsOf(tenantId, await this.options.approvers.approverIds(tenantId));
  }

  /**
   * How the request's groups changed since it was asked for, in words for the approver; undefined when
   * they did not change, or cannot be counted now.
   */
  async groupChange(request: ApprovalRequest): Promise<string | undefined> {
    const before = request.summary.groupUsers;
    const count = this.options.groupUserCount;
    if (before === undefined || !count || request.state !== 'pending' || request.kind === 'topUp') return undefined;
    const run = await this.options.runs.get(request.tokenId, runIdOf(request));
    if (!run) return undefined;
    try {
      const now = (await Promise.all(run.groups.map((g) => count(g.groupId)))).reduce((a, b) => a + b, 0);
      if (now === before) return undefined;
      const approves = (request.summary.licensesNeeded + (request.summary.headroom ?? 0)).toLocaleString('en-GB');
      const change = now > before ? `grew by ${(now - before).toLocaleString('en-GB')}` : `shrank by ${(before - now).toLocaleString('en-GB')}`;
      // Intune licenses every member of an assigned group itself: nobody is left out there, the excess is asked for.
      const beyond =
        this.backend === 'intune'
          ? '. Intune licenses every member by itself, so approvers are asked at once for any licenses beyond them; if that is rejected, the bot removes the assignment in Intune.'
          : ': anyone beyond them is left out, never licensed.';
      return `The group ${change} since the request (${now.toLocaleString('en-GB')} members now). Approving approves ${approves} licenses all the same${beyond}`;
    } catch (err) {
      // The notice is a courtesy: a directory hiccup must not keep the card from showing.
      this.options.logger?.warn({ err, approvalId: request.id }, 'could not count the groups of an approval request');
      return undefined;
    }
  }

  /** Whom a request's card refreshes for: fixed when it was asked for (older requests: worked out now). */
  async refreshFor(request: ApprovalRequest): Promise<string[]> {
    return request.refreshUserIds ?? this.refreshUserIds(request.tenantId);
  }

  /** Pending requests still in time, without expiring anything (the sweep expires and announces them). */
  async listOpen(tenantId: string): Promise<ApprovalRequest[]> {
    const now = this.now().getTime();
    return (await this.options.store.approvals.listPending(tenantId)).filter((r) => Date.parse(r.expiresAt) > now);
  }

  /** The approvers of a request who can be sent its card now (all but the requester; reached if needed). */
  async reachApprovers(request: ApprovalRequest): Promise<string[]> {
    const requester = request.requestedBy.aadObjectId.toLowerCase();
    const others = (await this.options.approvers.approverIds(request.tenantId)).filter((id) => id.toLowerCase() !== requester);
    if (!this.options.reach || others.length === 0) return others;
    return (await this.options.reach.ensureReachable(request.tenantId, others)).reachable;
  }

  /**
   * Creates the request, or refuses at once, changing nothing: when nobody but the requester may approve,
   * or no approver can be sent the card. Creating is all or nothing: a write that fails undoes the ones
   * before it, and what a crash leaves half-made never blocks a later request (`isBusy`).
   */
  async request(input: RequestInput): Promise<{ request: ApprovalRequest; run: AssignmentRun; approvers: string[]; approverNames: string[]; unreachableNames: string[] }> {
    const { store, runs } = this.options;
    const { preview, requestedBy } = input;
    const { reachable: approvers, unreachable } = await this.approversFor(preview.tenantId, requestedBy);
    const refreshUserIds = await this.refreshIdsOf(preview.tenantId, approvers);
    const now = this.now().toISOString();
    const approvalId = randomUUID();
    const undo: Array<() => Promise<unknown>> = [];
    try {
      const assignments: EBookAssignment[] = [];
      for (const group of preview.groups) {
        const assignment: EBookAssignment = {
          id: assignmentIdOf(preview.book.adamId, preview.book.pricingParam, group.groupId),
          tokenId: preview.tokenId,
          tenantId: preview.tenantId,
          adamId: preview.book.adamId,
          pricingParam: preview.book.pricingParam,
          bookTitle: truncate(preview.book.title, LIMITS.title),
          targetGroupId: group.groupId,
          targetGroupName: truncate(group.groupName, LIMITS.displayName),
          installIntent: preview.installIntent,
          status: 'pendingApproval',
          approvalId,
          requestedBy,
          requestedDateTime: now,
          lastModifiedDateTime: now,
        };
        const { created, assignment: existing } = await store.assignments.createOrGet(assignment);
        if (created) {
          undo.push(() => store.assignments.delete(preview.tokenId, assignment.id));
        } else {
          const busy = new UserFacingError(`"${escapeMarkdown(preview.book.title)}" already has a request or delivery in progress for "${escapeMarkdown(group.groupName)}". Type **approvals** to see pending requests.`, 'assignment_busy');
          if (await this.isBusy(existing)) throw busy;
          // Assigning again (Intune updates the one assignment per book and group): new intent, new request.
          // Only over what was checked: a request that took the assignment meanwhile wins, this one is refused.
          const taken = await store.assignments.update(preview.tokenId, assignment.id, (a) =>
            a.approvalId === existing.approvalId && a.status === existing.status
              ? { ...a, installIntent: preview.installIntent, status: 'pendingApproval', approvalId, requestedBy, requestedDateTime: now, approvedBy: undefined, decidedAt: undefined, lastError: undefined }
              : undefined,
          );
          if (taken?.value.approvalId !== approvalId) throw busy;
          undo.push(() => store.assignments.update(preview.tokenId, assignment.id, (a) => (a.approvalId === approvalId ? existing : undefined)));
        }
        assignments.push(assignment);
      }
      const licensesNeeded = input.userLimit !== undefined ? Math.min(input.userLimit, preview.licensesNeeded) : preview.licensesNeeded;
      const headroom = input.userLimit === undefined ? Math.min(MAX_NEWCOMER_HEADROOM, Math.max(0, input.headroom ?? 0)) : 0;
      const run = await runs.create({
        id: runId(approvalId),
        tokenId: preview.tokenId,
        tenantId: preview.tenantId,
        approvalId,
        adamId: preview.book.adamId,
        pricingParam: preview.book.pricingParam,
        bookTitle: truncate(preview.book.title, LIMITS.title),
        installIntent: preview.installIntent,
        requestedBy,
        state: 'awaitingApproval',
        userLimit: input.userLimit,
        // What the approver sees and approves: the run never spends more, however the group grows.
        budget: licensesNeeded + headroom,
        groups: assignments.map((a) => ({ assignmentId: a.id, groupId: a.targetGroupId, groupName: a.targetGroupName, done: false, counts: { ...ZERO_COUNTS } })),
        batchesCompleted: 0,
        totals: { ...ZERO_COUNTS },
        failureReasons: [],
        failedUsers: [],
        invitedUsers: [],
        createdDateTime: now,
        lastModifiedDateTime: now,
      });
      undo.push(() => runs.delete(run.tokenId, run.id));
      const groupName = preview.groups.map((g) => g.groupName).join(', ');
      // Written last: the request exists for approvers only once everything it stands for does.
      const request = await store.approvals.create({
        id: approvalId,
        tenantId: preview.tenantId,
        tokenId: preview.tokenId,
        kind: 'assignment',
        assignmentId: assignments[0]?.id ?? run.id,
        summary: {
          bookTitle: truncate(preview.book.title, LIMITS.title),
          groupName: truncate(groupName, LIMITS.displayName, '...'),
          installIntent: preview.installIntent,
          licensesNeeded,
          ...(headroom > 0 ? { headroom } : {}),
          groupUsers: preview.groups.reduce((sum, g) => sum + g.userCount, 0),
        },
        state: 'pending',
        requestedBy,
        requestedDateTime: now,
        expiresAt: new Date(this.now().getTime() + this.expiryMs).toISOString(),
        ...(refreshUserIds.length > 0 ? { refreshUserIds } : {}),
      });
      await this.audit(request, requestedBy, 'assignment.request', 'success', { groups: preview.groups.length, licensesNeeded });
      return { request, run, approvers, approverNames: await this.namesOf(preview.tenantId, approvers), unreachableNames: await this.namesOf(preview.tenantId, unreachable) };
    } catch (err) {
      for (const step of undo.reverse()) {
        await step().catch((undoErr: unknown) => this.options.logger?.warn({ err: undoErr, approvalId }, 'could not undo part of a failed request; it frees itself'));
      }
      throw err;
    }
  }

  /**
   * The approvers who will get the card: everyone who may approve but the requester, of whom at least
   * one must be reachable. Otherwise the request is refused before anything is written.
   */
  private async approversFor(tenantId: string, requestedBy: Actor): Promise<{ reachable: string[]; unreachable: string[] }> {
    const requester = requestedBy.aadObjectId.toLowerCase();
    const all = await this.options.approvers.approverIds(tenantId);
    const others = all.filter((id) => id.toLowerCase() !== requester);
    if (others.length === 0) {
      const who = all.length > 0 ? ` (the approvers: ${nameList(await this.namesOf(tenantId, all))})` : ' (no approver is set up)';
      throw new UserFacingError(
        `Nobody but you can approve this request${who}, so it was not sent: book licenses need a second person. Ask your IT administrator to add approvers: APPROVER_USER_IDS, or members of the bot admin group. Nothing was changed.`,
        'no_other_approver',
      );
    }
    if (!this.options.reach) return { reachable: others, unreachable: [] };
    const reach = await this.options.reach.ensureReachable(tenantId, others);
    if (reach.reachable.length === 0) {
      throw new UserFacingError(
        `None of the approvers can be reached in Teams (${nameList(await this.namesOf(tenantId, reach.unreachable))}), so the request was not sent. Ask one of them to open a chat with the bot, or ask your IT administrator to let the bot install itself for approvers (see the deployment guide). Nothing was changed.`,
        'approvers_unreachable',
      );
    }
    return reach;
  }

  /** Approvers by name where the directory or their chat with the bot tells it, else by id. */
  private async namesOf(tenantId: string, ids: readonly string[]): Promise<string[]> {
    const fromDirectory = (await this.options.approvers.displayNames?.(tenantId, ids)) ?? [];
    const names: string[] = [];
    for (const [i, id] of ids.entries()) {
      names.push(fromDirectory[i] ?? (await this.options.store.conversations.getForUser(tenantId, id))?.reference.user?.name ?? id);
    }
    return names;
  }

  /** The approvers' Teams ids (MRIs) from their stored chats, at most 60: what the card refreshes for. */
  private async refreshIdsOf(tenantId: string, ids: readonly string[]): Promise<string[]> {
    const mris: string[] = [];
    for (const id of ids) {
      if (mris.length >= MAX_REFRESH_USERS) break;
      const mri = (await this.options.store.conversations.getForUser(tenantId, id))?.reference.user?.id;
      if (mri && mri.toLowerCase() !== id.toLowerCase()) mris.push(mri);
    }
    return mris;
  }

  /**
   * Whether an existing assignment still stands for a live request or delivery. A half-made request
   * (its approval never written) or a finished, withdrawn or expired one frees the book and group.
   */
  private async isBusy(existing: EBookAssignment): Promise<boolean> {
    if (existing.status !== 'pendingApproval' && existing.status !== 'approved' && existing.status !== 'inProgress') return false;
    if (!existing.approvalId) return false;
    const approval = await this.options.store.approvals.get(existing.tenantId, existing.approvalId);
    // No approval yet: another request is being written right now (busy), or one was cut off by a crash
    // (free once it is clearly not in flight any more).
    if (!approval) return this.now().getTime() - Date.parse(existing.requestedDateTime) < REQUEST_IN_FLIGHT_MS;
    if (approval.state === 'pending') return Date.parse(approval.expiresAt) > this.now().getTime();
    if (approval.state !== 'approved') return false;
    const run = await this.options.runs.get(existing.tokenId, runIdOf(approval));
    return run !== undefined && run.state !== 'completed' && run.state !== 'failed' && run.state !== 'cancelled';
  }

  get(tenantId: string, approvalId: string): Promise<ApprovalRequest | undefined> {
    return this.options.store.approvals.get(tenantId, approvalId);
  }

  /** Remembers where the request's card was posted, so a decision updates it for everyone. */
  async recordCard(tenantId: string, approvalId: string, card: NonNullable<ApprovalRequest['card']>): Promise<ApprovalRequest | undefined> {
    return this.options.store.approvals.setCard(tenantId, approvalId, card);
  }

  async expireOverdue(tenantId: string): Promise<ApprovalRequest[]> {
    const expired = await this.options.store.approvals.expireOverdue(tenantId);
    for (const request of expired) await this.settleRejected(request, 'approval_expired', 'The approval request expired before anyone decided.');
    return expired;
  }

  /**
   * Decides on the server: the clicker must be an approver and not the requester, and the request must
   * still be pending and in time. Whatever the card said, only this check counts.
   */
  async decide(tenantId: string, approvalId: string, decider: Actor, decision: 'approved' | 'rejected', comment?: string): Promise<DecisionResult> {
    const { store } = this.options;
    const current = await store.approvals.get(tenantId, approvalId);
    if (!current) return { outcome: 'notFound' };
    if (current.state !== 'pending') return { outcome: 'alreadyDecided', request: current };
    if (current.requestedBy.aadObjectId.toLowerCase() === decider.aadObjectId.toLowerCase()) {
      await this.audit(current, decider, `assignment.${decision === 'approved' ? 'approve' : 'reject'}`, 'refused', { reason: 'ownRequest' });
      return { outcome: 'ownRequest', request: current };
    }
    if (!(await this.options.approvers.isApprover(tenantId, decider.aadObjectId))) {
      await this.audit(current, decider, `assignment.${decision === 'approved' ? 'approve' : 'reject'}`, 'refused', { reason: 'notApprover' });
      return { outcome: 'notApprover', request: current };
    }
    if (decision === 'approved' && this.options.licenses) return this.approveWithinLicenses(current, decider, comment);
    return this.record(current, decider, decision, comment);
  }

  /**
   * Approves only into licenses that are free: one approval per book at a time (a lease), checked against
   * Apple's counts read now for that book minus what approved requests still under way hold back. Two
   * requests can never both be approved into the same last licenses.
   */
  private async approveWithinLicenses(current: ApprovalRequest, decider: Actor, comment: string | undefined): Promise<DecisionResult> {
    const { store, runs } = this.options;
    const run = await runs.get(current.tokenId, runIdOf(current));
    const topUp = current.kind === 'topUp';
    if (topUp && (run?.topUp?.approvalId !== current.id || run.topUp.state !== 'pending')) return this.orphanedTopUp(current);
    if (!run) return this.record(current, decider, 'approved', comment);
    // Requests made before budgets existed approve what their card showed; a top-up approves its own number.
    const budget = topUp
      ? current.summary.licensesNeeded
      : (run.budget ?? Math.min(current.summary.licensesNeeded + (current.summary.headroom ?? 0), run.userLimit ?? Number.POSITIVE_INFINITY));
    const lockName = `approve|${run.tokenId}|${run.adamId}|${run.pricingParam}`;
    const owner = `approval-${randomUUID()}`;
    let lock = await store.leases.acquire(lockName, owner, BOOK_LOCK_MS);
    for (let tries = 1; !lock && tries < BOOK_LOCK_TRIES; tries++) {
      await new Promise((resolve) => setTimeout(resolve, BOOK_LOCK_WAIT_MS));
      lock = await store.leases.acquire(lockName, owner, BOOK_LOCK_MS);
    }
    if (!lock) throw new UserFacingError('Another approval for this book is being recorded right now. Try again in a minute.', 'approval_busy');
    let marked = false;
    try {
      // The runs first, then Apple's (or Intune's) counts: a batch finishing in between is counted twice (too few free), never as free.
      const heldBack = await runs.reservedFor(run.tokenId, run.adamId, run.pricingParam, { except: run.id, approvedOnly: true });
      // In Intune mode a top-up's licenses were spent by Intune already (it licenses newcomers itself): approving
      // it keeps the assignment standing, so Intune's free count, which no longer holds them, is not checked.
      const spentAlready = topUp && this.backend === 'intune';
      const available = spentAlready ? undefined : await this.options.licenses?.available(run);
      if (available !== undefined) {
        const free = Math.max(0, available - heldBack);
        if (free < budget) {
          await this.audit(current, decider, 'assignment.approve', 'refused', { reason: 'notEnoughLicenses', free, needed: budget });
          const held = heldBack > 0 ? ` (${formatCount(heldBack)} more are reserved for approved assignments still under way)` : '';
          return {
            outcome: 'notEnoughLicenses',
            request: current,
            message:
              this.backend === 'intune'
                ? `Only ${formatCount(free)} licenses of this book are free in Intune now${held}, and this request approves ${formatCount(budget)}. Nothing was approved: buy more licenses in ${APPLE_PORTALS}, type **sync** so Intune reads them, and approve again, or reject it.`
                : `Only ${formatCount(free)} licenses of this book are free at Apple now${held}, and this request approves ${formatCount(budget)}. Nothing was approved: buy more licenses in ${APPLE_PORTALS} and approve again, or reject it.`,
          };
        }
      }
      // Held back from the next approval before the decision is written: if starting the delivery fails
      // after the decision, the sweep starts it well before the mark runs out.
      const approvingUntil = new Date(this.now().getTime() + APPROVING_MARK_MS).toISOString();
      if (topUp) {
        await runs.update(run.tokenId, run.id, (r) => (r.topUp?.approvalId === current.id && r.topUp.state === 'pending' ? { ...r, topUp: { ...r.topUp, approvingUntil } } : undefined));
      } else {
        await runs.update(run.tokenId, run.id, (r) => (r.state === 'awaitingApproval' ? { ...r, budget: r.budget ?? budget, approvingUntil } : undefined));
      }
      marked = true;
      // Apple's read may have taken long: the lock must still be ours, or another approval may have checked without us.
      const renewed = await store.leases.renew(lock, BOOK_LOCK_MS);
      if (!renewed) throw new UserFacingError('Another approval for this book was recorded meanwhile. Try again in a minute.', 'approval_busy');
      lock = renewed;
      const result = await this.record(current, decider, 'approved', comment);
      if (result.outcome === 'decided') marked = false;
      return result;
    } finally {
      if (marked) {
        await runs
          .update(run.tokenId, run.id, (r) => {
            if (topUp) return r.topUp?.approvalId === current.id && r.topUp.state === 'pending' && r.topUp.approvingUntil ? { ...r, topUp: { ...r.topUp, approvingUntil: undefined } } : undefined;
            return r.state === 'awaitingApproval' && r.approvingUntil ? { ...r, approvingUntil: undefined } : undefined;
          })
          .catch(() => undefined);
      }
      await store.leases.release(lock).catch(() => false);
    }
  }

  /** Writes the decision (exactly one decider wins) and starts the delivery of an approval. */
  private async record(current: ApprovalRequest, decider: Actor, decision: 'approved' | 'rejected', comment: string | undefined): Promise<DecisionResult> {
    const { store } = this.options;
    const tenantId = current.tenantId;
    const approvalId = current.id;
    const result = await store.approvals.decide(tenantId, approvalId, { decision, decider, comment: truncate(comment ?? '', LIMITS.reason) || undefined });
    if (result.outcome === 'notFound' || result.outcome === 'alreadyDecided') return result;
    if (result.outcome === 'expired') {
      await this.settleRejected(result.request, 'approval_expired', 'The approval request expired before anyone decided.');
      return result;
    }
    const request = result.request;
    await this.audit(request, decider, `assignment.${decision === 'approved' ? 'approve' : 'reject'}`, 'success', {});
    if (decision === 'rejected') {
      await this.settleRejected(request, 'approval_rejected', `Rejected by ${decider.displayName ? escapeMarkdown(decider.displayName) : 'an approver'}.`);
      return result;
    }
    // The decision stands once written; starting the delivery is retried by the recovery sweep if it fails here.
    try {
      await this.startApproved(request);
    } catch (err) {
      this.options.logger?.error({ err, approvalId: request.id }, 'approved, but the delivery did not start; the recovery sweep starts it');
    }
    return result;
  }

  /** The requester takes back a pending request; its book and groups are free for a new request at once. */
  async withdraw(tenantId: string, approvalId: string, by: Actor): Promise<{ outcome: 'withdrawn' | 'notRequester' | 'notPending' | 'notFound'; request?: ApprovalRequest }> {
    const current = await this.options.store.approvals.get(tenantId, approvalId);
    if (!current) return { outcome: 'notFound' };
    if (current.requestedBy.aadObjectId.toLowerCase() !== by.aadObjectId.toLowerCase()) return { outcome: 'notRequester', request: current };
    const withdrawn = await this.options.store.approvals.withdraw(tenantId, approvalId, by);
    if (!withdrawn) return { outcome: 'notPending', request: (await this.options.store.approvals.get(tenantId, approvalId)) ?? current };
    await this.audit(withdrawn, by, 'assignment.withdraw', 'success', {});
    await this.settleRejected(withdrawn, 'approval_withdrawn', `Withdrawn by ${by.displayName ? escapeMarkdown(by.displayName) : 'the requester'}.`);
    return { outcome: 'withdrawn', request: withdrawn };
  }

  /**
   * Recovery: every request approved within the expiry window whose delivery never started (its run still
   * awaits approval) is started now. Safe to run anywhere, any number of times: each step is conditional.
   */
  async recoverApproved(): Promise<number> {
    const since = new Date(this.now().getTime() - this.expiryMs - 24 * 3_600_000);
    let started = 0;
    for (const request of await this.options.store.approvals.listApprovedSince(since)) {
      const run = await this.options.runs.get(request.tokenId, runIdOf(request));
      // A top-up approved whose licenses were never added to its budget (cut off right after the decision).
      if (request.kind === 'topUp' ? run?.topUp?.approvalId !== request.id || run.topUp.state !== 'pending' : run?.state !== 'awaitingApproval' && run?.state !== 'approved') continue;
      // `approved` but not running: the start was cut off after the run's own write (the executor is idempotent).
      try {
        await this.startApproved(request);
        started++;
      } catch (err) {
        this.options.logger?.warn({ err, approvalId: request.id }, 'recovering an approved request failed; the next sweep tries again');
      }
    }
    return started;
  }

  /** Moves the run to approved, marks its assignments and hands it to the executor; each step conditional. */
  private async startApproved(request: ApprovalRequest): Promise<void> {
    const { store, runs } = this.options;
    if (request.kind === 'topUp') return this.startTopUp(request);
    const current = await runs.get(request.tokenId, runId(request.id));
    if (!current) return;
    const run = current.state === 'awaitingApproval' ? ((await runs.update(request.tokenId, current.id, (r) => (r.state === 'awaitingApproval' ? { ...r, state: 'approved', approvingUntil: undefined } : undefined)))?.value ?? current) : current;
    if (run.state !== 'approved') return;
    for (const group of run.groups) {
      await store.assignments.update(request.tokenId, group.assignmentId, (a) =>
        a.approvalId === request.id && a.status === 'pendingApproval' ? { ...a, status: 'approved', approvedBy: request.decidedBy, decidedAt: request.decidedDateTime } : undefined,
      );
    }
    this.options.executor.start(request.tokenId, run.id);
  }

  private async settleRejected(request: ApprovalRequest, code: string, message: string): Promise<void> {
    if (request.kind === 'topUp') {
      // Refused or withdrawn: its licenses are free again, and the same number is not asked for again. Expired
      // (nobody decided): forgotten in Apple mode, so the next reconciliation asks again (nobody gets a license
      // meanwhile). In Intune mode it counts as refused: Intune goes on licensing newcomers while nobody decides,
      // and asking again forever would let it, so the groups' assignment is taken off the book as for a rejection.
      const expired = code === 'approval_expired';
      const forget = expired && this.backend !== 'intune';
      const settled = await this.options.runs.update(request.tokenId, runIdOf(request), (r) =>
        r.topUp?.approvalId === request.id && r.topUp.state === 'pending'
          ? { ...r, topUp: forget ? undefined : { approvalId: r.topUp.approvalId, count: r.topUp.count, state: 'declined', ...(expired ? { expired: true } : {}) } }
          : undefined,
      );
      if (settled?.value.topUp?.approvalId === request.id && settled.value.topUp.state === 'declined') this.options.topUps?.topUpDeclined?.(request.tokenId, settled.value.id);
      return;
    }
    const run = await this.options.runs.update(request.tokenId, runId(request.id), (r) => (r.state === 'awaitingApproval' ? { ...r, state: 'cancelled' } : undefined));
    for (const group of run?.value.groups ?? []) {
      await this.options.store.assignments.update(request.tokenId, group.assignmentId, (a) =>
        a.approvalId === request.id && a.status === 'pendingApproval'
          ? { ...a, status: 'rejected', decidedAt: request.decidedDateTime ?? this.now().toISOString(), lastError: { code, message, occurredDateTime: this.now().toISOString() } }
          : undefined,
      );
    }
  }

  /** The top-up's licenses join the budget (once: only a pending top-up is added), then go to those waiting. */
  private async startTopUp(request: ApprovalRequest): Promise<void> {
    const updated = await this.options.runs.update(request.tokenId, runIdOf(request), (r) =>
      r.topUp?.approvalId === request.id && r.topUp.state === 'pending'
        ? { ...r, budget: (r.budget ?? r.spent ?? 0) + r.topUp.count, topUp: { approvalId: r.topUp.approvalId, count: r.topUp.count, state: 'approved' } }
        : undefined,
    );
    const run = updated?.value;
    if (run?.topUp?.approvalId === request.id && run.topUp.state === 'approved') this.options.topUps?.topUpApproved(run.tokenId, run.id);
  }

  /**
   * A top-up whose standing assignment no longer waits for it (replaced by a newer request, or its assignment
   * removed): nobody can approve it any more; it is withdrawn so its card says so.
   */
  private async orphanedTopUp(current: ApprovalRequest): Promise<DecisionResult> {
    const withdrawn = await this.options.store.approvals.withdraw(current.tenantId, current.id, REPLACED_BY_BOT);
    return { outcome: 'alreadyDecided', request: withdrawn ?? (await this.options.store.approvals.get(current.tenantId, current.id)) ?? current };
  }

  /**
   * Asks the approvers for `count` more licenses for a standing assignment whose approved ones are used up
   * (members joined its groups since). Asked once per number: the same number pending or refused is not
   * asked again; a new number replaces a pending request (withdrawn, so its cards say so). The request is
   * in the original requester's name, so they cannot approve it themselves.
   */
  async requestTopUp(input: { run: AssignmentRun; count: number; groupNames: readonly string[] }): Promise<TopUpResult> {
    const { store, runs } = this.options;
    const { run, count } = input;
    const previous = run.topUp;
    if (count === 0) return this.withdrawTopUp(run);
    if (previous && previous.count === count && previous.state !== 'approved') return { outcome: 'unchanged' };
    const requestedBy = run.requestedBy;
    const { reachable: approvers } = await this.approversFor(run.tenantId, requestedBy);
    const refreshUserIds = await this.refreshIdsOf(run.tenantId, approvers);
    const now = this.now().toISOString();
    const names = input.groupNames.map((n) => `'${n}'`).join(', ');
    const request = await store.approvals.create({
      id: randomUUID(),
      tenantId: run.tenantId,
      tokenId: run.tokenId,
      kind: 'topUp',
      runId: run.id,
      assignmentId: run.groups[0]?.assignmentId ?? run.id,
      summary: {
        bookTitle: run.bookTitle,
        groupName: truncate(names, LIMITS.displayName, '...'),
        installIntent: run.installIntent,
        licensesNeeded: count,
        // In Intune mode nobody asks for an Available book through the bot: Intune licenses whoever joined, either intent.
        ...(run.installIntent === 'available' && this.backend !== 'intune' ? { asked: count } : { joined: count }),
      },
      state: 'pending',
      requestedBy,
      requestedDateTime: now,
      expiresAt: new Date(this.now().getTime() + this.expiryMs).toISOString(),
      ...(refreshUserIds.length > 0 ? { refreshUserIds } : {}),
    });
    // Only over the top-up that was read: a concurrent reconciliation that asked first wins.
    const marked = await runs.update(run.tokenId, run.id, (r) =>
      r.topUp?.approvalId === previous?.approvalId && r.topUp?.state === previous?.state ? { ...r, topUp: { approvalId: request.id, count, state: 'pending' } } : undefined,
    );
    if (marked?.value.topUp?.approvalId !== request.id) {
      await store.approvals.withdraw(request.tenantId, request.id, REPLACED_BY_BOT);
      return { outcome: 'unchanged' };
    }
    const replaced = previous?.state === 'pending' ? await store.approvals.withdraw(run.tenantId, previous.approvalId, REPLACED_BY_BOT) : undefined;
    await this.audit(request, requestedBy, 'assignment.topUp.request', 'success', { licensesNeeded: count });
    return { outcome: 'requested', request, approvers, replaced };
  }

  private async withdrawTopUp(run: AssignmentRun): Promise<TopUpResult> {
    const previous = run.topUp;
    if (previous?.state !== 'pending') return { outcome: 'unchanged' };
    const cleared = await this.options.runs.update(run.tokenId, run.id, (r) => (r.topUp?.approvalId === previous.approvalId && r.topUp.state === 'pending' ? { ...r, topUp: undefined } : undefined));
    if (!cleared) return { outcome: 'unchanged' };
    const replaced = await this.options.store.approvals.withdraw(run.tenantId, previous.approvalId, NOBODY_WAITS);
    return replaced ? { outcome: 'withdrawn', replaced } : { outcome: 'unchanged' };
  }

  private async audit(request: ApprovalRequest, actor: Actor, action: string, outcome: 'success' | 'refused', details: Record<string, string | number>): Promise<void> {
    try {
      await this.options.store.audit.record({
        tenantId: request.tenantId,
        actor: { aadObjectId: actor.aadObjectId, displayName: actor.displayName },
        action,
        target: { type: 'approval', id: request.id, name: request.summary.bookTitle },
        tokenId: request.tokenId,
        outcome,
        details,
      });
    } catch (err) {
      this.options.logger?.warn({ err }, 'could not audit an approval action');
    }
  }
}
