import { strict as assert } from 'node:assert';
import { BookSearch } from '../../../services/assignments/bookSearch';
import type { EBook } from '../../../services/store/entities/eBook';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { sampleBook, sampleToken, TENANT } from '../store/fixtures';

/** The two reads BookSearch makes, over fixed catalogues, in the store's order (tokens as given, books by title). */
function searchOver(catalogues: Array<{ token: VppToken; books: EBook[] }>): BookSearch {
  const byId = new Map(catalogues.map((c) => [c.token.id, c]));
  return new BookSearch({
    tokens: {
      listByTenant: async (tenantId) => catalogues.filter((c) => c.token.tenantId === tenantId).map((c) => c.token),
      get: async (tenantId, id) => (byId.get(id)?.token.tenantId === tenantId ? byId.get(id)?.token : undefined),
    },
    books: {
      listByToken: async (tokenId) => [...(byId.get(tokenId)?.books ?? [])].sort((a, b) => a.title.localeCompare(b.title)),
      getById: async (tokenId, id) => byId.get(tokenId)?.books.find((b) => b.id === id),
    },
  });
}

describe('BookSearch', () => {
  const northwind = sampleToken({ displayName: 'Northwind Academy – Main Campus' });
  const annex = sampleToken({ displayName: 'Northwind Academy – Annex' });
  const search = searchOver([
    {
      token: northwind,
      books: [
        sampleBook(northwind.id, '1001', { title: 'Les Misérables – Tome 1', author: 'Victor Hugo' }),
        sampleBook(northwind.id, '1002', { title: 'Les Misérables – Tome 2', author: 'Victor Hugo' }),
        sampleBook(northwind.id, '1003', { title: 'The Swift Programming Language', author: 'Apple Inc.' }),
        sampleBook(northwind.id, '1004', { title: 'Swift', author: 'José Martí' }),
      ],
    },
    { token: annex, books: [sampleBook(annex.id, '2001', { title: 'The Swift Programming Language', author: 'Apple Inc.' })] },
  ]);
  const titles = (matches: Awaited<ReturnType<BookSearch['find']>>) => matches.map((m) => `${m.book.title} @ ${m.token.displayName}`);

  it('finds a title typed without its accents, with a hyphen for its en dash and other spacing', async () => {
    assert.deepEqual(titles(await search.find(TENANT, 'les miserables  -  tome 1')), ['Les Misérables – Tome 1 @ Northwind Academy – Main Campus']);
    assert.deepEqual(titles(await search.find(TENANT, 'MISERABLES')), ['Les Misérables – Tome 1 @ Northwind Academy – Main Campus', 'Les Misérables – Tome 2 @ Northwind Academy – Main Campus']);
  });

  it('finds by author, accents aside', async () => {
    assert.deepEqual(titles(await search.find(TENANT, 'jose marti')), ['Swift @ Northwind Academy – Main Campus']);
  });

  it('prefers a title typed in full, on every token that has it, over titles that contain it', async () => {
    assert.deepEqual(titles(await search.find(TENANT, 'the swift programming language')), [
      'The Swift Programming Language @ Northwind Academy – Main Campus',
      'The Swift Programming Language @ Northwind Academy – Annex',
    ]);
    assert.deepEqual(titles(await search.find(TENANT, 'swift')), ['Swift @ Northwind Academy – Main Campus'], 'the book called "Swift", not every book with Swift in it');
  });

  it('keeps to the limit, and finds any book when nothing is typed', async () => {
    assert.equal((await search.find(TENANT, 'e', 2)).length, 2);
    assert.equal((await search.find(TENANT, '  ', 1)).length, 1);
  });

  it('finds nothing of another tenant', async () => {
    assert.deepEqual(await search.find('another-tenant', 'swift'), []);
  });
});
