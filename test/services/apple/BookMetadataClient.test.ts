import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { APPLE_PRODUCTION_METADATA_URL, BookMetadataClient, fallbackBook, type BookMetadata, type BookStorefront } from '../../../services/apple/BookMetadataClient';
import { loadConfig } from '../../../services/config/config';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { DEMO_TOKEN_FILES } from '../../../local/appleSandbox/demoData';
import { Secret } from '../../../services/secrets/Secret';

/** One book's metadata, through the batch read the sync uses. */
async function bookOf(client: BookMetadataClient, adamId: string, storefront?: BookStorefront): Promise<BookMetadata> {
  const book = (await client.getBooks([adamId], undefined, storefront)).get(adamId);
  assert.ok(book, `getBooks answers for ${adamId}`);
  return book;
}

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
    assert.deepEqual(await bookOf(client, '123'), { adamId: '123', title: 'Book 123', author: undefined, coverUrl: undefined, fromStore: false });
    const down = new BookMetadataClient({ lookupUrl: 'http://127.0.0.1:1/lookup', timeoutMs: 500 });
    assert.equal((await bookOf(down, '1447212301')).title, 'Book 1447212301');
    // Apple answers public books without the itvt cookie too, in its other shape (artwork as an array of sizes).
    const noCookie = await bookOf(new BookMetadataClient({ lookupUrl: sandbox.metadataUrl }), '1447212301');
    assert.equal(noCookie.title, 'Pride and Prejudice');
    assert.match(noCookie.coverUrl ?? '', /\/artwork\/1447212301\/\d+x\d+bb\.png$/);
    const garbage = new BookMetadataClient({ lookupUrl: sandbox.metadataUrl, fetch: () => Promise.resolve(new Response('{"nope":1}')) });
    assert.equal((await bookOf(garbage, '1447212301')).title, 'Book 1447212301');
  });

  it('keeps the cache bounded, dropping the least recently used', async () => {
    const client = new BookMetadataClient({ lookupUrl: sandbox.metadataUrl, token, maxCacheEntries: 3 });
    await client.getBooks(['1447212301', '1447212318', '1447212325']);
    await bookOf(client, '1447212301');
    await bookOf(client, '1447212332');
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
    await bookOf(counting, '1447212301');
    await bookOf(counting, '1447212318');
    await bookOf(counting, '1447212325');
    await bookOf(counting, '1447212318');
    assert.equal(calls, 3, 'recently used entry kept');
    await bookOf(counting, '1447212301');
    assert.equal(calls, 4, 'oldest entry was dropped');
  });
});

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The .jsonc fixtures open with `//` lines naming their Apple page; the rest is plain JSON. */
function loadFixture(name: string): Json {
  const lines = readFileSync(path.join(__dirname, '../../fixtures/apple', name), 'utf8').split('\n');
  const start = lines.findIndex((line) => !line.trimStart().startsWith('//'));
  const body: unknown = JSON.parse(lines.slice(start).join('\n'));
  assert.ok(isRecord(body), `${name} holds an object`);
  return body;
}

function fixtureResults(name: string): Json {
  const results = loadFixture(name).results;
  assert.ok(isRecord(results), `${name} has results`);
  return results;
}

interface LookupServer {
  url: string;
  requests: URL[];
  close(): Promise<void>;
}

