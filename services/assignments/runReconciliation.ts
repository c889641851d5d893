/** What one look at a standing assignment found and did (after a sync, or on `reconcile`), in either mode. */
export interface GroupReconciliation {
  groupName: string;
  /** Members who joined since the last round (none on the first look, which follows the delivery). */
  joined: number;
  left: number;
  /** Handed to a pass now: they get the book within the budget. */
  licensing: number;
  /** Required: handed to the pass to be invited to the organisation's VPP (licensed once they join). */
  inviting: number;
  /** Available: told the book is there for them. */
  offering: number;
  /** Left without a license: the approved ones are used up; a top-up was asked for. */
  waiting: number;
}

export interface RunReconciliation {
  runId: string;
  tokenId: string;
  bookTitle: string;
  /** `busy`: a delivery or another reconciliation of it is under way; it is looked at next time. */
  state: 'reconciled' | 'busy' | 'skipped';
  reason?: string | undefined;
  groups: GroupReconciliation[];
  licensing: number;
  waiting: number;
  topUp?: { outcome: 'requested' | 'unchanged' | 'withdrawn' | 'failed'; count: number; message?: string | undefined } | undefined;
}
