import { z } from 'zod';
import { deterministicId } from '../ids';
import { LIMITS, actorSchema, adamIdSchema, dateTimeSchema, errorInfoSchema, idSchema, pricingParamSchema, type PricingParam } from './common';

const assignmentStatusSchema = z.enum([
  'pendingApproval',
  'rejected',
  'approved',
  'inProgress',
  'completed',
  'partiallyCompleted',
  'failed',
]);

/** Per-user outcome counts of the latest run of an assignment (the list of users lives with Apple). */
const assignmentResultsSchema = z.object({
  targetedUsers: z.number().int().min(0),
  licensed: z.number().int().min(0),
  awaitingInvitation: z.number().int().min(0),
  failed: z.number().int().min(0),
  lastEventId: z.string().max(256).optional(),
  updatedDateTime: dateTimeSchema,
});

/** Intune's managedEBookAssignment: a book to a user group with an intent. */
export const eBookAssignmentSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  adamId: adamIdSchema,
  pricingParam: pricingParamSchema,
  bookTitle: z.string().max(LIMITS.title),
  targetGroupId: z.string().min(1).max(128),
  targetGroupName: z.string().max(LIMITS.displayName),
  installIntent: z.enum(['required', 'available']),
  status: assignmentStatusSchema,
  approvalId: idSchema.optional(),
  requestedBy: actorSchema,
  requestedDateTime: dateTimeSchema,
  approvedBy: actorSchema.optional(),
  decidedAt: dateTimeSchema.optional(),
  results: assignmentResultsSchema.optional(),
  lastError: errorInfoSchema.optional(),
  lastModifiedDateTime: dateTimeSchema,
});
export type EBookAssignment = z.infer<typeof eBookAssignmentSchema>;

/** One assignment per book and group (as in Intune): assigning again updates it instead of duplicating. */
export function assignmentId(adamId: string, pricingParam: PricingParam, targetGroupId: string): string {
  return deterministicId(adamId, pricingParam, targetGroupId);
}
