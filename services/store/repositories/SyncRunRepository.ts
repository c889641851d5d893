import type { Container } from '@azure/cosmos';
import { DocumentStore } from '../DocumentStore';
import { syncRunSchema, type SyncRun } from '../entities/syncRun';
import type { RepositoryOptions } from './options';

/** Sync history is kept 90 days (Cosmos per-item TTL), enough to see a pattern of failures. */
const SYNC_RUN_TTL_SECONDS = 90 * 24 * 3600;

/** Sync runs per token, newest first for the status view. */
export class SyncRunRepository {
  readonly store: DocumentStore<SyncRun>;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.store = new DocumentStore({ container, schema: syncRunSchema, docType: 'syncRun', partitionKeyField: 'tokenId', maxAttempts: options.maxAttempts });
  }

  async start(run: SyncRun): Promise<SyncRun> {
    return (await this.store.create({ ttl: SYNC_RUN_TTL_SECONDS, ...run })).value;
  }

  /** Closes a run with its outcome. */
  async finish(tokenId: string, id: string, outcome: Pick<SyncRun, 'status' | 'finishedDateTime'> & Partial<Pick<SyncRun, 'counts' | 'error'>>): Promise<SyncRun | undefined> {
    return (await this.store.update(id, tokenId, (run) => ({ ...run, ...outcome })))?.value;
  }

  /**
   * Closes runs a dead process left `inProgress`. Called by the sync that holds the token's lease, so no
   * other run of this token can really be in progress.
   */
  async closeInterrupted(tokenId: string, now: Date): Promise<number> {
    const stale = await this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.status = @status', [
      { name: '@tokenId', value: tokenId },
      { name: '@status', value: 'inProgress' },
    ], { partitionKey: tokenId });
    const at = now.toISOString();
    for (const run of stale) {
      await this.finish(tokenId, run.id, {
        status: 'failed',
        finishedDateTime: at,
        error: { code: 'interrupted', message: 'The bot stopped during this sync; the next sync read everything again.', occurredDateTime: at },
      });
    }
    return stale.length;
  }

  async listRecent(tokenId: string, limit = 10): Promise<SyncRun[]> {
    const page = await this.store.queryPage(
      'SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId ORDER BY c.startedDateTime DESC',
      [{ name: '@tokenId', value: tokenId }],
      tokenId,
      limit,
    );
    return page.items;
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
