import { z } from 'zod';
import type { Store } from '../store/Store';
import { nameQuery } from '../common/nameMatch';
import { truncate } from '../common/truncate';
import { LIMITS } from '../store/entities/common';
import { eBookSchema, type EBook } from '../store/entities/eBook';
import type { VppToken } from '../store/entities/vppToken';

export interface BookMatch {
  token: VppToken;
  book: EBook;
}

/** The longest search text used; callers pass what the admin typed and need not cut it. */
const SEARCH_TEXT_MAX = 100;

/**
 * A found book as a flow keeps it between turns (in dialog state): which token's copy, and the title to
 * show. A card button names a book the same way (its token id and book id).
 */
export const bookChoiceSchema = eBookSchema.pick({ tokenId: true, title: true }).extend({ bookId: eBookSchema.shape.id });
export type BookChoice = z.infer<typeof bookChoiceSchema>;

/** `match` as a choice; with `distinguish` (several books match) the title names the author and the token too. */
export function bookChoice({ token, book }: BookMatch, distinguish = false): BookChoice {
  const title = distinguish && book.author ? `${book.title} (${book.author}, ${token.displayName})` : book.title;
  return { tokenId: token.id, bookId: book.id, title: truncate(title, LIMITS.title, '…') };
}

/**
 * Finds a tenant's books for the flows that name one (assign, reconcile, book status): by what the admin
 * typed, or by the choice a card or an earlier turn holds. Dialogs reach the books through it, not the store.
 */
export class BookSearch {
  constructor(private readonly store: { tokens: Pick<Store['tokens'], 'listByTenant' | 'get'>; books: Pick<Store['books'], 'findInTenantByName' | 'findInTenantByTitle' | 'getById'> }) {}

  /**
   * The tenant's books (every token's) whose title is `typed`, else whose title or author contains it, at
   * most `limit`; compared as names are (nameMatch: case, accents, kinds of dash and spacing do not count).
   * The store is queried on each book's normalised key, so a search reads the books that match, not whole
   * catalogues (it is run on every keystroke of a typeahead); the rows are still compared here, as books
   * stored before the key existed come back unfiltered. A title typed in full finds that book alone, not
   * its sequels too.
   */
  async find(tenantId: string, typed: string, limit = 10): Promise<BookMatch[]> {
    const text = truncate(typed, SEARCH_TEXT_MAX);
    const query = nameQuery(text);
    // Books of a token no longer listed (removed while its books are being deleted) are not offered.
    const tokens = new Map((await this.store.tokens.listByTenant(tenantId)).map((t) => [t.id, t]));
    const match = (book: EBook): BookMatch | undefined => {
      const token = tokens.get(book.tokenId);
      return token ? { token, book } : undefined;
    };
    if (query.normalised) {
      const exact = (await this.store.books.findInTenantByTitle(tenantId, text))
        .filter((book) => query.equals(book.title))
        .flatMap((book) => match(book) ?? [])
        .sort((a, b) => a.token.displayName.localeCompare(b.token.displayName) || a.book.title.localeCompare(b.book.title));
      if (exact.length > 0) return exact.slice(0, limit);
    }
    const partial: BookMatch[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.store.books.findInTenantByName(tenantId, text, { pageSize: limit, continuationToken });
      for (const book of page.items) {
        const found = query.within(book.title, book.author) ? match(book) : undefined;
        if (found) partial.push(found);
        if (partial.length >= limit) return partial;
      }
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return partial;
  }

  /**
   * The book a choice names, if the tenant still has it. The token is looked up within the tenant, so a
   * choice naming another tenant's token (a forged card) finds nothing.
   */
  async chosen(tenantId: string, choice: Pick<BookChoice, 'tokenId' | 'bookId'>): Promise<BookMatch | undefined> {
    const token = await this.store.tokens.get(tenantId, choice.tokenId);
    const book = token && (await this.store.books.getById(token.id, choice.bookId));
    return token && book ? { token, book } : undefined;
  }
}
