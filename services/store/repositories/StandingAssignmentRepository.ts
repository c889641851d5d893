import type { Container } from '@azure/cosmos';
import { DocumentStore } from '../DocumentStore';
import { standingAssignmentId, standingAssignmentSchema, type StandingAssignment } from '../entities/standingAssignment';
import { clockOf, type RepositoryOptions } from './options';

/** Reconciliation state per delivered assignment, beside the runs (container `assignments`, partition /tokenId). */
export class StandingAssignmentRepository {
  readonly store: DocumentStore<StandingAssignment>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({
      container,
      schema: standingAssignmentSchema,
      docType: 'standingAssignment',
      partitionKeyField: 'tokenId',
      volatileFields: ['lastModifiedDateTime'],
      maxAttempts: options.maxAttempts,
    });
  }

  get(tokenId: string, runId: string): Promise<StandingAssignment | undefined> {
    return this.store.get(standingAssignmentId(runId), tokenId);
  }

  /** Writes the state as reconciliation leaves it; only the lease holder of the run writes it. */
  async save(standing: StandingAssignment): Promise<StandingAssignment> {
    return (await this.store.upsertIfChanged({ ...standing, lastModifiedDateTime: this.now().toISOString() })).value;
  }

  listByBook(tokenId: string, adamId: string, pricingParam: string): Promise<StandingAssignment[]> {
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
}
