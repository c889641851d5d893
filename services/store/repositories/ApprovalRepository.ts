import type { Container } from '@azure/cosmos';
import { DocumentStore } from '../DocumentStore';
import type { Actor } from '../entities/common';
import { approvalRequestSchema, type ApprovalRequest } from '../entities/approval';
import { clockOf, type RepositoryOptions } from './options';

export interface Decision {
  decision: 'approved' | 'rejected';
  decider: Actor;
  comment?: string;
}

export type DecisionOutcome =
  | { outcome: 'decided'; request: ApprovalRequest }
  /** Someone decided first (two admins clicking at once): their decision stands. */
  | { outcome: 'alreadyDecided'; request: ApprovalRequest }
  | { outcome: 'expired'; request: ApprovalRequest }
  | { outcome: 'notFound' };

/** Approval requests per tenant; a decision is a conditional write, so exactly one decider wins. */
export class ApprovalRepository {
  readonly store: DocumentStore<ApprovalRequest>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({ container, schema: approvalRequestSchema, docType: 'approval', partitionKeyField: 'tenantId', maxAttempts: options.maxAttempts });
  }

  async create(request: ApprovalRequest): Promise<ApprovalRequest> {
    return (await this.store.create(request)).value;
  }

  get(tenantId: string, id: string): Promise<ApprovalRequest | undefined> {
    return this.store.get(id, tenantId);
  }

  listPending(tenantId: string): Promise<ApprovalRequest[]> {
    return this.store.queryValues(
      "SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.state = 'pending' ORDER BY c.requestedDateTime",
      [{ name: '@tenantId', value: tenantId }],
      { partitionKey: tenantId },
    );
  }

  async decide(tenantId: string, id: string, decision: Decision): Promise<DecisionOutcome> {
    const now = this.now();
    let outcome: 'decided' | 'alreadyDecided' | 'expired' = 'decided';
    const result = await this.store.update(id, tenantId, (current) => {
      // Reset on every attempt: the mutation reruns when another writer got in first.
      if (current.state !== 'pending') {
        outcome = 'alreadyDecided';
        return undefined;
      }
      if (Date.parse(current.expiresAt) <= now.getTime()) {
        outcome = 'expired';
        return { ...current, state: 'expired' };
      }
      outcome = 'decided';
      return {
        ...current,
        state: decision.decision,
        decidedBy: decision.decider,
        decidedDateTime: now.toISOString(),
        comment: decision.comment,
      };
    });
    if (!result) return { outcome: 'notFound' };
    return { outcome, request: result.value };
  }

  /** The requester takes a pending request back; undefined when it is no longer pending (or gone). */
  async withdraw(tenantId: string, id: string, by: Actor): Promise<ApprovalRequest | undefined> {
    const now = this.now().toISOString();
    const result = await this.store.update(id, tenantId, (current) => (current.state === 'pending' ? { ...current, state: 'withdrawn', decidedBy: by, decidedDateTime: now } : undefined));
    return result?.written ? result.value : undefined;
  }

  /**
   * Requests approved since `since`, across tenants: the recovery sweep checks that each one's delivery
   * started (a failed write or a crash between the decision and the start would leave it waiting).
   */
  listApprovedSince(since: Date): Promise<ApprovalRequest[]> {
    return this.store.queryValues("SELECT * FROM c WHERE c.type = @type AND c.state = 'approved' AND c.decidedDateTime >= @since", [{ name: '@since', value: since.toISOString() }]);
  }

  /** Remembers where an approver's copy of the card was posted (kept up to 200; the rest rely on refresh). */
  async addCopy(tenantId: string, id: string, copy: { activityId: string; conversationId: string }): Promise<ApprovalRequest | undefined> {
    const result = await this.store.update(id, tenantId, (current) => {
      const copies = current.copies ?? [];
      if (copies.length >= 200 || copies.some((c) => c.activityId === copy.activityId && c.conversationId === copy.conversationId)) return undefined;
      return { ...current, copies: [...copies, copy] };
    });
    return result?.value;
  }

  /** Remembers the card's activity so the bot can update it for everyone after a decision. */
  async setCard(tenantId: string, id: string, card: NonNullable<ApprovalRequest['card']>): Promise<ApprovalRequest | undefined> {
    return (await this.store.update(id, tenantId, (current) => ({ ...current, card })))?.value;
  }

  /** Marks overdue pending requests expired; returns those this call expired (to update their cards). */
  async expireOverdue(tenantId: string): Promise<ApprovalRequest[]> {
    const now = this.now();
    const overdue = (await this.listPending(tenantId)).filter((a) => Date.parse(a.expiresAt) <= now.getTime());
    const expired: ApprovalRequest[] = [];
    for (const request of overdue) {
      const result = await this.store.update(request.id, tenantId, (current) => (current.state === 'pending' ? { ...current, state: 'expired' } : undefined));
      if (result?.written) expired.push(result.value);
    }
    return expired;
  }
}
