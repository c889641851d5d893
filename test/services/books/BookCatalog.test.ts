import { strict as assert } from 'node:assert';
import { BookCatalog, cursorFromArgs, cursorToArgs, MAX_OFFSET } from '../../../services/books/BookCatalog';
import type { Store } from '../../../services/store/Store';
import { TENANT, useEmbeddedCosmos } from '../store/fixtures';
import { SEEDED, seedBooks } from './seedBooks';

describe('BookCatalog (embedded Cosmos, 300 books over three tokens)', function () {
  this.timeout(30_000);
  const cosmos = useEmbeddedCosmos();
  let store: Store;
  let catalog: BookCatalog;

  before(async () => {
    store = await cosmos.newStore();
    await seedBooks(store);
    catalog = new BookCatalog(store, { pageSize: 10, readBatch: 40 });
  });

  it('lists the first page with token names and a next cursor', async () => {
    const page = await catalog.page(TENANT);
    assert.equal(page.books.length, 10);
    assert.equal(page.books[0]?.title, 'Title 001');
    assert.equal(page.books[0]?.tokenDisplayName, 'Alpha Academy');
    assert.equal(page.previous, undefined);
    assert.deepEqual(page.next, { text: '', offset: 10 });
    assert.equal(page.tokenCount, 3);
  });

  it('pages through every book exactly once, across token boundaries, and back', async () => {
    const titles: string[] = [];
    let cursor = { text: '', offset: 0 };
    let pages = 0;
    for (;;) {
      const page = await catalog.page(TENANT, cursor);
      titles.push(...page.books.map((b) => b.title));
      pages++;
      if (!page.next) break;
      // The cursor goes through a card and comes back as args.
      const back = cursorFromArgs(JSON.parse(JSON.stringify(cursorToArgs(page.next))));
      assert.ok(back);
      cursor = back;
    }
    assert.equal(pages, 30);
    assert.equal(titles.length, SEEDED.total);
    assert.equal(new Set(titles).size, SEEDED.total);
    assert.ok(!titles.some((t) => t.includes('Secret')), 'another tenant never shows');
    const boundary = await catalog.page(TENANT, { offset: 145 });
    assert.deepEqual(boundary.books.map((b) => b.tokenDisplayName), [...Array(5).fill('Alpha Academy'), ...Array(5).fill('Beta College')]);
    assert.deepEqual(boundary.previous, { text: '', offset: 135 });
  });

  it('searches by title or author and pages the results', async () => {
    const dickens = await catalog.page(TENANT, { text: 'dickens' });
    assert.equal(dickens.books.length, 10);
    assert.ok(dickens.books.every((b) => b.author === 'Charles Dickens' && b.availableLicenseCount === 0));
    assert.ok(dickens.next);
    const rest = await catalog.page(TENANT, dickens.next);
    assert.ok(rest.books.every((b) => b.author === 'Charles Dickens'));
    const one = await catalog.page(TENANT, { text: 'Title 223' });
    assert.deepEqual(one.books.map((b) => [b.title, b.tokenDisplayName]), [['Title 223', 'Beta College']]);
    assert.equal(one.next, undefined);
    assert.equal((await catalog.page(TENANT, { text: 'nothing like this' })).books.length, 0);
  });

  it('validates cursors coming back from a card', () => {
    assert.deepEqual(cursorFromArgs({ q: 'moby', o: '20' }), { text: 'moby', offset: 20 });
    assert.deepEqual(cursorFromArgs({}), { text: '', offset: 0 });
    for (const forged of [{ o: '-1' }, { o: '1e3' }, { o: String(MAX_OFFSET + 1) }, { q: 'x'.repeat(101) }, { o: '10', admin: 'true' }, 'o=10', null]) {
      assert.equal(cursorFromArgs(forged), undefined, JSON.stringify(forged));
    }
    assert.ok(JSON.stringify(cursorToArgs({ text: 'moby', offset: 290 })).length < 40, 'small enough for card data');
  });

  it('answers an empty tenant with no pages', async () => {
    const page = await catalog.page('tenant-without-tokens');
    assert.deepEqual([page.books.length, page.tokenCount, page.next, page.previous], [0, 0, undefined, undefined]);
  });
});
