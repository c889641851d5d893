import { z } from 'zod';
import { deterministicId } from '../ids';
import { LIMITS, adamIdSchema, dateTimeSchema, idSchema, pricingParamSchema } from './common';

/**
 * Where a member's claim of an Available book stands:
 * - `reserving`: an attempt is taking one license of the run's budget (the run's `spent` may or may not
 *   count it yet; only a crash leaves a claim here);
 * - `reserved`: the run's budget counts its license; the VPP user and the association at Apple follow;
 * - `licensed`: Apple associated the book (the member holds it), `invited` too but the member must still
 *   join the organisation's VPP (an invitation) before the book reaches them;
 * - `held`: Apple already had the book for them (another assignment): nothing was spent;
 * - `waiting`: the budget was used up; it waits for a top-up the admins were asked for;
 * - `refused`: Apple refused the association; the license went back to the budget, a new click may retry.
 */
const CLAIM_STATES = ['reserving', 'reserved', 'licensed', 'invited', 'held', 'waiting', 'refused'] as const;
export type ClaimState = (typeof CLAIM_STATES)[number];

/** Claims that still need work (a reservation or a delivery under way). */
export const IN_FLIGHT_CLAIM_STATES: ReadonlySet<ClaimState> = new Set(['reserving', 'reserved']);
/** Claims after which the member holds the book (or will, once they join VPP). */
export const SETTLED_CLAIM_STATES: ReadonlySet<ClaimState> = new Set(['licensed', 'invited', 'held']);

/**
 * One member's claim of the book of one Available assignment (run), beside the run (container
 * `assignments`, partition /tokenId). Its id is fixed by run and member, so a double click, a second
 * instance or a retry all meet the same document, and every change of state is a conditional write.
 */
export const bookClaimSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  runId: idSchema,
  adamId: adamIdSchema,
  pricingParam: pricingParamSchema,
  bookTitle: z.string().max(LIMITS.title),
  member: z.object({
    /** Entra object id: our clientUserId at Apple. */
    aadObjectId: z.string().min(1).max(128),
    displayName: z.string().max(LIMITS.displayName),
  }),
  state: z.enum(CLAIM_STATES),
  /**
   * The attempt that owns a `reserving` or `reserved` claim: only it records the association, the outcome
   * or a refund, so an attempt taken over by recovery can never finish (or refund) it a second time.
   */
  attempt: z.string().min(1).max(64).optional(),
  /** Apple's users versionId read before the member's VPP user was created: the invite code is read since it. */
  usersVersionId: z.string().max(256).optional(),
  /** The associate request sent: after a restart its events are awaited, not sent again. */
  eventIds: z.array(z.string().min(1).max(256)).max(10).optional(),
  /** The member still has to accept this VPP invitation (state `invited`). */
  inviteCode: z.string().max(256).optional(),
  /** Why Apple refused (state `refused`), in words for the member. */
  failure: z.object({ code: z.string().max(LIMITS.errorCode), message: z.string().max(LIMITS.message) }).optional(),
  /** When it started waiting for a top-up: the waiting are served first come, first served. */
  waitingSince: dateTimeSchema.optional(),
  settledDateTime: dateTimeSchema.optional(),
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
});
export type BookClaim = z.infer<typeof bookClaimSchema>;

export function bookClaimId(runId: string, memberAadObjectId: string): string {
  return deterministicId('claim', runId, memberAadObjectId.toLowerCase());
}
