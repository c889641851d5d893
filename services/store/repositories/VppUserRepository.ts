import type { Container } from '@azure/cosmos';
import { forEachLimited } from '../../common/forEachLimited';
import { DocumentStore, type ManyWriteOptions, type PendingWrite, type Versioned, type WriteResult } from '../DocumentStore';
import { vppUserSchema, type VppUser } from '../entities/vppUser';
import type { RepositoryOptions } from './options';

const POINT_READ_CONCURRENCY = 16;

/** The VPP users this bot created, per token (id = clientUserId = Entra object id). */
export class VppUserRepository {
  readonly store: DocumentStore<VppUser>;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.store = new DocumentStore({
      container,
      schema: vppUserSchema,
      docType: 'vppUser',
      partitionKeyField: 'tokenId',
      volatileFields: ['lastModifiedDateTime'],
      preservedFields: ['createdDateTime'],
      maxAttempts: options.maxAttempts,
    });
  }

  get(tokenId: string, clientUserId: string): Promise<VppUser | undefined> {
    return this.store.get(clientUserId, tokenId);
  }

  /** The stored users among `clientUserIds` (a group's members, say), in one query. */
  /**
   * Point reads, a few at a time: 1 RU each and constant time, where an ARRAY_CONTAINS query over a
   * thousand ids scans the partition and grows with it (batches of a 50,000-user assignment).
   */
  async getMany(tokenId: string, clientUserIds: string[]): Promise<VppUser[]> {
    const found: VppUser[] = [];
    await forEachLimited([...new Set(clientUserIds)], POINT_READ_CONCURRENCY, async (id) => {
      const user = await this.store.get(id, tokenId);
      if (user) found.push(user);
    });
    return found;
  }

  listByToken(tokenId: string): Promise<VppUser[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId', [{ name: '@tokenId', value: tokenId }], { partitionKey: tokenId });
  }

  upsertIfChanged(user: VppUser, current?: Versioned<VppUser> | null): Promise<WriteResult<VppUser>> {
    return this.store.upsertIfChanged(user, current);
  }

  /** The token's users as stored, by id and with ETags: what a sync compares Apple's answer with, in one partition read. */
  async listForSync(tokenId: string): Promise<Map<string, Versioned<VppUser>>> {
    const stored = await this.store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: tokenId });
    return new Map(stored.map((v) => [v.value.id, v]));
  }

  /**
   * Writes a sync's users, each against the version `listForSync` read (null: new). A user whose content
   * did not change costs no write; the rest go in transactional batches. Results are in input order.
   */
  upsertManyIfChanged(tokenId: string, writes: readonly PendingWrite<VppUser>[], options?: ManyWriteOptions): Promise<WriteResult<VppUser>[]> {
    return this.store.upsertManyIfChanged(tokenId, writes, options);
  }

  update(tokenId: string, clientUserId: string, mutate: (u: VppUser) => VppUser | undefined): Promise<WriteResult<VppUser> | undefined> {
    return this.store.update(clientUserId, tokenId, mutate);
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
