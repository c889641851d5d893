import { z } from 'zod';
import { eBookAssignmentSchema } from '../store/entities/assignment';
import { eBookSchema } from '../store/entities/eBook';

/** One group of a preview. */
const previewGroupSchema = z.object({
  groupId: eBookAssignmentSchema.shape.targetGroupId,
  groupName: eBookAssignmentSchema.shape.targetGroupName,
  /** Transitive user members. */
  userCount: z.number().int().min(0),
  /** Devices in a mixed group, which are skipped. */
  deviceCount: z.number().int().min(0),
});
export type PreviewGroup = z.infer<typeof previewGroupSchema>;

/**
 * What an assignment would do, as the planner works it out. A schema rather than an interface: the
 * assign flow keeps the preview in dialog state (Cosmos) between the card and the click, and checks
 * it with this when it reads it back.
 */
export const assignmentPreviewSchema = z.object({
  tokenId: eBookSchema.shape.tokenId,
  tenantId: eBookSchema.shape.tenantId,
  book: eBookSchema.pick({ adamId: true, pricingParam: true, title: true, author: true }),
  installIntent: eBookAssignmentSchema.shape.installIntent,
  /** At least one: the planner refuses a preview without groups. */
  groups: z.array(previewGroupSchema).min(1),
  /** Users across the groups, each once. */
  distinctUsers: z.number().int().min(0),
  /** Members Apple already shows with this book: they need no new license. */
  alreadyAssigned: z.number().int().min(0),
  /** Members who must accept a VPP invitation before the book reaches them. */
  needInvitation: z.number().int().min(0),
  licensesNeeded: z.number().int().min(0),
  licensesAvailable: z.number().int().min(0),
  /** A free book: licenses never run out. */
  unlimited: z.boolean(),
  /** Held back by other requests for this book; `licensesAvailable` is what is left after them. */
  licensesReserved: z.number().int().min(0),
  /** True when every member without the book can get one. */
  enough: z.boolean(),
});
export type AssignmentPreview = z.infer<typeof assignmentPreviewSchema>;

