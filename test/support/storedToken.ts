import { randomUUID } from 'node:crypto';
import type { SandboxOrganisation } from '../../local/appleSandbox/SandboxState';
import type { TokenCipher } from '../../services/crypto/TokenCipher';
import { Secret } from '../../services/secrets/Secret';
import { tokenCipherContext, type VppToken } from '../../services/store/entities/vppToken';
import type { Store } from '../../services/store/Store';

export interface StoredTokenOptions {
  tenantId: string;
  name: string;
  expiresAt: Date;
  createdBy: string;
  accountType?: VppToken['accountType'];
  lastSyncStatus?: VppToken['lastSyncStatus'];
}

/** Stores the token of a sandbox organisation (encrypted, as an upload leaves it) and returns it. */
export async function storeUploadedToken(deps: { store: Store; cipher: TokenCipher }, org: SandboxOrganisation, bearer: string, options: StoredTokenOptions): Promise<VppToken> {
  const id = randomUUID();
  const now = new Date().toISOString();
  const { tenantId, name } = options;
  const token: VppToken = {
    id,
    tenantId,
    displayName: name,
    organizationName: name,
    accountType: options.accountType ?? 'business',
    locationId: org.uId,
    locationName: org.locationName,
    expirationDateTime: options.expiresAt.toISOString(),
    state: 'valid',
    lastSyncStatus: options.lastSyncStatus ?? 'none',
    consecutiveSyncFailures: 0,
    encryptedToken: deps.cipher.encrypt(new Secret(bearer), tokenCipherContext({ tenantId, id })),
    createdBy: { aadObjectId: options.createdBy },
    createdDateTime: now,
    lastModifiedDateTime: now,
  };
  await deps.store.tokens.create(token);
  return token;
}
