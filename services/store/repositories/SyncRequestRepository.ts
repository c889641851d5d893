import type { Container } from '@azure/cosmos';
import { DocumentStore, type WriteResult } from '../DocumentStore';
import { syncRequestSchema, type SyncRequest } from '../entities/syncRequest';
import type { RepositoryOptions } from './options';

/** A request whose result could not be posted within a day is dropped (the token list still shows it). */
const SYNC_REQUEST_TTL_SECONDS = 24 * 3600;

/** Chat-requested syncs waiting for their result to be posted, per tenant (a request may span tokens). */
export class SyncRequestRepository {
  readonly store: DocumentStore<SyncRequest>;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.store = new DocumentStore({ container, schema: syncRequestSchema, docType: 'syncRequest', partitionKeyField: 'tenantId', maxAttempts: options.maxAttempts });
  }

  async create(request: SyncRequest): Promise<SyncRequest> {
    return (await this.store.create({ ttl: SYNC_REQUEST_TTL_SECONDS, ...request })).value;
  }

  update(tenantId: string, id: string, mutate: (request: SyncRequest) => SyncRequest | undefined): Promise<WriteResult<SyncRequest> | undefined> {
    return this.store.update(id, tenantId, mutate);
  }

  /** The tenant's requests still waiting for this token's result. */
  listWaitingFor(tenantId: string, tokenId: string): Promise<SyncRequest[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND ARRAY_CONTAINS(c.waitingFor, @tokenId)', [{ name: '@tokenId', value: tokenId }], { partitionKey: tenantId });
  }

  /** Every open request of every tenant: the recovery sweep (cross-partition; requests are few and short-lived). */
  listAll(): Promise<SyncRequest[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type');
  }

  delete(tenantId: string, id: string): Promise<boolean> {
    return this.store.delete(id, tenantId);
  }
}
