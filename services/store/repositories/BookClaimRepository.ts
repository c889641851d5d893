import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { DocumentStore, type WriteResult } from '../DocumentStore';
import { bookClaimSchema, type BookClaim } from '../entities/bookClaim';
import { clockOf, type RepositoryOptions } from './options';

const runRefSchema = z.object({ tokenId: z.string(), runId: z.string() });

/**
 * Members' claims of Available books, beside the runs they spend from (container `assignments`, partition
 * /tokenId, type `bookClaim`). Everything a click or `my books` does is a point read or a single-partition
 * query; only the recovery sweep reads across partitions.
 */
export class BookClaimRepository {
  readonly store: DocumentStore<BookClaim>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({
      container,
      schema: bookClaimSchema,
      docType: 'bookClaim',
      partitionKeyField: 'tokenId',
      volatileFields: ['lastModifiedDateTime'],
      maxAttempts: options.maxAttempts,
    });
  }

  get(tokenId: string, id: string): Promise<BookClaim | undefined> {
    return this.store.get(id, tokenId);
  }

  /** Creates the claim, or undefined when it exists already (a double click or another instance got there first). */
  async tryCreate(claim: BookClaim): Promise<BookClaim | undefined> {
    return (await this.store.tryCreate(claim))?.value;
  }

  /** Conditional read-modify-write; a mutation answering undefined writes nothing. */
  update(tokenId: string, id: string, mutate: (c: BookClaim) => BookClaim | undefined): Promise<WriteResult<BookClaim> | undefined> {
    return this.store.update(id, tokenId, (current) => {
      const next = mutate(current);
      return next && { ...next, lastModifiedDateTime: this.now().toISOString() };
    });
  }

  /** A run's claims waiting for a top-up, first come first served. */
  listWaiting(tokenId: string, runId: string): Promise<BookClaim[]> {
    return this.store.queryValues(
      "SELECT * FROM c WHERE c.type = @type AND c.runId = @runId AND c.state = 'waiting' ORDER BY c.waitingSince",
      [{ name: '@runId', value: runId }],
      { partitionKey: tokenId },
    );
  }

  async countWaiting(tokenId: string, runId: string): Promise<number> {
    const [count] = await this.store.scalar(
      "SELECT VALUE COUNT(1) FROM c WHERE c.type = @type AND c.runId = @runId AND c.state = 'waiting'",
      [{ name: '@runId', value: runId }],
      z.number().int().min(0),
      { partitionKey: tokenId },
    );
    return count ?? 0;
  }

  /** One member's claims under a token: what `my books` shows as theirs, waiting or on its way. */
  listByMember(tokenId: string, memberAadObjectId: string): Promise<BookClaim[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.member.aadObjectId = @member', [{ name: '@member', value: memberAadObjectId.toLowerCase() }], {
      partitionKey: tokenId,
    });
  }

  /** Claims whose reservation or delivery was last touched before `before`: left by a crash (the sweep). */
  listStalled(before: Date): Promise<BookClaim[]> {
    return this.store.queryValues(
      "SELECT * FROM c WHERE c.type = @type AND (c.state = 'reserving' OR c.state = 'reserved') AND c.lastModifiedDateTime < @before",
      [{ name: '@before', value: before.toISOString() }],
    );
  }

  /** The runs with claims waiting for a top-up (the sweep checks each was asked for, or handed out). */
  async listRunsWithWaiting(): Promise<Array<{ tokenId: string; runId: string }>> {
    const refs = await this.store.scalar("SELECT c.tokenId, c.runId FROM c WHERE c.type = @type AND c.state = 'waiting'", [], runRefSchema);
    const unique = new Map(refs.map((r) => [`${r.tokenId}|${r.runId}`, r]));
    return [...unique.values()];
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
