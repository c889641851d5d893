import { randomUUID } from 'node:crypto';
import { UserFacingError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import { assignmentId as assignmentIdOf, type EBookAssignment } from '../store/entities/assignment';
import type { ApprovalRequest } from '../store/entities/approval';
import type { Actor } from '../store/entities/common';
import { ZERO_COUNTS, runId, type AssignmentRun, type AssignmentRunRepository } from '../assignments/AssignmentRunRepository';
import type { AssignmentPreview } from '../assignments/AssignmentPlanner';

/** Teams refreshes a card for at most 60 users (`refresh.userIds`). */
export const MAX_REFRESH_USERS = 60;
export const DEFAULT_APPROVAL_EXPIRY_MS = 72 * 60 * 60 * 1000;

/** Who may decide: the configured approvers, else any bot admin; never the requester. */
export interface ApproverPolicy {
  /** The users whose card view Teams refreshes (bounded to 60). */
  approverIds(tenantId: string): string[];
  isApprover(tenantId: string, aadObjectId: string): Promise<boolean>;
}

/** Approvers from configuration (APPROVER_USER_IDS), falling back to a check such as "is a bot admin". */
export function approverPolicy(options: { approverUserIds: readonly string[]; fallback?: (tenantId: string, aadObjectId: string) => Promise<boolean> }): ApproverPolicy {
  const ids = new Set(options.approverUserIds.map((id) => id.toLowerCase()));
  return {
    approverIds: () => [...options.approverUserIds].slice(0, MAX_REFRESH_USERS),
    isApprover: async (tenantId, aadObjectId) => {
      if (ids.size > 0) return ids.has(aadObjectId.toLowerCase());
      return options.fallback ? options.fallback(tenantId, aadObjectId) : false;
    },
  };
}

/** Starts a run once it is approved (the AssignmentExecutor). */
export interface RunStarter {
  start(tokenId: string, runId: string): void;
}

export interface ApprovalServiceOptions {
  store: Store;
  runs: AssignmentRunRepository;
  approvers: ApproverPolicy;
  executor: RunStarter;
  expiryMs?: number;
  logger?: Logger;
  now?: () => Date;
}

export interface RequestInput {
  preview: AssignmentPreview;
  requestedBy: Actor;
  /** A reduced scope the admin chose when licenses are short: at most this many users. */
  userLimit?: number | undefined;
}

export type DecisionResult =
  | { outcome: 'decided'; request: ApprovalRequest }
  | { outcome: 'alreadyDecided'; request: ApprovalRequest }
  | { outcome: 'expired'; request: ApprovalRequest }
  | { outcome: 'notFound' }
  | { outcome: 'ownRequest'; request: ApprovalRequest }
  | { outcome: 'notApprover'; request: ApprovalRequest };

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

  get approvers(): ApproverPolicy {
    return this.options.approvers;
  }

  async request(input: RequestInput): Promise<{ request: ApprovalRequest; run: AssignmentRun }> {
    const { store, runs } = this.options;
    const { preview, requestedBy } = input;
    const now = this.now().toISOString();
    const approvalId = randomUUID();
    const assignments: EBookAssignment[] = [];
    for (const group of preview.groups) {
      const assignment: EBookAssignment = {
        id: assignmentIdOf(preview.book.adamId, preview.book.pricingParam, group.groupId),
        tokenId: preview.tokenId,
        tenantId: preview.tenantId,
        adamId: preview.book.adamId,
        pricingParam: preview.book.pricingParam,
        bookTitle: preview.book.title.slice(0, 512),
        targetGroupId: group.groupId,
        targetGroupName: group.groupName.slice(0, 256),
        installIntent: preview.installIntent,
        status: 'pendingApproval',
        approvalId,
        requestedBy,
        requestedDateTime: now,
        lastModifiedDateTime: now,
      };
      const { created, assignment: existing } = await store.assignments.createOrGet(assignment);
      if (!created) {
        if (existing.status === 'pendingApproval' || existing.status === 'approved' || existing.status === 'inProgress') {
          throw new UserFacingError(`"${preview.book.title}" already has a request or delivery in progress for "${group.groupName}". Type **approvals** to see pending requests.`, 'assignment_busy');
        }
        // Assigning again (Intune updates the one assignment per book and group): new intent, new request.
        await store.assignments.update(preview.tokenId, assignment.id, (a) => ({
          ...a,
          installIntent: preview.installIntent,
          status: 'pendingApproval',
          approvalId,
          requestedBy,
          requestedDateTime: now,
          approvedBy: undefined,
          decidedAt: undefined,
          lastError: undefined,
        }));
      }
      assignments.push(assignment);
    }
    const licensesNeeded = input.userLimit !== undefined ? Math.min(input.userLimit, preview.licensesNeeded) : preview.licensesNeeded;
    const run = await runs.create({
      id: runId(approvalId),
      tokenId: preview.tokenId,
      tenantId: preview.tenantId,
      approvalId,
      adamId: preview.book.adamId,
      pricingParam: preview.book.pricingParam,
      bookTitle: preview.book.title.slice(0, 512),
      installIntent: preview.installIntent,
      requestedBy,
      state: 'awaitingApproval',
      userLimit: input.userLimit,
      groups: assignments.map((a) => ({ assignmentId: a.id, groupId: a.targetGroupId, groupName: a.targetGroupName, done: false, counts: { ...ZERO_COUNTS } })),
      batchesCompleted: 0,
      totals: { ...ZERO_COUNTS },
      failureReasons: [],
      failedUsers: [],
      invitedUsers: [],
      createdDateTime: now,
      lastModifiedDateTime: now,
    });
    const groupName = preview.groups.map((g) => g.groupName).join(', ');
    const request = await store.approvals.create({
      id: approvalId,
      tenantId: preview.tenantId,
      tokenId: preview.tokenId,
      kind: 'assignment',
      assignmentId: assignments[0]?.id ?? run.id,
      summary: {
        bookTitle: preview.book.title.slice(0, 512),
        groupName: groupName.length > 256 ? `${groupName.slice(0, 253)}...` : groupName,
        installIntent: preview.installIntent,
        licensesNeeded,
      },
      state: 'pending',
      requestedBy,
      requestedDateTime: now,
      expiresAt: new Date(this.now().getTime() + this.expiryMs).toISOString(),
    });
    await this.audit(request, requestedBy, 'assignment.request', 'success', { groups: preview.groups.length, licensesNeeded });
    return { request, run };
  }

  get(tenantId: string, approvalId: string): Promise<ApprovalRequest | undefined> {
    return this.options.store.approvals.get(tenantId, approvalId);
  }

  /** Remembers where the request's card was posted, so a decision updates it for everyone. */
  async recordCard(tenantId: string, approvalId: string, card: NonNullable<ApprovalRequest['card']>): Promise<ApprovalRequest | undefined> {
    return this.options.store.approvals.setCard(tenantId, approvalId, card);
  }

  getRun(request: ApprovalRequest): Promise<AssignmentRun | undefined> {
    return this.options.runs.get(request.tokenId, runId(request.id));
  }

  /** Pending requests, after expiring the overdue ones (returned separately so their cards can be updated). */
  async listPending(tenantId: string): Promise<{ pending: ApprovalRequest[]; expired: ApprovalRequest[] }> {
    const expired = await this.expireOverdue(tenantId);
    return { pending: await this.options.store.approvals.listPending(tenantId), expired };
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
    const result = await store.approvals.decide(tenantId, approvalId, { decision, decider, comment: comment?.slice(0, 1000) || undefined });
    if (result.outcome === 'notFound' || result.outcome === 'alreadyDecided') return result;
    if (result.outcome === 'expired') {
      await this.settleRejected(result.request, 'approval_expired', 'The approval request expired before anyone decided.');
      return result;
    }
    const request = result.request;
    await this.audit(request, decider, `assignment.${decision === 'approved' ? 'approve' : 'reject'}`, 'success', {});
    if (decision === 'rejected') {
      await this.settleRejected(request, 'approval_rejected', `Rejected by ${decider.displayName ?? 'an approver'}.`);
      return result;
    }
    const run = await this.options.runs.update(request.tokenId, runId(request.id), (r) => (r.state === 'awaitingApproval' ? { ...r, state: 'approved' } : undefined));
    if (run) {
      for (const group of run.value.groups) {
        await store.assignments.update(request.tokenId, group.assignmentId, (a) =>
          a.approvalId === request.id ? { ...a, status: 'approved', approvedBy: decider, decidedAt: request.decidedDateTime } : undefined,
        );
      }
      this.options.executor.start(request.tokenId, run.value.id);
    }
    return result;
  }

  private async settleRejected(request: ApprovalRequest, code: string, message: string): Promise<void> {
    const run = await this.options.runs.update(request.tokenId, runId(request.id), (r) => (r.state === 'awaitingApproval' ? { ...r, state: 'cancelled' } : undefined));
    for (const group of run?.value.groups ?? []) {
      await this.options.store.assignments.update(request.tokenId, group.assignmentId, (a) =>
        a.approvalId === request.id && a.status === 'pendingApproval'
          ? { ...a, status: 'rejected', decidedAt: request.decidedDateTime ?? this.now().toISOString(), lastError: { code, message, occurredDateTime: this.now().toISOString() } }
          : undefined,
      );
    }
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
