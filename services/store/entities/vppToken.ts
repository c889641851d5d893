import { z } from 'zod';
import { encryptedSecretSchema } from '../../crypto/TokenCipher';
import { LIMITS, actorSchema, dateTimeSchema, errorInfoSchema, idSchema } from './common';

/** Intune's vppToken resource, plus what incremental sync and ownership checks need. */
export const vppTokenSchema = z.object({
  id: idSchema,
  tenantId: z.string().min(1).max(128),
  displayName: z.string().min(1).max(256),
  organizationName: z.string().max(256),
  /** The address an admin typed, checked with the e-mail rule (not here: older records predate it). */
  appleId: z.string().max(LIMITS.email).optional(),
  accountType: z.enum(['business', 'education']),
  /** Apple's location uId from /client/config: the identity of the location behind the token. */
  locationId: z.string().max(256).optional(),
  locationName: z.string().max(256),
  countryOrRegion: z.string().max(8).optional(),
  expirationDateTime: dateTimeSchema,
  state: z.enum(['valid', 'expired', 'invalid', 'assignedToExternalMDM', 'duplicateLocation']),
  /** Who holds the token when state is assignedToExternalMDM (Apple's mdmInfo). */
  externalMdm: z.object({ id: z.string().max(256).optional(), name: z.string().max(256) }).optional(),
  lastSyncDateTime: dateTimeSchema.optional(),
  lastSyncStatus: z.enum(['none', 'inProgress', 'completed', 'failed']),
  consecutiveSyncFailures: z.number().int().min(0),
  lastError: errorInfoSchema.optional(),
  encryptedToken: encryptedSecretSchema,
  assetsVersionId: z.string().max(256).optional(),
  usersVersionId: z.string().max(256).optional(),
  assignmentsVersionId: z.string().max(256).optional(),
  createdBy: actorSchema,
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
});
export type VppToken = z.infer<typeof vppTokenSchema>;

/**
 * The additional authenticated data for a token's ciphertext: binds it to this tenant and record so an
 * encrypted value copied onto another token document fails to decrypt.
 */
export function tokenCipherContext(token: Pick<VppToken, 'tenantId' | 'id'>): string {
  return `vppToken|${token.tenantId}|${token.id}`;
}
