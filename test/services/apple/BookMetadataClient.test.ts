import { strict as assert } from 'node:assert';
import { BookMetadataClient } from '../../../services/apple/BookMetadataClient';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../services/apple/sandbox/AppleSandboxServer';
import { DEMO_TOKEN_FILES } from '../../../services/apple/sandbox/demoData';
import { Secret } from '../../../services/secrets/Secret';

describe('BookMetadataClient', () => {
  let sandbox: RunningAppleSandbox;
  const token = new Secret(DEMO_TOKEN_FILES['demo-valid.vpptoken']);
  before(async () => {
    sandbox = await startAppleSandbox();
  });
  after(async () => {
    await sandbox.close();
  });

  it('looks up title, author and cover in batches, with the itvt cookie, and caches them', async () => {
    const requests: { url: URL; cookie: string | null }[] = [];
    const client = new BookMetadataClient({
      lookupUrl: sandbox.metadataUrl,
      token,
      batchSize: 2,
      fetch: (input, init) => {
        requests.push({ url: new URL(String(input)), cookie: new Headers(init?.headers).get('cookie') });
        return fetch(input, init);
      },
    });
    const books = await client.getBooks(['1447212301', '1447212318', '1447212325', '1447212301']);
    assert.equal(books.get('1447212301')?.title, 'Pride and Prejudice');
    assert.equal(books.get('1447212301')?.author, 'Jane Austen');
    assert.equal(books.get('1447212318')?.fromStore, true);
    assert.match(books.get('1447212325')?.coverUrl ?? '', /\/artwork\/1447212325\/200x300bb\.png$/);
    assert.equal(requests.length, 2);
    assert.equal(requests[0]?.url.searchParams.get('id'), '1447212301,1447212318');
    assert.equal(requests[0]?.url.searchParams.get('p'), 'mdm-lockup');
    assert.equal(requests[0]?.cookie, `itvt=${token.reveal()}`);
    await client.getBooks(['1447212301', '1447212325']);
    assert.equal(requests.length, 2, 'served from cache');
    const cover = await fetch(books.get('1447212325')?.coverUrl ?? '');
    assert.equal(cover.headers.get('content-type'), 'image/svg+xml');
  });

  it('degrades to "Book <adamId>" for unknown books and unreachable lookups, without throwing', async () => {
    const client = new BookMetadataClient({ lookupUrl: sandbox.metadataUrl, token });
    assert.deepEqual(await client.getBook('123'), { adamId: '123', title: 'Book 123', author: undefined, coverUrl: undefined, fromStore: false });
    const down = new BookMetadataClient({ lookupUrl: 'http://127.0.0.1:1/lookup', timeoutMs: 500 });
    assert.equal((await down.getBook('1447212301')).title, 'Book 1447212301');
    const noCookie = new BookMetadataClient({ lookupUrl: sandbox.metadataUrl });
    assert.equal((await noCookie.getBook('1447212301')).fromStore, false);
    const garbage = new BookMetadataClient({ lookupUrl: sandbox.metadataUrl, fetch: () => Promise.resolve(new Response('{"nope":1}')) });
    assert.equal((await garbage.getBook('1447212301')).title, 'Book 1447212301');
  });

  it('keeps the cache bounded, dropping the least recently used', async () => {
    const client = new BookMetadataClient({ lookupUrl: sandbox.metadataUrl, token, maxCacheEntries: 3 });
    await client.getBooks(['1447212301', '1447212318', '1447212325']);
    await client.getBook('1447212301');
    await client.getBook('1447212332');
    assert.equal(client.cacheSize, 3);
    let calls = 0;
    const counting = new BookMetadataClient({
      lookupUrl: sandbox.metadataUrl,
      token,
      maxCacheEntries: 2,
      fetch: (input, init) => {
        calls += 1;
        return fetch(input, init);
      },
    });
    await counting.getBook('1447212301');
    await counting.getBook('1447212318');
    await counting.getBook('1447212325');
    await counting.getBook('1447212318');
    assert.equal(calls, 3, 'recently used entry kept');
    await counting.getBook('1447212301');
    assert.equal(calls, 4, 'oldest entry was dropped');
  });
});
