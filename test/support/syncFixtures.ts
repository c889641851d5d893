import { randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import type { SandboxOrganisation } from '../../local/appleSandbox/SandboxState';
import { BookMetadataClient } from '../../services/apple/BookMetadataClient';
import { silentLogger } from '../../services/logging/logger';
import type { VppToken } from '../../services/store/entities/vppToken';
import { SyncEngine, type SyncEngineOptions } from '../../services/sync/SyncEngine';
import { storeUploadedToken } from './storedToken';
import { TEST_MDM, TEST_TENANT, type TestEnvironment } from './TestEnvironment';

export interface SeededToken {
  org: SandboxOrganisation;
  token: VppToken;
  bearer: string;
  /** clientUserIds of the VPP users the bot created (in the store and at Apple). */
  botUsers: string[];
}

export interface SeedOptions {
  books?: number;
  botUsers?: number;
  otherUsers?: number;
  expiresAt?: Date;
  mdmInfo?: { id: string; name: string };
  name?: string;
  tenantId?: string;
  /** Fixed ids instead of fresh ones: two tokens that share book or user ids. */
  adamIds?: readonly string[];
  botUserIds?: readonly string[];
  /** Licenses per book (default 20). */
  licenses?: number;
  /** Bot users with a managed Apple ID (associated at once), not invitations. */
  managedAppleIds?: boolean;
}

let adamCounter = 1_700_000_000;

/** A sandbox organisation with books and users, and the token stored as if an admin had uploaded it. */
export async function seedToken(env: TestEnvironment, options: SeedOptions = {}): Promise<SeededToken> {
  const name = options.name ?? `Org ${randomUUID().slice(0, 6)}`;
  const org = env.sandbox.state.addOrganisation({
    orgName: name,
    mdmInfo: options.mdmInfo ?? { id: TEST_MDM.id, name: TEST_MDM.name },
    books: (options.adamIds ?? Array.from({ length: options.books ?? 5 }, () => String(adamCounter++))).map((adamId, i) => ({
      adamId,
      title: `${name} Book ${i + 1}`,
      author: 'Author',
      totalCount: options.licenses ?? 20,
    })),
  });
  const expiresAt = options.expiresAt ?? new Date(Date.now() + 200 * 24 * 3600 * 1000);
  const bearer = env.sandbox.state.mintToken(org, { expiresAt });
  const botUsers = options.botUserIds ? [...options.botUserIds] : Array.from({ length: options.botUsers ?? 3 }, () => randomUUID());
  for (const clientUserId of botUsers) {
    env.sandbox.state.createUser(org, { clientUserId, managedAppleId: options.managedAppleIds ? `${clientUserId}@${name.toLowerCase()}.example` : undefined });
  }
  env.sandbox.state.seedUsers(org, options.otherUsers ?? 4, `other-${org.id.slice(0, 4)}`);
  const tenantId = options.tenantId ?? TEST_TENANT;
  const token = await storeUploadedToken(env, org, bearer, { tenantId, name, expiresAt, createdBy: '00000000-0000-0000-0000-0000000000020' });
  const now = token.createdDateTime;
  for (const clientUserId of botUsers) {
    await env.store.vppUsers.upsertIfChanged({ id: clientUserId, clientUserId, tokenId: token.id, tenantId, status: 'registered', createdDateTime: now, lastModifiedDateTime: now });
  }
  return { org, token, bearer, botUsers };
}

export function syncEngine(env: TestEnvironment, options: Partial<SyncEngineOptions> = {}): SyncEngine {
  return new SyncEngine({
    store: env.store,
    cipher: env.cipher,
    apple: env.apple,
    mdm: TEST_MDM,
    // No token of its own: as in production, the engine hands each lookup the synced token.
    metadata: new BookMetadataClient({ lookupUrl: env.sandbox.metadataUrl, logger: silentLogger() }),
    logger: silentLogger(),
    ...options,
  });
}

/**
 * Every document's ETag in one token's partition: equal snapshots mean nothing was written in between.
 * The filter is in the SQL because the emulator ignores the partitionKey option on queries.
 */
export async function etags(container: Container, tokenId: string): Promise<Map<string, string>> {
  const { resources } = await container.items
    .query<{ id: string; _etag: string }>({ query: 'SELECT c.id, c._etag FROM c WHERE c.tokenId = @tokenId', parameters: [{ name: '@tokenId', value: tokenId }] }, { partitionKey: tokenId })
    .fetchAll();
  return new Map(resources.map((r) => [r.id, r._etag]));
}
