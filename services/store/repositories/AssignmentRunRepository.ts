import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { DocumentStore, type WriteResult } from '../DocumentStore';
import { deterministicId } from '../ids';
import { LIMITS, actorSchema, adamIdSchema, dateTimeSchema, errorInfoSchema, idSchema, pricingParamSchema } from '../entities/common';

/** Members one reconciliation pass licenses at most per group; the rest wait for the next pass. */
export const MAX_PASS_USERS = 5_000;

/** Per-user outcome counts; every user processed lands in exactly one of the last three. */
const runCountsSchema = z.object({
  processed: z.number().int().min(0),
  licensed: z.number().int().min(0),
  awaitingInvitation: z.number().int().min(0),
  failed: z.number().int().min(0),
  /** Available: members told the book is there for them (they get a license only when they ask). */
  offered: z.number().int().min(0).optional(),
});
export type RunCounts = z.infer<typeof runCountsSchema>;
export const ZERO_COUNTS: RunCounts = { processed: 0, licensed: 0, awaitingInvitation: 0, failed: 0 };

const runGroupSchema = z.object({
  assignmentId: idSchema,
  groupId: z.string().min(1).max(128),
  groupName: z.string().max(LIMITS.displayName),
  done: z.boolean(),
  /** Members are processed in id order; everyone up to and including this id is done. */
  cursor: z.string().max(128).optional(),
  counts: runCountsSchema,
  /** In a reconciliation pass: the members who joined since and get the book now (only they are processed). */
  candidates: z.array(z.string().max(128)).max(MAX_PASS_USERS).optional(),
  /** The group's counts when the current pass began. */
  passStart: runCountsSchema.optional(),
});

const userSampleSchema = z.object({
  clientUserId: z.string().min(1).max(128),
  displayName: z.string().max(LIMITS.displayName),
});

/** A book's assignment in Intune as a run keeps it: Graph's id when known, the intent, and the target whole. */
const intuneAssignmentSchema = z.object({
  id: z.string().max(128).optional(),
  installIntent: z.enum(['available', 'required', 'uninstall', 'availableWithoutEnrollment']),
  // Kept whole (filters and all): a target of a kind the bot does not know must be found again just as it was.
  target: z.looseObject({ '@odata.type': z.string().max(256), groupId: z.string().max(128).optional() }),
});

/**
 * One approved request being delivered: a book to one or more groups. It sits beside the assignments it
 * delivers (same container and partition) as its own document type, because the assignment entity has
 * no room for batch progress and we must never re-run a batch recorded complete after a restart.
 */
