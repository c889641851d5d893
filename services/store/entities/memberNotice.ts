import { z } from 'zod';
import { deterministicId } from '../ids';
import { LIMITS, actorSchema, adamIdSchema, dateTimeSchema, idSchema, pricingParamSchema } from './common';

/** What a member of an assigned group is told: the license is theirs, join VPP first, or the book is there to take. */
const memberNoticeKindSchema = z.enum(['licensed', 'invited', 'offered']);
export type MemberNoticeKind = z.infer<typeof memberNoticeKindSchema>;

/** An http(s) link only: invitation links end up on a button a member presses. */
const webUrlSchema = z.url({ protocol: /^https?$/ }).max(2048);

/**
 * One message to one member about one run, told once: its id is derived from (run, member, kind), so
 * recording it again (a retried batch, a resumed run, a second instance) finds the first document and
 * records nothing. It lives beside the send-once notifications, in the run's token partition.
 *
 * `pending` → `sending` (claimed with the ETag just before the message is handed to the outbox) → `sent`, or
 * `unreachable` with the reason. A notice found `sending` after a crash is never sent again (it may have
 * gone out): it is reported unreachable with that reason, so nobody is told twice.
 */
export const memberNoticeSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  runId: idSchema,
  kind: memberNoticeKindSchema,
  member: z.object({
    /** The member's Entra object id. */
    clientUserId: z.string().min(1).max(128),
    displayName: z.string().max(LIMITS.displayName),
    mail: z.string().max(LIMITS.email).optional(),
  }),
  /** The member's own VPP invitation link (`invited` only). */
  invitationUrl: webUrlSchema.optional(),
  book: z.object({ adamId: adamIdSchema, pricingParam: pricingParamSchema, title: z.string().max(LIMITS.title) }),
  /** The admin who asked for the assignment: they hear who could not be reached. */
  requestedBy: actorSchema,
  state: z.enum(['pending', 'sending', 'sent', 'unreachable']),
  /** Failed attempts to reach the member that may succeed later (Graph or Teams busy). */
  attempts: z.number().int().min(0),
  /** A retry waits until then. */
  notBeforeDateTime: dateTimeSchema.optional(),
  claimedBy: z.string().max(256).optional(),
  claimedDateTime: dateTimeSchema.optional(),
  /** Why the member could not be reached, in words an admin can act on. */
  reason: z.string().max(LIMITS.reason).optional(),
  createdDateTime: dateTimeSchema,
  doneDateTime: dateTimeSchema.optional(),
});
export type MemberNotice = z.infer<typeof memberNoticeSchema>;

export function memberNoticeId(runId: string, clientUserId: string, kind: MemberNoticeKind): string {
  // Entra ids arrive in either case; one member is one notice.
  return deterministicId('memberNotice', runId, clientUserId.toLowerCase(), kind);
}

/**
 * Per run: whether notices finished since the requester last heard how many members were reached. The
 * summary is claimed by replacing this document with its ETag (`open` → false), so one instance sends it.
 */
export const memberNoticeRunSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  runId: idSchema,
  bookTitle: z.string().max(512),
  requestedBy: actorSchema,
  open: z.boolean(),
  /** Summaries sent so far (each states the run's totals at that moment). */
  summaries: z.number().int().min(0),
  updatedDateTime: dateTimeSchema,
});
export type MemberNoticeRun = z.infer<typeof memberNoticeRunSchema>;

export function memberNoticeRunId(runId: string): string {
  return deterministicId('memberNoticeRun', runId);
}

/**
 * A download link for a run's unreachable members. The link's secret is never stored: the id is its
 * SHA-256, so someone who can read the database cannot make a working link.
 */
export const memberNoticeExportSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex'),
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  runId: idSchema,
  bookTitle: z.string().max(512),
  createdDateTime: dateTimeSchema,
  expiresDateTime: dateTimeSchema,
});
export type MemberNoticeExport = z.infer<typeof memberNoticeExportSchema>;
