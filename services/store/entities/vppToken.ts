import { z } from 'zod';
import { escapeMarkdown } from '../../common/chatText';
import { encryptedSecretSchema, type EncryptedSecret } from '../../crypto/TokenCipher';
import { UserFacingError } from '../../errors';
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
  /**
   * The token, encrypted, when the bot itself holds it (VPP_BACKEND=apple). In Intune mode Intune holds the
   * token and the bot keeps no copy of it, so this is absent.
   */
  encryptedToken: encryptedSecretSchema.optional(),
  /** Intune's vppToken id when Intune holds the token (Intune mode). */
  intuneTokenId: z.string().min(1).max(256).optional(),
  /**
   * `tokenFingerprint` of the token file (a SHA-256 prefix): tells whether two records hold the same file
   * (a renewal during a sync) without keeping the token. Never the token itself.
   */
  fingerprint: z.string().regex(/^[0-9a-f]{32,64}$/).optional(),
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

/** `lastError.code` of a token Intune no longer has (someone removed it there): its record and data are kept. */
export const TOKEN_REMOVED_FROM_INTUNE = 'removed_from_intune';

/**
 * Why the bot cannot use a token with Apple itself: Intune holds it and the record keeps no copy. Seen when
 * VPP_BACKEND went from intune back to apple with tokens uploaded meanwhile.
 */
export function tokenNotHeldMessage(token: Pick<VppToken, 'displayName'>): string {
  const name = escapeMarkdown(token.displayName);
  return `Intune holds "${name}", so the bot has no copy of it to use with Apple. To manage it here, remove it (type **remove ${name}**) and upload its file again (**upload token**).`;
}

/** A stored token's ciphertext, for the code that uses the token with Apple itself; refuses clearly when the record has none. */
export function heldEncryptedToken(token: VppToken): EncryptedSecret {
  if (token.encryptedToken) return token.encryptedToken;
  throw new UserFacingError(tokenNotHeldMessage(token), 'token_not_held');
}
