import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { bookListCard } from '../../../cards/bookCards';
import { BookCatalog, cursorFromArgs, MAX_OFFSET, type BookPage } from '../../../services/books/BookCatalog';
import type { Store } from '../../../services/store/Store';
import { TENANT, useEmbeddedCosmos } from '../store/fixtures';
import { SEEDED, seedBooks } from './seedBooks';

/** The args the books card's "Next page" button submits for a page. */
function nextPageArgs(page: BookPage): unknown {
  const json = JSON.stringify(bookListCard(page));
  const action = (JSON.parse(json) as { actions?: Array<{ title?: string; data?: { args?: unknown } }> }).actions?.find((a) => a.title === 'Next page');
  assert.ok(action?.data, 'the card has a Next page button');
  return action.data.args;
}

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
      // The cursor goes through the books card and comes back as its Next page button's args.
      const back = cursorFromArgs(nextPageArgs(page));
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

  it('reads only the books a search matches, not the 300 it walks past', async () => {
    const query = sinon.spy(store.books.store, 'queryPage');
    try {
      const page = await catalog.page(TENANT, { text: 'title 223' });
      assert.deepEqual(page.books.map((b) => `${b.title} @ ${b.tokenDisplayName}`), ['Title 223 @ Beta College']);
      const read = (await Promise.all(query.returnValues)).reduce((sum, p) => sum + p.items.length, 0);
      assert.ok(read <= 3, `${read} books read`);
    } finally {
      query.restore();
    }
  });

  it('validates cursors coming back from a card', () => {
    assert.deepEqual(cursorFromArgs({ q: 'moby', o: '20' }), { text: 'moby', offset: 20 });
    assert.deepEqual(cursorFromArgs({}), { text: '', offset: 0 });
    for (const forged of [{ o: '-1' }, { o: '1e3' }, { o: String(MAX_OFFSET + 1) }, { q: 'x'.repeat(101) }, { o: '10', admin: 'true' }, 'o=10', null]) {
      assert.equal(cursorFromArgs(forged), undefined, JSON.stringify(forged));
    }
  });

  it('answers an empty tenant with no pages', async () => {
    const page = await catalog.page('tenant-without-tokens');
    assert.deepEqual([page.books.length, page.tokenCount, page.next, page.previous], [0, 0, undefined, undefined]);
  });
});
