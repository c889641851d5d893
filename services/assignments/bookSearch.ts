import type { Store } from '../store/Store';
import type { EBook } from '../store/entities/eBook';
import type { VppToken } from '../store/entities/vppToken';

export interface BookMatch {
  token: VppToken;
  book: EBook;
}

/** Books of every token of the tenant whose title or author contains `text`, a few per token. */
export async function findBooks(store: Store, tenantId: string, text: string, limit = 10): Promise<BookMatch[]> {
  const matches: BookMatch[] = [];
  for (const token of await store.tokens.listByTenant(tenantId)) {
    const page = await store.books.search(token.id, { text: text.slice(0, 100), pageSize: limit });
    for (const book of page.items) matches.push({ token, book });
    if (matches.length >= limit) break;
  }
  const exact = matches.filter((m) => m.book.title.toLowerCase() === text.trim().toLowerCase());
  return (exact.length > 0 ? exact : matches).slice(0, limit);
}
