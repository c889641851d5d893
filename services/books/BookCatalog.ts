import { z } from 'zod';
import type { EBook } from '../store/entities/eBook';
import type { Store } from '../store/Store';
import { nameQuery } from '../common/nameMatch';

/** A book as listed in chat: the stored book plus the name of the token it was bought through. */
interface CatalogBook extends EBook {
  tokenDisplayName: string;
}

export interface BookPage {
  books: CatalogBook[];
  /** The search the page answers; empty for all books. */
  text: string;
  /** Position of the first book on this page across all the tenant's tokens. */
  offset: number;
  pageSize: number;
  previous: BookCursor | undefined;
  next: BookCursor | undefined;
  tokenCount: number;
}

export const MAX_SEARCH_LENGTH = 100;
export const MAX_OFFSET = 100_000;

/**
 * Where a page starts: the search and an offset. Deliberately not a Cosmos continuation token: it
 * spans several tokens' partitions, stays a few bytes in a card's Action.Submit data, and makes
 * "Previous" as easy as "Next". Card data comes back user-controlled, so it is parsed, never trusted.
 */
const bookCursorSchema = z.object({
  text: z.string().trim().max(MAX_SEARCH_LENGTH),
  offset: z.number().int().min(0).max(MAX_OFFSET),
});
export type BookCursor = z.infer<typeof bookCursorSchema>;

/** The cursor as card `args` (string values, short keys; cards/bookList.json writes them). */
const cursorArgsSchema = z
  .object({
    q: z.string().max(MAX_SEARCH_LENGTH).optional(),
    o: z.string().regex(/^\d{1,6}$/).optional(),
  })
  .strict();

export function cursorFromArgs(args: unknown): BookCursor | undefined {
  const parsed = cursorArgsSchema.safeParse(args);
  if (!parsed.success) return undefined;
  const cursor = bookCursorSchema.safeParse({ text: parsed.data.q ?? '', offset: Number(parsed.data.o ?? '0') });
  return cursor.success ? cursor.data : undefined;
}

export interface BookCatalogOptions {
  pageSize?: number;
  /** Books read from the store per query while walking to a page. */
  readBatch?: number;
}

/**
 * Every book of a tenant, token by token (tokens by name, books by title), searchable by title or
 * author. A page is found by walking the tokens' matching books from the start: the store query reads
 * only books that match, and it needs no server-side cursor to expire.
 */
export class BookCatalog {
  private readonly pageSize: number;
  private readonly readBatch: number;

  constructor(
    private readonly store: Pick<Store, 'books' | 'tokens'>,
    options: BookCatalogOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 10;
    this.readBatch = options.readBatch ?? 100;
  }

  async page(tenantId: string, cursor: Partial<BookCursor> = {}): Promise<BookPage> {
    const { text, offset } = bookCursorSchema.parse({ text: cursor.text ?? '', offset: cursor.offset ?? 0 });
    const tokens = await this.store.tokens.listByTenant(tenantId);
    const query = nameQuery(text);
    const books: CatalogBook[] = [];
    let skipped = 0;
    // One book beyond the page tells whether there is a next page.
    const wanted = this.pageSize + 1;
    walk: for (const token of tokens) {
      let continuationToken: string | undefined;
      do {
        // The query keeps to books whose normalised key matches; compared here too, as books stored before the key existed come back unfiltered.
        const batch = await this.store.books.findByName(token.id, text, { pageSize: this.readBatch, continuationToken });
        for (const book of batch.items) {
          if (!query.within(book.title, book.author)) continue;
          if (skipped < offset) {
            skipped++;
            continue;
          }
          books.push({ ...book, tokenDisplayName: token.displayName });
          if (books.length >= wanted) break walk;
        }
        continuationToken = batch.continuationToken;
      } while (continuationToken);
    }
    const hasNext = books.length > this.pageSize;
    return {
      books: books.slice(0, this.pageSize),
      text,
      offset,
      pageSize: this.pageSize,
      previous: offset > 0 ? { text, offset: Math.max(0, offset - this.pageSize) } : undefined,
      next: hasNext ? { text, offset: offset + this.pageSize } : undefined,
      tokenCount: tokens.length,
    };
  }
}
