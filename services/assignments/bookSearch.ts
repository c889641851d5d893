import { z } from 'zod';
import type { Store } from '../store/Store';
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
  constructor(private readonly store: Pick<Store, 'tokens' | 'books'>) {}

  /** Books of every token of the tenant whose title or author contains `typed`, a few per token. */
  async find(tenantId: string, typed: string, limit = 10): Promise<BookMatch[]> {
    const text = truncate(typed, SEARCH_TEXT_MAX);
    const matches: BookMatch[] = [];
    for (const token of await this.store.tokens.listByTenant(tenantId)) {
      const page = await this.store.books.search(token.id, { text, pageSize: limit });
      for (const book of page.items) matches.push({ token, book });
      if (matches.length >= limit) break;
    }
    const exact = matches.filter((m) => m.book.title.toLowerCase() === text.trim().toLowerCase());
    return (exact.length > 0 ? exact : matches).slice(0, limit);
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
