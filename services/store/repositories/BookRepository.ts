import type { Container } from '@azure/cosmos';
import { DocumentStore, type ManyWriteOptions, type Page, type PendingWrite, type Versioned, type WriteResult } from '../DocumentStore';
import type { PricingParam } from '../entities/common';
import { normaliseName } from '../../common/nameMatch';
import { bookSearchKey, eBookId, eBookSchema, type EBook } from '../entities/eBook';
import type { RepositoryOptions } from './options';

export interface BookPageRequest {
  pageSize?: number;
  continuationToken?: string;
}

/**
 * Every write derives the book's `searchKey` from its title and author, so no writer can leave it stale.
 * Books stored before the key existed differ from what a sync now writes, so the first sync after the
 * upgrade rewrites each of them once; every later sync writes only what changed.
 */
function withSearchKey(book: EBook): EBook {
  return { ...book, searchKey: bookSearchKey(book.title, book.author) };
}

/** Books stored before `searchKey` existed: every query returns them, for the caller to compare in memory, until a sync writes their key. */
const WITHOUT_KEY = 'NOT IS_DEFINED(c.searchKey)';

/** Books per token: a token's catalogue is one partition, so listing and searching it is cheap. */
export class BookRepository {
  readonly store: DocumentStore<EBook>;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.store = new DocumentStore({
      container,
      schema: eBookSchema,
      docType: 'eBook',
      partitionKeyField: 'tokenId',
      volatileFields: ['lastModifiedDateTime'],
      preservedFields: ['createdDateTime'],
      maxAttempts: options.maxAttempts,
    });
  }

  get(tokenId: string, adamId: string, pricingParam: PricingParam): Promise<EBook | undefined> {
    return this.store.get(eBookId(adamId, pricingParam), tokenId);
  }

  getById(tokenId: string, id: string): Promise<EBook | undefined> {
    return this.store.get(id, tokenId);
  }

  listByToken(tokenId: string): Promise<EBook[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId ORDER BY c.title', [{ name: '@tokenId', value: tokenId }], {
      partitionKey: tokenId,
    });
  }

  /**
   * A page of the token's books by title whose title or author contains `typed` compared as names are
   * (nameMatch); all books when nothing is typed. Rows may include books stored without a key, which
   * the caller filters with nameMatch; pass the continuation token back for more.
   */
  findByName(tokenId: string, typed: string, page: BookPageRequest = {}): Promise<Page<EBook>> {
    return this.namePage('tokenId', tokenId, tokenId, typed, page);
  }

  /**
   * A page of the tenant's books, across its tokens, whose title or author contains `typed` compared as names
   * are, by title: one query Cosmos fans out over the tokens' partitions, where a query per token would cost
   * a round trip per token on every keystroke of a typeahead. Rows may include books stored without a key.
   */
  findInTenantByName(tenantId: string, typed: string, page: BookPageRequest = {}): Promise<Page<EBook>> {
    return this.namePage('tenantId', tenantId, undefined, typed, page);
  }

  /** A page of the books of one token or one tenant (`field`) whose key contains `typed`, plus those without a key. */
  private namePage(field: 'tokenId' | 'tenantId', value: string, partitionKey: string | undefined, typed: string, page: BookPageRequest): Promise<Page<EBook>> {
    const text = normaliseName(typed);
    return this.store.queryPage(
      `SELECT * FROM c WHERE c.type = @type AND c.${field} = @scope${text ? ` AND (CONTAINS(c.searchKey, @text) OR ${WITHOUT_KEY})` : ''} ORDER BY c.title`,
      [{ name: '@scope', value }, ...(text ? [{ name: '@text', value: text }] : [])],
      partitionKey,
      page.pageSize ?? 10,
      page.continuationToken,
    );
  }

  /** The tenant's books titled `typed` compared as names are, across its tokens in one query; plus any books stored without a key. */
  findInTenantByTitle(tenantId: string, typed: string): Promise<EBook[]> {
    return this.store.queryValues(`SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND (STARTSWITH(c.searchKey, @title) OR ${WITHOUT_KEY})`, [
      { name: '@tenantId', value: tenantId },
      { name: '@title', value: bookSearchKey(typed) },
    ]);
  }

  upsertIfChanged(book: EBook, current?: Versioned<EBook> | null): Promise<WriteResult<EBook>> {
    return this.store.upsertIfChanged(withSearchKey(book), current);
  }

  /** The token's catalogue as stored, by id and with ETags: what a sync compares Apple's answer with, in one partition read. */
  async listForSync(tokenId: string): Promise<Map<string, Versioned<EBook>>> {
    const stored = await this.store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: tokenId });
    return new Map(stored.map((v) => [v.value.id, v]));
  }

  /**
   * Writes a sync's books, each against the version `listForSync` read (null: new). A book whose content
   * did not change costs no write; the rest go in transactional batches. Results are in input order.
   */
  upsertManyIfChanged(tokenId: string, writes: readonly PendingWrite<EBook>[], options?: ManyWriteOptions): Promise<WriteResult<EBook>[]> {
    return this.store.upsertManyIfChanged(
      tokenId,
      writes.map((write) => ({ ...write, entity: withSearchKey(write.entity) })),
      options,
    );
  }

  /**
   * Deletes books as read by `listForSync`, each only if nobody changed it since (an assignment's count
   * refresh, say); returns how many were deleted.
   */
  async removeIfUnchanged(tokenId: string, books: readonly Versioned<EBook>[]): Promise<number> {
    let removed = 0;
    for (const book of books) if (await this.store.delete(book.value.id, tokenId, book.etag)) removed++;
    return removed;
  }

  update(tokenId: string, id: string, mutate: (book: EBook) => EBook | undefined): Promise<WriteResult<EBook> | undefined> {
    return this.store.update(id, tokenId, (book) => {
      const mutated = mutate(book);
      return mutated && withSearchKey(mutated);
    });
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
