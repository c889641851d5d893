import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { BookSearch } from '../../../services/assignments/bookSearch';
import type { EBook } from '../../../services/store/entities/eBook';
import type { Store } from '../../../services/store/Store';
import { sampleBook, sampleToken, TENANT, useEmbeddedCosmos } from '../store/fixtures';

/** Book documents the store hands back from here on, whichever query asked: what a search costs in reads. */
function countBookReads(store: Store): () => number {
  let documents = 0;
  const books = store.books.store;
  const query = books.query.bind(books);
  const queryPage = books.queryPage.bind(books);
  sinon.stub(books, 'query').callsFake(async (...args) => {
    const rows = await query(...args);
    documents += rows.length;
    return rows;
  });
  sinon.stub(books, 'queryPage').callsFake(async (...args) => {
    const page = await queryPage(...args);
    documents += page.items.length;
    return page;
  });
  return () => documents;
}

/** Stores `book` as a version without the search key wrote it, raw, past the repository. */
async function writeWithoutKey(store: Store, book: EBook): Promise<void> {
  await store.books.upsertIfChanged(book);
  const item = store.books.store.container.item(book.id, book.tokenId);
  const { resource } = await item.read<Record<string, unknown>>();
  assert.ok(resource && typeof resource.searchKey === 'string', 'the repository wrote a key');
  delete resource.searchKey;
  await item.replace(resource);
}

describe('BookSearch reads (embedded Cosmos, 300 books over two tokens)', function () {
  this.timeout(30_000);
  const env = useEmbeddedCosmos();
  let store: Store;
  let search: BookSearch;

  before(async () => {
    store = await env.newStore();
    for (const [t, displayName] of ['Alpha Academy', 'Beta College'].entries()) {
      const token = await store.tokens.create(sampleToken({ displayName }));
      const books = Array.from({ length: 150 }, (_, i) => sampleBook(token.id, String(1_000 + t * 1_000 + i), { title: `Title ${String(t * 150 + i).padStart(3, '0')}`, author: 'Jane Austen' }));
      if (t === 1) books[70] = { ...(books[70] ?? sampleBook(token.id, '9')), title: 'Der Zauberberg – Band 1', author: 'Thomas Mann' };
      await store.books.upsertManyIfChanged(
        token.id,
        books.map((entity) => ({ entity, current: null })),
      );
      if (t === 0) await writeWithoutKey(store, sampleBook(token.id, '999', { title: 'Łódź – a Guide', author: 'Zoë Ørsted' }));
    }
    search = new BookSearch(store);
  });
  afterEach(() => sinon.restore());

  it('finds a rare title typed loosely by reading a handful of books, not the catalogue', async () => {
    const reads = countBookReads(store);
    const found = await search.find(TENANT, 'zauberberg - BAND 1');
    assert.deepEqual(
      found.map((m) => `${m.book.title} @ ${m.token.displayName}`),
      ['Der Zauberberg – Band 1 @ Beta College'],
    );
    assert.ok(reads() <= 5, `${reads()} books read for one match among 301`);
  });

  it('finds by author the same way, and stops reading at the limit when many books match', async () => {
    let reads = countBookReads(store);
    assert.deepEqual((await search.find(TENANT, 'THOMAS MANN')).map((m) => m.book.title), ['Der Zauberberg – Band 1']);
    assert.ok(reads() <= 5, `${reads()} books read for one author match`);
    sinon.restore();
    reads = countBookReads(store);
    assert.equal((await search.find(TENANT, 'austen', 10)).length, 10);
    assert.ok(reads() <= 12, `${reads()} books read for a page of 10 of ~300 matches`);
  });

  it('still finds a book stored before the key existed, by title and by author, accents aside', async () => {
    assert.deepEqual((await search.find(TENANT, 'lodz-a guide')).map((m) => m.book.title), ['Łódź – a Guide']);
    assert.deepEqual((await search.find(TENANT, 'zoe orsted')).map((m) => m.book.title), ['Łódź – a Guide']);
    assert.deepEqual((await search.find(TENANT, 'LODZ')).map((m) => m.book.title), ['Łódź – a Guide']);
  });
});