/** A stand-in for Apple's lookup; `answer` sees each request's URL. */
async function startLookupServer(answer: (url: URL) => { status?: number; body: unknown }): Promise<LookupServer> {
  const requests: URL[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url);
    const { status = 200, body } = answer(url);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/WebObjects/MZStorePlatform.woa/wa/lookup`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/** Apple's empty answer with the requested ids that `items` knows put into `results`, as Apple keys them. */
function answerById(items: Json): (url: URL) => { body: unknown } {
  const envelope = loadFixture('metadata-lookup-empty.jsonc');
  return (url) => {
    const ids = (url.searchParams.get('id') ?? '').split(',');
    return { body: { ...envelope, results: Object.fromEntries(ids.filter((id) => id in items).map((id) => [id, items[id]])) } };
  };
}

function collectingLogger(): { logger: pino.Logger; lines: string[]; warnings: () => Json[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const warnings = () =>
    lines.map((line): unknown => JSON.parse(line)).filter((entry): entry is Json => isRecord(entry) && entry.level === 40);
  return { logger, lines, warnings };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('BookMetadataClient with Apple-shaped answers', () => {
  const servers: LookupServer[] = [];
  async function serve(answer: (url: URL) => { status?: number; body: unknown }): Promise<LookupServer> {
    const server = await startLookupServer(answer);
    servers.push(server);
    return server;
  }
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it("reads both of Apple's documented shapes: artwork template with string ids, and artwork list with numeric ids", async () => {
    const server = await serve(answerById({ ...fixtureResults('metadata-lookup.jsonc'), ...fixtureResults('metadata-lookup-artwork-array.jsonc') }));
    const client = new BookMetadataClient({ lookupUrl: server.url });
    const books = await client.getBooks(['451796775', '361309726', '999']);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]?.searchParams.get('id'), '451796775,361309726,999');

    const templated = books.get('451796775');
    assert.equal(templated?.title, 'b2b Test 2');
    assert.equal(templated?.author, 'GamekitTester');
    assert.equal(templated?.fromStore, true);
    assert.match(templated?.coverUrl ?? '', /^https:\/\/is2-ssl\.mzstatic\.com\/.*\/200x300bb\.png$/);

    const listed = books.get('361309726');
    assert.equal(listed?.title, 'Pages');
    assert.equal(listed?.author, 'Apple');
    // Neither image reaches 200x300, so the largest is the sharpest there is.
    assert.match(listed?.coverUrl ?? '', /\/360x216bb\.png$/);

    assert.deepEqual(books.get('999'), fallbackBook('999'), 'an id missing from results gets the stand-in');

    const small = new BookMetadataClient({ lookupUrl: server.url, coverSize: { width: 100, height: 100 } });
    const smallBooks = await small.getBooks(['451796775', '361309726']);
    assert.match(smallBooks.get('451796775')?.coverUrl ?? '', /\/100x100bb\.png$/);
    assert.match(smallBooks.get('361309726')?.coverUrl ?? '', /\/128x128bb\.png$/, 'the smallest image at least as large as the cover');
  });

  it("asks the organisation's storefront and keeps each storefront's answers apart", async () => {
    const server = await serve((url) => {
      const id = url.searchParams.get('id') ?? '';
      return { body: { results: { [id]: { id, name: `Title in ${url.searchParams.get('platform')}/${url.searchParams.get('cc')}` } } } };
    });
    const client = new BookMetadataClient({ lookupUrl: server.url });

    assert.equal((await bookOf(client, '1', { platform: 'volumestore', country: 'GB' })).title, 'Title in volumestore/gb');
    const asked = server.requests[0];
    assert.equal(asked?.searchParams.get('platform'), 'volumestore');
    assert.equal(asked?.searchParams.get('cc'), 'gb');
    assert.equal(asked?.searchParams.get('p'), 'mdm-lockup');
    assert.equal(asked?.searchParams.get('version'), '2');

    assert.equal((await client.getBooks(['1'])).get('1')?.title, 'Title in enterprisestore/us', 'no storefront: the enterprise store in the US');
    assert.equal(server.requests.length, 2, 'the same id in another storefront is asked for');

    assert.equal((await client.getBooks(['1'], undefined, { platform: 'volumestore', country: 'gb' })).get('1')?.title, 'Title in volumestore/gb');
    assert.equal((await client.getBooks(['1'], undefined, {})).get('1')?.title, 'Title in enterprisestore/us');
    assert.equal(server.requests.length, 2, 'each storefront served from its own cache');
  });

  it('keeps the good items of an answer when others are odd', async () => {
    const server = await serve(() => ({
      body: {
        results: {
          '1': { id: '1', name: 'One', artistName: 'Author One', artwork: { url: 'https://covers.example/1/{w}x{h}bb.{f}' } },
          '2': 'not an item',
          '3': { id: 3, name: 42 },
          '4': { id: 4, name: 'Four', artistName: 7, artwork: 'not artwork' },
          '5': { id: '5', name: '' },
          '6': { id: 6, name: 'Six', artwork: [{ url: 'no size' }, { width: 300, height: 450, url: 'https://covers.example/6/300x450.png' }] },
          '7': null,
        },
      },
    }));
    const client = new BookMetadataClient({ lookupUrl: server.url });
    const books = await client.getBooks(['1', '2', '3', '4', '5', '6', '7']);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(books.get('1'), { adamId: '1', title: 'One', author: 'Author One', coverUrl: 'https://covers.example/1/200x300bb.png', fromStore: true });
    assert.deepEqual(books.get('4'), { adamId: '4', title: 'Four', author: undefined, coverUrl: undefined, fromStore: true }, 'odd optional fields cost only themselves');
    assert.equal(books.get('6')?.coverUrl, 'https://covers.example/6/300x450.png');
    for (const odd of ['2', '3', '5', '7']) assert.deepEqual(books.get(odd), fallbackBook(odd));
  });

  it('backs off per storefront after a failed lookup, doubling while it keeps failing and resetting on success', async () => {
    let clock = 1_000_000;
    let usFails = true;
    const books = answerById({ '1': { id: '1', name: 'One' }, '2': { id: '2', name: 'Two' } });
    const server = await serve((url) => (usFails && url.searchParams.get('cc') === 'us' ? { status: 500, body: { errorMessage: 'down' } } : books(url)));
    const token = new Secret('itvt-secret-value-0123456789');
    const { logger, lines, warnings } = collectingLogger();
    const client = new BookMetadataClient({ lookupUrl: server.url, token, logger, now: () => clock });

    assert.deepEqual((await client.getBooks(['1', '2'])).get('1'), fallbackBook('1'));
    assert.equal(server.requests.length, 1);
    assert.equal(warnings().length, 1);

    clock += 4 * MINUTE;
    assert.deepEqual((await client.getBooks(['1'])).get('1'), fallbackBook('1'), 'within the backoff: the stand-in');
    assert.equal(server.requests.length, 1, 'within the backoff: no request');
    assert.equal((await bookOf(client, '1', { country: 'gb' })).title, 'One', 'another storefront is asked as usual');
    assert.equal(server.requests.length, 2);

    clock += MINUTE + 1;
    await client.getBooks(['1']);
    assert.equal(server.requests.length, 3, 'after 5 minutes it asks again');
    clock += 9 * MINUTE;
    await client.getBooks(['1']);
    assert.equal(server.requests.length, 3, 'a second failure doubles the backoff to 10 minutes');

    usFails = false;
    clock += MINUTE + 1;
    assert.equal((await client.getBooks(['1'])).get('1')?.title, 'One');
    assert.equal(server.requests.length, 4);

    usFails = true;
    await client.getBooks(['2']);
    assert.equal(server.requests.length, 5);
    clock += 5 * MINUTE + 1;
    await client.getBooks(['2']);
    assert.equal(server.requests.length, 6, 'a success reset the backoff to its start');

    assert.equal(warnings().length, 4, 'one warning per failed lookup, none while backing off');
    assert.deepEqual(
      warnings().map((w) => [w.status, w.failures, w.retryInMs, w.platform, w.cc]),
      [
        [500, 1, 5 * MINUTE, 'enterprisestore', 'us'],
        [500, 2, 10 * MINUTE, 'enterprisestore', 'us'],
        [500, 1, 5 * MINUTE, 'enterprisestore', 'us'],
        [500, 2, 10 * MINUTE, 'enterprisestore', 'us'],
      ],
    );
    for (const line of lines) {
      assert.ok(!line.includes(token.reveal()), 'no token in logs');
      assert.ok(!/itvt|cookie/i.test(line), 'no cookie in logs');
    }
  });

  it('backs off after unreachable lookups and unreadable answers too, up to the configured cap', async () => {
    let clock = 0;
    let calls = 0;
    let answer: () => Promise<Response> = () => Promise.reject(new TypeError('fetch failed'));
    const { logger, warnings } = collectingLogger();
    const client = new BookMetadataClient({
      lookupUrl: APPLE_PRODUCTION_METADATA_URL,
      logger,
      now: () => clock,
      failureBackoffMs: { initial: 1000, max: 3000 },
      fetch: () => {
        calls += 1;
        return answer();
      },
    });
    const attempt = async (after: number): Promise<number> => {
      clock += after;
      const before = calls;
      assert.deepEqual(await bookOf(client, '1'), fallbackBook('1'));
      return calls - before;
    };
    assert.equal(await attempt(0), 1);
    assert.equal(await attempt(999), 0);
    answer = () => Promise.resolve(new Response('<html>not json</html>', { status: 200 }));
    assert.equal(await attempt(2), 1);
    assert.equal(await attempt(1999), 0);
    answer = () => Promise.resolve(new Response(JSON.stringify({ unexpected: true })));
    assert.equal(await attempt(2), 1);
    assert.equal(await attempt(2999), 0);
    assert.equal(await attempt(2), 1);
    assert.deepEqual(
      warnings().map((w) => [w.reason, w.retryInMs]),
      [
        ['TypeError', 1000],
        ['SyntaxError', 2000],
        ['unknown format', 3000],
        ['unknown format', 3000],
      ],
    );
  });

  it('does not ask again for an id Apple answered without until its negative-cache period ends', async () => {
    let clock = 0;
    const server = await serve(answerById({ '1': { id: '1', name: 'One' } }));
    const client = new BookMetadataClient({ lookupUrl: server.url, now: () => clock });
    const first = await client.getBooks(['1', '404']);
    assert.equal(first.get('1')?.title, 'One');
    assert.deepEqual(first.get('404'), fallbackBook('404'));
    assert.equal(server.requests.length, 1);

    clock += 5 * HOUR;
    assert.deepEqual((await client.getBooks(['404'])).get('404'), fallbackBook('404'));
    assert.equal(server.requests.length, 1, 'unknown id not asked again within 6 hours');

    clock += HOUR + 1;
    await client.getBooks(['1', '404']);
    assert.equal(server.requests.length, 2, 'asked again once the 6 hours are over');
    assert.equal(server.requests[1]?.searchParams.get('id'), '404', 'the known book is still cached');
  });

  it("defaults production to Apple's documented lookup URL", () => {
    const urls = loadFixture('service-config.jsonc').urls;
    assert.ok(isRecord(urls));
    assert.equal(APPLE_PRODUCTION_METADATA_URL, urls.contentMetadataLookup);
    const production = {
      MicrosoftAppId: '00000000-0000-0000-0000-000000000001',
      MicrosoftAppPassword: 'secret',
      MicrosoftAppTenantId: '00000000-0000-0000-0000-0000000000aa',
      COSMOS_ENDPOINT: 'https://example.documents.azure.com:443/',
      COSMOS_KEY: 'a2V5',
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      BOT_ADMIN_USER_IDS: '00000000-0000-0000-0000-0000000000a1',
    };
    assert.equal(loadConfig(production).apple.metadataUrl, APPLE_PRODUCTION_METADATA_URL);
    assert.equal(loadConfig({ ...production, APPLE_METADATA_URL: 'https://lookup.example/wa/lookup' }).apple.metadataUrl, 'https://lookup.example/wa/lookup');
    assert.equal(loadConfig({}).apple.metadataUrl, undefined, 'local mode points at the embedded sandbox');
  });
});
