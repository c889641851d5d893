import type { Container } from '@azure/cosmos';
import { DocumentStore, type WriteResult } from '../DocumentStore';
import type { PricingParam } from '../entities/common';
import { eBookAssignmentSchema, type EBookAssignment } from '../entities/assignment';
import { clockOf, type RepositoryOptions } from './options';

/** Book assignments per token: the status view and the sync both read one token's assignments. */
export class AssignmentRepository {
  readonly store: DocumentStore<EBookAssignment>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({
      container,
      schema: eBookAssignmentSchema,
      docType: 'eBookAssignment',
      partitionKeyField: 'tokenId',
      volatileFields: ['lastModifiedDateTime'],
      maxAttempts: options.maxAttempts,
    });
  }

  get(tokenId: string, id: string): Promise<EBookAssignment | undefined> {
    return this.store.get(id, tokenId);
  }

  /** Creates, or returns the existing assignment of the same book to the same group untouched. */
  async createOrGet(assignment: EBookAssignment): Promise<{ created: boolean; assignment: EBookAssignment }> {
    const created = await this.store.tryCreate(assignment);
    if (created) return { created: true, assignment: created.value };
    const existing = await this.store.get(assignment.id, assignment.tokenId);
    if (!existing) return this.createOrGet(assignment);
    return { created: false, assignment: existing };
  }

  /** Read-modify-write with retry; stamps lastModifiedDateTime when something changed. */
  update(tokenId: string, id: string, mutate: (a: EBookAssignment) => EBookAssignment | undefined): Promise<WriteResult<EBookAssignment> | undefined> {
    return this.store.update(id, tokenId, (current) => {
      const next = mutate(current);
      return next && { ...next, lastModifiedDateTime: this.now().toISOString() };
    });
  }

  listByBook(tokenId: string, adamId: string, pricingParam: PricingParam): Promise<EBookAssignment[]> {
    return this.store.queryValues(
      'SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.adamId = @adamId AND c.pricingParam = @pricingParam',
      [
        { name: '@tokenId', value: tokenId },
        { name: '@adamId', value: adamId },
        { name: '@pricingParam', value: pricingParam },
      ],
      { partitionKey: tokenId },
    );
  }

  delete(tokenId: string, id: string): Promise<boolean> {
    return this.store.delete(id, tokenId);
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
