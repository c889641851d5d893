import { z } from 'zod';
import { formatCount } from '../common/format';
import { truncate } from '../common/truncate';
import { bookChoiceSchema, type BookMatch, type BookSearch } from '../assignments/bookSearch';
import type { DatasetSearch, SearchQuery, SearchResult } from './TypeaheadSearch';

/** The most books read for one typeahead page (skip + top); deeper pages are not offered. */
const MAX_BOOKS_READ = 100;
const TITLE_MAX = 200;

/**
 * A book as a typeahead choice submits it: its token and its id. Ids cannot hold a slash (Cosmos refuses
 * one in an item id), so the first slash divides them.
 */
export function bookValue(match: Pick<BookMatch, 'token' | 'book'>): string {
  return `${match.token.id}/${match.book.id}`;
}

/** The book a submitted value names (to be looked up within the admin's tenant); undefined if it names none. */
export const bookValueSchema = z
  .string()
  .max(600)
  .transform((value, ctx) => {
    const slash = value.indexOf('/');
    const parsed = bookChoiceSchema.pick({ tokenId: true, bookId: true }).safeParse({ tokenId: value.slice(0, slash), bookId: value.slice(slash + 1) });
    if (slash < 0 || !parsed.success) {
      ctx.addIssue({ code: 'custom', message: 'not a book value' });
      return z.NEVER;
    }
    return parsed.data;
  });

/** "Emma · Jane Austen · 12 licenses left"; the token's name too when the books come from several. */
export function bookChoiceTitle({ token, book }: Pick<BookMatch, 'token' | 'book'>, withToken: boolean): string {
  const licenses = book.unlimited ? 'free' : book.availableLicenseCount === 0 ? 'no license left' : `${formatCount(book.availableLicenseCount)} license${book.availableLicenseCount === 1 ? '' : 's'} left`;
  const parts = [book.title, book.author, withToken ? token.displayName : undefined, licenses].filter((p): p is string => Boolean(p));
  return truncate(parts.join(' · '), TITLE_MAX, '…');
}

/** The admin's books whose title or author contains what was typed (BookSearch's own matching). */
export class BookResults implements DatasetSearch {
  constructor(private readonly books: Pick<BookSearch, 'find'>) {}

  async search({ tenantId, text, skip, top }: SearchQuery): Promise<SearchResult[]> {
    const wanted = Math.min(skip + top, MAX_BOOKS_READ);
    if (skip >= wanted) return [];
    const matches = (await this.books.find(tenantId, text, wanted)).slice(skip, wanted);
    const tokens = new Set(matches.map((m) => m.token.id));
    return matches.map((m) => ({ title: bookChoiceTitle(m, tokens.size > 1), value: bookValue(m) }));
  }
}