export const assignmentRunSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  approvalId: idSchema,
  adamId: adamIdSchema,
  pricingParam: pricingParamSchema,
  bookTitle: z.string().max(LIMITS.title),
  installIntent: z.enum(['required', 'available']),
  requestedBy: actorSchema,
  /** `interrupted`: Apple was unavailable or rate limiting past the retry deadline; resumes at `resumeAfterDateTime` or when an admin asks. */
  state: z.enum(['awaitingApproval', 'approved', 'running', 'interrupted', 'completed', 'failed', 'cancelled']),
  resumeAfterDateTime: dateTimeSchema.optional(),
  /** Pauses in a row: each waits longer before the sweep resumes the run. */
  interruptions: z.number().int().min(0).optional(),
  /** A reduced scope the admin chose: at most this many users get a license. */
  userLimit: z.number().int().positive().optional(),
  /**
   * The licenses the approval approved. No run, resume or retry ever spends more: each batch reserves its
   * new licenses here (`spent`) before Apple is asked, and gives back those Apple refused.
   */
  budget: z.number().int().min(0).optional(),
  /** New licenses reserved or spent so far (members who already held the book cost nothing). */
  spent: z.number().int().min(0).optional(),
  /** The batch whose licenses are reserved, and for whom: a resume of that very batch licenses them and no one else. */
  reserved: z
    .object({ groupIndex: z.number().int().min(0), firstUserId: z.string().max(128), lastUserId: z.string().max(128), userIds: z.array(z.string().max(128)).max(1000) })
    .optional(),
  /**
   * Set while an approval of this run is being recorded (and until its delivery starts): the run holds
   * its budget back from other approvals as an approved one does, though it still awaits approval.
   */
  approvingUntil: dateTimeSchema.optional(),
  /** Members left without the book because the budget was used up (the group grew after the request). */
  overBudget: z.number().int().min(0).optional(),
  groups: z.array(runGroupSchema).min(1).max(20),
  /**
   * Reconciliation passes started after the first delivery: each licenses the members who joined the groups
   * since, within what is left of the budget. `passStart` holds the totals when the current pass began.
   */
  pass: z.number().int().min(0).optional(),
  passStart: runCountsSchema.optional(),
  /**
   * The latest top-up request for this standing assignment: pending (its licenses are held back), approved
   * (added to the budget, not yet handed out) or declined. A new one is asked only when the number changes.
   */
  topUp: z
    .object({
      approvalId: idSchema,
      count: z.number().int().min(1),
      state: z.enum(['pending', 'approved', 'declined']),
      /** Declined because nobody decided in time (Intune mode counts that as a refusal). */
      expired: z.boolean().optional(),
      /** Held back from other approvals while this one is being recorded, as `approvingUntil` for a request. */
      approvingUntil: dateTimeSchema.optional(),
    })
    .optional(),
  /**
   * Intune mode: the book's assignments in Intune as read just before this run added its groups (`assign`
   * replaces the whole list), so a resumed run checks against them that none was lost.
   */
  intuneBefore: z.array(intuneAssignmentSchema).max(500).optional(),
  /**
   * Intune mode: the assignments this run added to the book, as Intune listed them after its `assign` (with
   * Intune's ids). Only these are the run's: a refused top-up takes off these and nothing an Intune admin made.
   */
  intuneCreated: z.array(intuneAssignmentSchema).max(20).optional(),
  /**
   * Intune mode: when the run's groups were taken off the book in Intune because a top-up was refused (Intune
   * would have gone on licensing newcomers). The assignment no longer stands; licenses already spent stay.
   */
  withdrawnFromIntune: dateTimeSchema.optional(),
  /** Apple's users versionId before the next batch: new users' invite codes are read since it. */
  usersVersionId: z.string().max(256).optional(),
  /** An associate request sent but not yet recorded complete; after a restart its events are awaited, not re-sent. */
  pending: z
    .object({
      groupIndex: z.number().int().min(0),
      firstUserId: z.string().max(128),
      lastUserId: z.string().max(128),
      eventIds: z.array(z.string().min(1).max(256)).max(50),
      /** Who the request named: after a restart, anyone of the batch it did not name is sent on their own. */
      userIds: z.array(z.string().max(128)).max(1000).optional(),
    })
    .optional(),
  batchesCompleted: z.number().int().min(0),
  totals: runCountsSchema,
  /** Failures by reason (Apple errorNumber or ours), with the admin text. */
  failureReasons: z.array(z.object({ code: z.string().max(LIMITS.errorCode), message: z.string().max(LIMITS.message), count: z.number().int().min(0) })).max(50),
  /** The first few failed users, so the result card can name them. */
  failedUsers: z.array(userSampleSchema.extend({ code: z.string().max(LIMITS.errorCode), groupId: z.string().max(128).optional() })).max(50),
  /** The first few users who must still accept their VPP invitation. */
  invitedUsers: z.array(userSampleSchema.extend({ inviteCode: z.string().max(256).optional() })).max(50),
  lastError: errorInfoSchema.optional(),
  startedDateTime: dateTimeSchema.optional(),
  finishedDateTime: dateTimeSchema.optional(),
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
});
export type AssignmentRun = z.infer<typeof assignmentRunSchema>;
type RunState = AssignmentRun['state'];

export const SAMPLE_LIMIT = 50;

/** Runs that still hold licenses back: asked for, approved, or under way. */
const OPEN_STATES: ReadonlySet<RunState> = new Set(['awaitingApproval', 'approved', 'running', 'interrupted']);

/**
 * Licenses a run still holds back: what is left of its budget, plus the batch it reserved and may not
 * have reported yet (counted twice if Apple already spent them: a reservation errs towards too few free).
 */
export function reservedBy(run: AssignmentRun, options: { approvedOnly?: boolean; now?: number } = {}): number {
  const topUp = run.topUp;
  const approving = topUp?.approvingUntil !== undefined && Date.parse(topUp.approvingUntil) > (options.now ?? Date.now());
  // A pending top-up holds its licenses back like a pending request; an approved one is part of the budget.
  const asked = topUp?.state === 'pending' && (!options.approvedOnly || approving) ? topUp.count : 0;
  if (run.budget === undefined) return asked;
  // A standing assignment keeps what is left of its approved licenses for its members: Available ones who have
  // not asked yet, Required ones invited and not joined yet, newcomers within the headroom. Too few free, never too many.
  if (run.state === 'completed') return Math.max(0, run.budget - (run.spent ?? 0)) + asked;
  if (OPEN_STATES.has(run.state)) return Math.max(0, run.budget - (run.spent ?? 0)) + (run.reserved?.userIds.length ?? 0) + asked;
  return asked;
}

export function runId(approvalId: string): string {
  return deterministicId('run', approvalId);
}

