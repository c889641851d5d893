import type { Store } from '../../../services/store/Store';
import { sampleBook, sampleToken, TENANT } from '../store/fixtures';

export const SEEDED = {
  /** Token display names in the order the catalog lists them. */
  tokens: [
    { name: 'Alpha Academy', books: 150 },
    { name: 'Beta College', books: 120 },
    { name: 'Gamma School', books: 30 },
  ],
  total: 300,
} as const;

const AUTHORS = ['Jane Austen', 'Lewis Carroll', 'Mary Shelley', 'Herman Melville', 'Emily Brontë'];

/**
 * A tenant with three tokens and 300 books ("Title 001"…), every seventh by Charles Dickens with no
 * license left, and another tenant whose books must never show.
 */
export async function seedBooks(store: Store): Promise<Record<string, string>> {
  const tokenIds: Record<string, string> = {};
  let n = 0;
  for (const { name, books } of SEEDED.tokens) {
    const token = await store.tokens.create(sampleToken({ displayName: name }));
    tokenIds[name] = token.id;
    const list = [];
    for (let i = 0; i < books; i++) {
      n++;
      const exhausted = n % 7 === 0;
      list.push(
        sampleBook(token.id, String(1_000_000_000 + n), {
          title: `Title ${String(n).padStart(3, '0')}`,
          author: exhausted ? 'Charles Dickens' : AUTHORS[n % AUTHORS.length],
          coverUrl: n % 2 === 0 ? `https://is1-ssl.mzstatic.com/image/thumb/${n}/100x100bb.jpg` : undefined,
          totalLicenseCount: 20,
          usedLicenseCount: exhausted ? 20 : 5,
          availableLicenseCount: exhausted ? 0 : 15,
        }),
      );
    }
    await store.books.upsertManyIfChanged(token.id, list.map((entity) => ({ entity, current: null })));
  }
  const other = await store.tokens.create(sampleToken({ tenantId: 'other-tenant', displayName: 'Other Tenant Token' }));
  await store.books.upsertIfChanged(sampleBook(other.id, '2000000001', { tenantId: 'other-tenant', title: 'Title 999 Secret' }));
  return { ...tokenIds, [TENANT]: TENANT };
}
