import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { DocumentStore, type Versioned, type WriteResult } from '../DocumentStore';
import { vppTokenSchema, type VppToken } from '../entities/vppToken';
import { clockOf, type RepositoryOptions } from './options';
import type { EncryptedSecret } from '../../crypto/TokenCipher';

/** Intune's limit, kept by the bot. */
export const MAX_TOKENS_PER_TENANT = 256;

const tokenKeyIdSchema = z.object({ id: z.string(), tenantId: z.string(), keyId: z.string().optional() });
export type TokenKeyId = z.infer<typeof tokenKeyIdSchema>;

export type CreateWithinLimitResult = { created: true; token: VppToken } | { created: false; count: number };

/** VPP tokens, partitioned by tenant: every admin query is "the tokens of my tenant". */
export class TokenRepository {
  readonly store: DocumentStore<VppToken>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({
      container,
      schema: vppTokenSchema,
      docType: 'vppToken',
      partitionKeyField: 'tenantId',
      volatileFields: ['lastModifiedDateTime'],
      preservedFields: ['createdDateTime', 'createdBy'],
      maxAttempts: options.maxAttempts,
    });
  }

  get(tenantId: string, id: string): Promise<VppToken | undefined> {
    return this.store.get(id, tenantId);
  }

  read(tenantId: string, id: string): Promise<Versioned<VppToken> | undefined> {
    return this.store.read(id, tenantId);
  }

  listByTenant(tenantId: string): Promise<VppToken[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId ORDER BY c.displayName', [{ name: '@tenantId', value: tenantId }], {
      partitionKey: tenantId,
    });
  }

  async countInTenant(tenantId: string): Promise<number> {
    const [count] = await this.store.scalar('SELECT VALUE COUNT(1) FROM c WHERE c.type = @type AND c.tenantId = @tenantId', [{ name: '@tenantId', value: tenantId }], z.number().int(), {
      partitionKey: tenantId,
    });
    return count ?? 0;
  }

  async create(token: VppToken): Promise<VppToken> {
    return (await this.store.create(token)).value;
  }

  /**
   * Creates the token unless the tenant already has `limit`. Checked again after the write and undone
   * if concurrent uploads overshot, so the limit holds even under a race (the loser is told to retry).
   */
  async createWithinLimit(token: VppToken, limit = MAX_TOKENS_PER_TENANT): Promise<CreateWithinLimitResult> {
    const before = await this.countInTenant(token.tenantId);
    if (before >= limit) return { created: false, count: before };
    const created = await this.store.create(token);
    const after = await this.countInTenant(token.tenantId);
    if (after > limit) {
      await this.store.delete(token.id, token.tenantId, created.etag);
      return { created: false, count: after - 1 };
    }
    return { created: true, token: created.value };
  }

  /** Read-modify-write with retry; stamps lastModifiedDateTime when something changed. */
  async update(tenantId: string, id: string, mutate: (token: VppToken) => VppToken | undefined): Promise<WriteResult<VppToken> | undefined> {
    return this.store.update(id, tenantId, (current) => {
      const next = mutate(current);
      return next && { ...next, lastModifiedDateTime: this.now().toISOString() };
    });
  }

  delete(tenantId: string, id: string): Promise<boolean> {
    return this.store.delete(id, tenantId);
  }

  /** Tokens of this tenant for the same Apple location (duplicate upload, renewal of an existing token). */
  findByLocation(tenantId: string, location: { locationId?: string; locationName?: string }): Promise<VppToken[]> {
    if (location.locationId) {
      return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.locationId = @locationId', [
        { name: '@tenantId', value: tenantId },
        { name: '@locationId', value: location.locationId },
      ], { partitionKey: tenantId });
    }
    if (location.locationName) {
      return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.locationName = @locationName', [
        { name: '@tenantId', value: tenantId },
        { name: '@locationName', value: location.locationName },
      ], { partitionKey: tenantId });
    }
    return Promise.resolve([]);
  }

  /** Every token of every tenant: the scheduler's sweep (cross-partition, runs twice a day). */
  listAll(): Promise<VppToken[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type');
  }

  /**
   * Which key encrypts each stored token, across tenants, without reading the tokens themselves: the
   * key-rotation sweep runs it often and re-reads only the few that need a new key. `keyId` is
   * undefined for a document that has no encrypted token at all (written by something else).
   */
  listKeyIds(): Promise<TokenKeyId[]> {
    return this.store.scalar('SELECT c.id, c.tenantId, c.encryptedToken.keyId AS keyId FROM c WHERE c.type = @type', [], tokenKeyIdSchema);
  }

  /**
   * Swaps in a re-encrypted token only if the document is still the version read (If-Match): a renewal
   * or a sync that wrote meanwhile wins, and undefined tells the caller to read again. The content is
   * unchanged, so lastModifiedDateTime is left alone: admins see re-encryption as no modification.
   */
  replaceEncryptedToken(current: Versioned<VppToken>, encryptedToken: EncryptedSecret): Promise<Versioned<VppToken> | undefined> {
    return this.store.tryReplace({ ...current.value, encryptedToken }, current.etag);
  }
}
