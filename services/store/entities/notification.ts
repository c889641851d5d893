import { z } from 'zod';
import { deterministicId } from '../ids';
import { LIMITS, dateTimeSchema, idSchema } from './common';

/**
 * A proactive notification that must go out once: its id is derived from what it is about, so the
 * second attempt to claim it finds the first one's document.
 */
export const notificationSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  kind: z.enum(['tokenExpiring', 'tokenExpired', 'syncFailed', 'externalMdm', 'duplicateLocation', 'lowLicenses', 'syncResult']),
  /** e.g. "30d", "7d", "1d" for expiry warnings, or a failure streak count. */
  threshold: z.string().min(1).max(64),
  /** What makes a repeat a new occurrence: the expiry date (a renewed token warns again), a run id. */
  occurrenceKey: z.string().min(1).max(LIMITS.occurrenceKey),
  state: z.enum(['claimed', 'sent', 'failed']),
  claimedBy: z.string().max(256),
  claimedDateTime: dateTimeSchema,
  sentDateTime: dateTimeSchema.optional(),
  recipients: z.number().int().min(0).optional(),
  error: z.string().max(LIMITS.message).optional(),
});
export type Notification = z.infer<typeof notificationSchema>;

export function notificationId(kind: Notification['kind'], threshold: string, occurrenceKey: string): string {
  return deterministicId(kind, threshold, occurrenceKey);
}
