import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { forEachLimited } from '../../common/forEachLimited';
import { DocumentStore, type Versioned, type WriteResult } from '../DocumentStore';
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

  /** e.g. everyone still `registered`: they have an invitation to accept before books reach them. */
  listByStatus(tokenId: string, status: VppUser['status']): Promise<VppUser[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.status = @status', [
      { name: '@tokenId', value: tokenId },
      { name: '@status', value: status },
    ], { partitionKey: tokenId });
  }

  async countByStatus(tokenId: string, status: VppUser['status']): Promise<number> {
    const [count] = await this.store.scalar(
      'SELECT VALUE COUNT(1) FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.status = @status',
      [
        { name: '@tokenId', value: tokenId },
        { name: '@status', value: status },
      ],
      z.number().int(),
      { partitionKey: tokenId },
    );
    return count ?? 0;
  }

  upsertIfChanged(user: VppUser, current?: Versioned<VppUser> | null): Promise<WriteResult<VppUser>> {
    return this.store.upsertIfChanged(user, current);
  }

  /** Applies Apple's view of many users with one partition read; returns how many were written. */
  async syncUsers(tokenId: string, users: VppUser[]): Promise<{ written: number; unchanged: number }> {
    const stored = new Map((await this.store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: tokenId })).map((v) => [v.value.id, v]));
    let written = 0;
    for (const user of users) {
      if (user.tokenId !== tokenId) throw new Error(`VPP user ${user.id} belongs to token ${user.tokenId}, not ${tokenId}`);
      if ((await this.store.upsertIfChanged(user, stored.get(user.id) ?? null)).written) written++;
    }
    return { written, unchanged: users.length - written };
  }

  update(tokenId: string, clientUserId: string, mutate: (u: VppUser) => VppUser | undefined): Promise<WriteResult<VppUser> | undefined> {
    return this.store.update(clientUserId, tokenId, mutate);
  }

  delete(tokenId: string, clientUserId: string): Promise<boolean> {
    return this.store.delete(clientUserId, tokenId);
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
