import { z } from 'zod';
import { LIMITS, actorSchema, dateTimeSchema, idSchema } from './common';

/**
 * An approval for licenses to be spent, and where its card is so it can be updated: an `assignment` (a book
 * to groups), or a `topUp`: more licenses for a standing assignment whose approved ones are used up.
 */
export const approvalRequestSchema = z.object({
  id: idSchema,
  tenantId: z.string().min(1).max(128),
  tokenId: idSchema,
  kind: z.enum(['assignment', 'topUp']),
  assignmentId: idSchema,
  /** A top-up's standing assignment (its run); an assignment's run id follows from the approval's id. */
  runId: idSchema.optional(),
  summary: z.object({
    bookTitle: z.string().max(LIMITS.title),
    groupName: z.string().max(LIMITS.displayName),
    installIntent: z.enum(['required', 'available']),
    licensesNeeded: z.number().int().min(0),
    /** Added by the requester for people who join the groups later; the approval approves needed + headroom. */
    headroom: z.number().int().min(0).optional(),
    /** The groups' user members when it was asked for (summed per group), to tell the approver how they changed. */
    groupUsers: z.number().int().min(0).optional(),
    /** A top-up: people who joined the groups since and wait for a license ("12 more people joined …"). */
    joined: z.number().int().min(0).optional(),
    /** A top-up of an Available assignment: members who asked for the book (`my books`) and wait for a license. */
    asked: z.number().int().min(0).optional(),
  }),
  /** `withdrawn`: the requester took it back before anyone decided. */
  state: z.enum(['pending', 'approved', 'rejected', 'expired', 'withdrawn']),
  requestedBy: actorSchema,
  requestedDateTime: dateTimeSchema,
  decidedBy: actorSchema.optional(),
  decidedDateTime: dateTimeSchema.optional(),
  comment: z.string().max(LIMITS.reason).optional(),
  expiresAt: dateTimeSchema,
  /** The approvers' Teams user ids (29:…) the card refreshes for, at most 60, fixed when it was asked for. */
  refreshUserIds: z.array(z.string().min(1).max(256)).max(60).optional(),
  card: z
    .object({
      activityId: z.string().min(1).max(512),
      conversationId: z.string().min(1).max(1024),
    })
    .optional(),
  /** The copies sent to each approver's chat, updated with the decision like the requester's card. */
  copies: z
    .array(z.object({ activityId: z.string().min(1).max(512), conversationId: z.string().min(1).max(1024) }))
    .max(200)
    .optional(),
});
export type ApprovalRequest = z.infer<typeof approvalRequestSchema>;