/** Assignment runs, in the `assignments` container (partition /tokenId), type `assignmentRun`. */
export class AssignmentRunRepository {
  readonly store: DocumentStore<AssignmentRun>;

  constructor(
    container: Container,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.store = new DocumentStore({
      container,
      schema: assignmentRunSchema,
      docType: 'assignmentRun',
      partitionKeyField: 'tokenId',
      volatileFields: ['lastModifiedDateTime'],
    });
  }

  async create(run: AssignmentRun): Promise<AssignmentRun> {
    return (await this.store.create(run)).value;
  }

  get(tokenId: string, id: string): Promise<AssignmentRun | undefined> {
    return this.store.get(id, tokenId);
  }

  update(tokenId: string, id: string, mutate: (r: AssignmentRun) => AssignmentRun | undefined): Promise<WriteResult<AssignmentRun> | undefined> {
    return this.store.update(id, tokenId, (current) => {
      const next = mutate(current);
      return next && { ...next, lastModifiedDateTime: this.now().toISOString() };
    });
  }

  /**
   * Approved or running runs across tokens, and interrupted ones that are due: what start-up and the
   * background sweep resume (cross-partition).
   */
  listUnfinished(now: Date = this.now()): Promise<AssignmentRun[]> {
    return this.store.queryValues(
      "SELECT * FROM c WHERE c.type = @type AND (c.state = 'approved' OR c.state = 'running' OR (c.state = 'interrupted' AND c.resumeAfterDateTime <= @now))",
      [{ name: '@now', value: now.toISOString() }],
    );
  }

  /** A token's delivered runs: the standing assignments reconciliation re-evaluates (optionally for one book). */
  listStanding(tokenId: string, book?: { adamId: string; pricingParam: string }): Promise<AssignmentRun[]> {
    const bookClause = book ? ' AND c.adamId = @adamId AND c.pricingParam = @pricingParam' : '';
    return this.store.queryValues(
      `SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.state = 'completed'${bookClause} ORDER BY c.createdDateTime`,
      [{ name: '@tokenId', value: tokenId }, ...(book ? [{ name: '@adamId', value: book.adamId }, { name: '@pricingParam', value: book.pricingParam }] : [])],
      { partitionKey: tokenId },
    );
  }

  /** A tenant's interrupted runs: what `resume` offers. */
  listInterrupted(tenantId: string): Promise<AssignmentRun[]> {
    return this.store.queryValues("SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.state = 'interrupted'", [{ name: '@tenantId', value: tenantId }]);
  }

  /**
   * A token's runs members may claim from ("my books"): claimModel's `isClaimable` as a Cosmos filter, so only
   * those are read; the caller still applies `isClaimable`, which stays the rule.
   */
  listClaimable(tokenId: string): Promise<AssignmentRun[]> {
    return this.store.queryValues(
      "SELECT * FROM c WHERE c.type = @type AND c.installIntent = 'available' AND IS_DEFINED(c.budget) AND (c.state = 'completed' OR (c.pass > 0 AND (c.state = 'approved' OR c.state = 'running' OR c.state = 'interrupted')))",
      [],
      { partitionKey: tokenId },
    );
  }

  /** A token's runs for one book, newest first: the status view. */
  listByBook(tokenId: string, adamId: string, pricingParam: string): Promise<AssignmentRun[]> {
    return this.store.queryValues(
      'SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.adamId = @adamId AND c.pricingParam = @pricingParam ORDER BY c.createdDateTime DESC',
      [
        { name: '@tokenId', value: tokenId },
        { name: '@adamId', value: adamId },
        { name: '@pricingParam', value: pricingParam },
      ],
      { partitionKey: tokenId },
    );
  }

  /** Licenses of a book held back by open runs (`except` one, and only approved ones if asked). */
  async reservedFor(tokenId: string, adamId: string, pricingParam: string, options: { except?: string; approvedOnly?: boolean } = {}): Promise<number> {
    const runs = await this.listByBook(tokenId, adamId, pricingParam);
    const now = this.now().getTime();
    const approvedOrApproving = (r: AssignmentRun): boolean => r.state !== 'awaitingApproval' || (r.approvingUntil !== undefined && Date.parse(r.approvingUntil) > now);
    return runs
      .filter((r) => r.id !== options.except && (!options.approvedOnly || approvedOrApproving(r)))
      .reduce((sum, r) => sum + reservedBy(r, { approvedOnly: options.approvedOnly, now }), 0);
  }

  /** Removes one run; false when it was gone already. */
  delete(tokenId: string, id: string): Promise<boolean> {
    return this.store.delete(id, tokenId);
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
