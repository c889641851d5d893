import type { Container } from '@azure/cosmos';
import { DocumentStore, type ManyWriteOptions, type Page, type PendingWrite, type Versioned, type WriteResult } from '../DocumentStore';
import type { PricingParam } from '../entities/common';
import { eBookId, eBookSchema, type EBook } from '../entities/eBook';
import type { RepositoryOptions } from './options';

export interface BookSearch {
  /** Case-insensitive substring of the title or author; all books when empty. */
  text?: string;
  pageSize?: number;
  continuationToken?: string;
}

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

  /** A page of the token's books by title, optionally filtered; pass the continuation token back for more. */
  search(tokenId: string, search: BookSearch = {}): Promise<Page<EBook>> {
    const text = search.text?.trim().toLowerCase() ?? '';
    const filter = text ? ' AND (CONTAINS(LOWER(c.title), @text) OR (IS_STRING(c.author) AND CONTAINS(LOWER(c.author), @text)))' : '';
    return this.store.queryPage(
      `SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId${filter} ORDER BY c.title`,
      [{ name: '@tokenId', value: tokenId }, ...(text ? [{ name: '@text', value: text }] : [])],
      tokenId,
      search.pageSize ?? 10,
      search.continuationToken,
    );
  }

  upsertIfChanged(book: EBook, current?: Versioned<EBook> | null): Promise<WriteResult<EBook>> {
    return this.store.upsertIfChanged(book, current);
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
    return this.store.upsertManyIfChanged(tokenId, writes, options);
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
    return this.store.update(id, tokenId, mutate);
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
