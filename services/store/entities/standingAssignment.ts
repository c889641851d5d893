import { z } from 'zod';
import { deterministicId } from '../ids';
import { LIMITS, adamIdSchema, dateTimeSchema, idSchema, pricingParamSchema } from './common';

/** Members kept waiting per group for a top-up; beyond this the group is read whole again next time. */
export const MAX_WAITING_PER_GROUP = 5_000;
/** Nested groups read for changes per assigned group (Graph delta is asked per group). */
export const MAX_WATCHED_GROUPS = 50;
export const LEFT_SAMPLE_LIMIT = 20;

const watchedGroupSchema = z.object({
  groupId: z.string().min(1).max(128),
  /** Graph's delta link for this group's direct members: the next read answers only what changed since. */
  deltaLink: z.string().max(8192).optional(),
});

const standingGroupSchema = z.object({
  groupId: z.string().min(1).max(128),
  groupName: z.string().max(LIMITS.displayName),
  /** The assigned group and the groups nested in it: membership changes are read per group. */
  watched: z.array(watchedGroupSchema).min(1).max(MAX_WATCHED_GROUPS),
  /** Members who joined and have no license yet because the approved ones are used up: they wait for a top-up. */
  waiting: z.array(z.string().max(128)).max(MAX_WAITING_PER_GROUP),
  /** Required: members invited to the organisation's VPP who have not joined yet; licensed once they have. */
  invited: z.array(z.string().max(128)).max(MAX_WAITING_PER_GROUP).optional(),
  /** Required: invited members licensed later, once they had joined. */
  licensedAfterJoining: z.number().int().min(0).optional(),
  /** Members who joined since the assignment was delivered, ever. */
  joined: z.number().int().min(0),
  /** Members who left; their licenses stay with them (books cannot be reclaimed). */
  left: z.number().int().min(0),
  /** The latest few who left, by name, for `status <book>`. */
  leftUsers: z.array(z.object({ id: z.string().max(128), displayName: z.string().max(LIMITS.displayName) })).max(LEFT_SAMPLE_LIMIT),
});
export type StandingGroup = z.infer<typeof standingGroupSchema>;

/**
 * What reconciliation remembers of one delivered assignment (its run): where it is in each group's change
 * feed, who waits for a license, and who left. The budget itself stays on the run, the one place spending
 * is counted.
 */
export const standingAssignmentSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  runId: idSchema,
  adamId: adamIdSchema,
  pricingParam: pricingParamSchema,
  groups: z.array(standingGroupSchema).min(1).max(20),
  /** Why the last top-up could not be asked for (no other approver, say): shown in `status <book>`. */
  topUpProblem: z.string().max(LIMITS.reason).optional(),
  lastReconciledDateTime: dateTimeSchema.optional(),
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
});
export type StandingAssignment = z.infer<typeof standingAssignmentSchema>;

export function standingAssignmentId(runId: string): string {
  return deterministicId('standing', runId);
}
