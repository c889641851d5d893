import { strict as assert } from 'node:assert';
import { BookSearch } from '../../../services/assignments/bookSearch';
import type { EBook } from '../../../services/store/entities/eBook';
import type { VppToken } from '../../../services/store/entities/vppToken';
import type { Store } from '../../../services/store/Store';
import { sampleBook, sampleToken, TENANT, useEmbeddedCosmos } from '../store/fixtures';

/** A store holding fixed catalogues, and a BookSearch over it. */
async function searchOver(store: Store, catalogues: Array<{ token: VppToken; books: EBook[] }>): Promise<BookSearch> {
  for (const { token, books } of catalogues) {
    await store.tokens.create(token);
    for (const book of books) await store.books.upsertIfChanged(book);
  }
  return new BookSearch(store);
}

describe('BookSearch', () => {
  const northwind = sampleToken({ displayName: 'Northwind Academy – Main Campus' });
  const annex = sampleToken({ displayName: 'Northwind Academy – Annex' });
  const env = useEmbeddedCosmos();
  let search: BookSearch;
  before(async () => {
    search = await searchOver(await env.newStore(), [
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
  });
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
      'The Swift Programming Language @ Northwind Academy – Annex',
      'The Swift Programming Language @ Northwind Academy – Main Campus',
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
