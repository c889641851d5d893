import type { Container } from '@azure/cosmos';
import { DocumentStore, type Page, type Versioned, type WriteResult } from '../DocumentStore';
import type { PricingParam } from '../entities/common';
import { eBookId, eBookSchema, type EBook } from '../entities/eBook';
import type { RepositoryOptions } from './options';

export interface BookSearch {
  /** Case-insensitive substring of the title or author; all books when empty. */
  text?: string;
  pageSize?: number;
  continuationToken?: string;
}

export interface SyncCounts {
  added: number;
  updated: number;
  unchanged: number;
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

  /** Every version of a book (STDQ and PLUS) under the token. */
  listByAdamId(tokenId: string, adamId: string): Promise<EBook[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId AND c.adamId = @adamId', [
      { name: '@tokenId', value: tokenId },
      { name: '@adamId', value: adamId },
    ], { partitionKey: tokenId });
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

  /**
   * Writes a token's catalogue as Apple reported it: one read of the partition, then a write only for
   * books that are new or changed. Books absent from `books` are left alone (licenses are irrevocable,
   * history matters); their ids are returned so the caller can decide.
   */
  async syncBooks(tokenId: string, books: EBook[]): Promise<SyncCounts & { missingIds: string[] }> {
    const stored = new Map((await this.store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: tokenId })).map((v) => [v.value.id, v]));
    const counts: SyncCounts = { added: 0, updated: 0, unchanged: 0 };
    const seen = new Set<string>();
    for (const book of books) {
      if (book.tokenId !== tokenId) throw new Error(`Book ${book.id} belongs to token ${book.tokenId}, not ${tokenId}`);
      seen.add(book.id);
      const current = stored.get(book.id) ?? null;
      const result = await this.store.upsertIfChanged(book, current);
      if (!result.written) counts.unchanged++;
      else if (current) counts.updated++;
      else counts.added++;
    }
    return { ...counts, missingIds: [...stored.keys()].filter((id) => !seen.has(id)) };
  }

  update(tokenId: string, id: string, mutate: (book: EBook) => EBook | undefined): Promise<WriteResult<EBook> | undefined> {
    return this.store.update(id, tokenId, mutate);
  }

  delete(tokenId: string, id: string): Promise<boolean> {
    return this.store.delete(id, tokenId);
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}
