import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { DOWNLOAD_STALLED_MESSAGE, TokenFileReader, type TokenFileReaderOptions } from '../../../services/tokens/TokenFileReader';
import type { PinnedTarget, ResolvedAddress, Resolver, Transport, TransportResponse } from '../../../services/tokens/fileDownload';
import { UserFacingError } from '../../../services/errors';
import { MAX_TOKEN_FILE_BYTES } from '../../../services/apple/VppTokenFile';
import { DEMO_TOKEN_FILES } from '../../../local/appleSandbox/demoData';
import { toChatError } from '../../../dialogs/chatErrors';
import { FileServer, type FileRoute } from '../../support/FileServer';

const TOKEN = DEMO_TOKEN_FILES['demo-valid.vpptoken'];
const FILE = 'https://contoso-my.sharepoint.com/personal/alex/_layouts/15/download.aspx?UniqueId=1';
/** An address in Microsoft's SharePoint Online range. */
const SHAREPOINT_ADDRESS = '13.107.136.9';

async function refusal(promise: Promise<unknown>): Promise<UserFacingError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof UserFacingError, `a message for the admin, not ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('TokenFileReader', () => {
  describe('local mode (loopback allowed, real http)', () => {
    const files = new FileServer();
    before(() => files.start());
    after(() => files.stop());
    beforeEach(() => {
      files.routes.clear();
      files.requests = [];
    });
    const reader = new TokenFileReader({ production: false, stallMs: 500, timeoutMs: 2000 });
    const redirect =
      (location: string): FileRoute =>
      (_req, res) => {
        res.writeHead(302, { location });
        res.end();
      };

    it('downloads a token file', async () => {
      files.routes.set('/token', (_req, res) => res.end(TOKEN));
      assert.equal(await reader.read({ kind: 'url', url: `${files.url}/token` }), TOKEN);
    });

    it('follows a redirect that stays on the same site', async () => {
      files.routes.set('/redirect', redirect('/token'));
      files.routes.set('/token', (_req, res) => res.end(TOKEN));
      assert.equal(await reader.read({ kind: 'url', url: `${files.url}/redirect` }), TOKEN);
      assert.deepEqual(files.requests, ['/redirect', '/token']);
    });

    it('stops after 3 redirects, never requesting the fourth target', async () => {
      for (const n of [1, 2, 3, 4]) files.routes.set(`/r${n}`, redirect(`/r${n + 1}`));
      files.routes.set('/r5', (_req, res) => res.end(TOKEN));
      const err = await refusal(reader.read({ kind: 'url', url: `${files.url}/r1` }));
      assert.equal(err.code, 'token_file_redirect');
      assert.match(err.message, /redirected too many times/);
      assert.deepEqual(files.requests, ['/r1', '/r2', '/r3', '/r4']);
    });

    it('refuses a redirect off this machine without following it', async () => {
      for (const target of ['http://169.254.169.254/latest/meta-data', 'https://contoso-my.sharepoint.com.evil.example/token', 'http://10.0.0.5/token', 'file:///etc/passwd']) {
        files.requests = [];
        files.routes.set('/redirect', redirect(target));
        const err = await refusal(reader.read({ kind: 'url', url: `${files.url}/redirect` }));
        assert.equal(err.code, 'token_file_redirect', target);
        assert.match(err.message, /redirected away from Teams file storage/);
        assert.deepEqual(files.requests, ['/redirect']);
      }
    });

    it('still refuses non-loopback private addresses', async () => {
      for (const url of ['http://10.0.0.5/token', 'http://192.168.1.10/token', 'http://169.254.169.254/latest/meta-data', 'http://[fd00::1]/token']) {
        assert.equal((await refusal(reader.read({ kind: 'url', url }))).code, 'token_file_host_refused', url);
      }
    });

    it('refuses a declared content-length over the cap without reading the body', async () => {
      files.routes.set('/big', (_req, res) => {
        res.writeHead(200, { 'content-length': String(MAX_TOKEN_FILE_BYTES + 1) });
        res.end('x'.repeat(MAX_TOKEN_FILE_BYTES + 1));
      });
      assert.equal((await refusal(reader.read({ kind: 'url', url: `${files.url}/big` }))).code, 'token_file_too_large');
    });

    it('stops a chunked body without content-length once it passes the cap', async () => {
      let written = 0;
      files.routes.set('/stream', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        // 1 MiB in 4 KiB chunks, far past the 16 KiB cap: the reader must stop, not buffer it all.
        const chunk = Buffer.alloc(4096, 0x41);
        const pump = () => {
          while (written < 1024 * 1024) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
      });
      const err = await refusal(reader.read({ kind: 'url', url: `${files.url}/stream` }));
      assert.equal(err.code, 'token_file_too_large');
    });

    it('accepts a body of exactly the cap', async () => {
      const exact = 'A'.repeat(MAX_TOKEN_FILE_BYTES);
      files.routes.set('/exact', (_req, res) => res.end(exact));
      assert.equal((await reader.read({ kind: 'url', url: `${files.url}/exact` })).length, MAX_TOKEN_FILE_BYTES);
    });

    it('ends a real download that stalls mid-body with the stall message, closing the connection', async () => {
      let connectionClosed = (): void => undefined;
      const closed = new Promise<void>((resolve) => {
        connectionClosed = resolve;
      });
      files.routes.set('/stall', (req, res) => {
        res.writeHead(200, { 'content-length': String(TOKEN.length) });
        res.write(TOKEN.slice(0, 10));
        req.socket.once('close', connectionClosed);
      });
      // The total limit is far beyond the test's own timeout: only the stall timer can end this download in time.
      const quick = new TokenFileReader({ production: false, stallMs: 100, timeoutMs: 60 * 60_000 });
      const err = await refusal(quick.read({ kind: 'url', url: `${files.url}/stall` }));
      assert.equal(err.code, 'token_file_download_stalled');
      assert.equal(err.message, DOWNLOAD_STALLED_MESSAGE);
      // The server never ends the response: only the reader closing the connection resolves this.
      await closed;
    });

    it('reports an HTTP error status', async () => {
      files.routes.set('/gone', (_req, res) => {
        res.statusCode = 410;
        res.end();
      });
      const err = await refusal(reader.read({ kind: 'url', url: `${files.url}/gone` }));
      assert.equal(err.code, 'token_file_download_failed');
      assert.match(err.message, /HTTP 410/);
    });

    it('reads base64 and percent-encoded data: URLs, capped', async () => {
      assert.equal(await reader.read({ kind: 'url', url: `data:application/octet-stream;base64,${Buffer.from(TOKEN).toString('base64')}` }), TOKEN);
      assert.equal(await reader.read({ kind: 'url', url: `data:text/plain,${encodeURIComponent(TOKEN)}` }), TOKEN);
      const huge = `data:text/plain;base64,${Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1, 0x41).toString('base64')}`;
      assert.equal((await refusal(reader.read({ kind: 'url', url: huge }))).code, 'token_file_too_large');
    });

    it('refuses malformed data: URLs with a clear message', async () => {
      assert.equal((await refusal(reader.read({ kind: 'url', url: 'data:text/plain,%E0%A4%A' }))).code, 'token_file_bad_url');
      assert.equal((await refusal(reader.read({ kind: 'url', url: 'data:no-comma-here' }))).code, 'token_file_bad_url');
    });

    it('caps pasted text and inline content', async () => {
      const big = 'A'.repeat(MAX_TOKEN_FILE_BYTES + 1);
      assert.equal((await refusal(reader.read({ kind: 'text', text: big }))).code, 'token_file_too_large');
      assert.equal((await refusal(reader.read({ kind: 'inline', content: big }))).code, 'token_file_too_large');
      assert.equal(await reader.read({ kind: 'text', text: TOKEN }), TOKEN);
    });

    it('refuses links that are not URLs and schemes other than http(s) and data', async () => {
      assert.match((await refusal(reader.read({ kind: 'url', url: 'not a url' }))).message, /link is not valid/);
      for (const url of ['not a url', 'file:///etc/passwd', 'ftp://example.com/token', 'javascript:alert(1)', `${files.url.replace('http://', 'http://user:pw@')}/token`]) {
        const err = await refusal(reader.read({ kind: 'url', url }));
        assert.equal(err.code, 'token_file_bad_url', url);
      }
      assert.deepEqual(files.requests, []);
    });
  });

  describe('production mode (allow-listed https hosts at public addresses)', () => {
    let resolved: string[];
    let calls: PinnedTarget[];
    let discarded: number;
    beforeEach(() => {
      resolved = [];
      calls = [];
      discarded = 0;
    });

    const dns =
      (answers: Record<string, ResolvedAddress[]> = {}): Resolver =>
      async (host) => {
        resolved.push(host);
        return answers[host] ?? [{ address: SHAREPOINT_ADDRESS, family: 4 }];
      };
    const body = (text: string): AsyncIterable<Uint8Array> =>
      (async function* () {
        yield Buffer.from(text);
      })();
    const respond = (status: number, extra: Partial<TransportResponse> = {}): TransportResponse => ({
      status,
      location: undefined,
      contentLength: undefined,
      body: body(''),
      discard: () => void discarded++,
      ...extra,
    });
    /** A fake SharePoint: answers by URL and records every request, with the address it was pinned to. */
    const site =
      (routes: Record<string, (signal: AbortSignal) => TransportResponse | Promise<TransportResponse>>): Transport =>
      async (target, signal) => {
        calls.push(target);
        const route = routes[target.url.href];
        return route ? route(signal) : respond(404);
      };
    const serving = (text = TOKEN) => site({ [FILE]: () => respond(200, { body: body(text), contentLength: Buffer.byteLength(text) }) });
    const production = (options: Partial<TokenFileReaderOptions> = {}) => new TokenFileReader({ production: true, resolve: dns(), transport: serving(), ...options });

    it('downloads from SharePoint, connecting to the addresses it checked', async () => {
      const answer: ResolvedAddress[] = [
        { address: '2603:1036:2405::9', family: 6 },
        { address: SHAREPOINT_ADDRESS, family: 4 },
      ];
      const reader = production({ resolve: dns({ 'contoso-my.sharepoint.com': answer }) });
      assert.equal(await reader.read({ kind: 'url', url: FILE }), TOKEN);
      assert.deepEqual(resolved, ['contoso-my.sharepoint.com'], 'resolved once');
      // Every checked address, so a machine without an IPv6 route still reaches the IPv4 one.
      assert.deepEqual(
        calls.map((c) => [c.url.href, c.addresses]),
        [[FILE, answer]],
      );
    });

    const notTeamsStorage = [
      'https://vm:8443/token',
      'https://vm/token',
      'https://localhost./token',
      'https://localhost/token',
      'https://127.0.0.1.nip.io/token',
      'https://contoso.sharepoint.com.evil.example/token',
      'https://evilsharepoint.com/token',
      'https://example.com/token',
      'https://metadata.internal/token',
      'https://127.0.0.1/token',
      'https://10.0.0.5/token',
      'https://169.254.169.254/latest/meta-data',
      'https://13.107.136.9/token',
      'https://[::1]/token',
      'https://[::ffff:127.0.0.1]/token',
      // WHATWG URL parsing normalises this to 127.0.0.1; a literal address is refused either way.
      'https://2130706433/token',
    ];
    for (const url of notTeamsStorage) {
      it(`refuses ${url} before resolving or requesting anything`, async () => {
        const err = await refusal(production().read({ kind: 'url', url }));
        assert.equal(err.code, 'token_file_host_refused');
        assert.match(err.message, /does not point to Teams file storage/);
        assert.deepEqual(resolved, []);
        assert.equal(calls.length, 0);
      });
    }

    it('refuses plain http and other ports even on SharePoint', async () => {
      for (const url of ['http://contoso-my.sharepoint.com/file', 'https://contoso-my.sharepoint.com:8443/file']) {
        const err = await refusal(production().read({ kind: 'url', url }));
        assert.equal(err.code, 'token_file_bad_url', url);
        assert.match(err.message, /over https/);
      }
      assert.equal(calls.length, 0);
    });

    it('takes the allow-list from configuration (TOKEN_DOWNLOAD_HOSTS)', async () => {
      const reader = production({ allowedHosts: ['contoso-my.sharepoint.com'] });
      assert.equal(await reader.read({ kind: 'url', url: FILE }), TOKEN);
      assert.equal((await refusal(reader.read({ kind: 'url', url: 'https://fabrikam-my.sharepoint.com/file' }))).code, 'token_file_host_refused');
    });

    const internalAnswers = ['127.0.0.1', '10.0.0.5', '169.254.169.254', '::1', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe', '100.64.0.1', '172.16.0.1', '192.168.1.10', '0.0.0.0', '::', 'fd00::1', 'fe80::1', '224.0.0.1', 'ff02::1', '64:ff9b::a00:5'];
    for (const address of internalAnswers) {
      it(`refuses an allowed name that resolves to ${address}, without a request`, async () => {
        const reader = production({ resolve: dns({ 'contoso-my.sharepoint.com': [{ address, family: address.includes(':') ? 6 : 4 }] }) });
        const err = await refusal(reader.read({ kind: 'url', url: FILE }));
        assert.equal(err.code, 'token_file_address_refused');
        assert.match(err.message, /private or local network address/);
        assert.equal(calls.length, 0);
      });
    }

    it('refuses when any one of several resolved addresses is internal', async () => {
      const reader = production({
        resolve: dns({
          'contoso-my.sharepoint.com': [
            { address: SHAREPOINT_ADDRESS, family: 4 },
            { address: '10.0.0.5', family: 4 },
          ],
        }),
      });
      assert.equal((await refusal(reader.read({ kind: 'url', url: FILE }))).code, 'token_file_address_refused');
      assert.equal(calls.length, 0);
    });

    it('says so when the name does not resolve', async () => {
      const reader = production({
        resolve: async () => {
          throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
        },
      });
      const err = await refusal(reader.read({ kind: 'url', url: FILE }));
      assert.equal(err.code, 'token_file_download_failed');
      assert.match(err.message, /could not find the server/);
      assert.equal(calls.length, 0);
    });

    describe('redirects', () => {
      const hop = (n: number) => `https://contoso-my.sharepoint.com/hop${n}`;

      it('follows up to 3 same-site redirects, resolving and checking each hop', async () => {
        const transport = site({
          [FILE]: () => respond(302, { location: hop(1) }),
          [hop(1)]: () => respond(307, { location: 'https://contoso.sharepoint.com/hop2' }),
          ['https://contoso.sharepoint.com/hop2']: () => respond(301, { location: '/hop3' }),
          ['https://contoso.sharepoint.com/hop3']: () => respond(200, { body: body(TOKEN) }),
        });
        assert.equal(await production({ transport }).read({ kind: 'url', url: FILE }), TOKEN);
        assert.equal(calls.length, 4);
        assert.deepEqual(resolved, ['contoso-my.sharepoint.com', 'contoso-my.sharepoint.com', 'contoso.sharepoint.com', 'contoso.sharepoint.com']);
        assert.equal(discarded, 3, 'each redirect response was let go');
      });

      it('refuses a fourth redirect without requesting its target', async () => {
        const transport = site({
          [FILE]: () => respond(302, { location: hop(1) }),
          [hop(1)]: () => respond(302, { location: hop(2) }),
          [hop(2)]: () => respond(302, { location: hop(3) }),
          [hop(3)]: () => respond(302, { location: hop(4) }),
          [hop(4)]: () => respond(200, { body: body(TOKEN) }),
        });
        const err = await refusal(production({ transport }).read({ kind: 'url', url: FILE }));
        assert.equal(err.code, 'token_file_redirect');
        assert.match(err.message, /too many times/);
        assert.deepEqual(
          calls.map((c) => c.url.href),
          [FILE, hop(1), hop(2), hop(3)],
        );
      });

      for (const [what, location] of [
        ['another host', 'https://evil.example/token'],
        ['a look-alike host', 'https://contoso.sharepoint.com.evil.example/token'],
        ['a literal internal address', 'https://169.254.169.254/latest/meta-data'],
        ['plain http on the same host', 'http://contoso-my.sharepoint.com/file'],
        ['another scheme', 'file:///etc/passwd'],
      ] as const) {
        it(`refuses a redirect to ${what} without following it`, async () => {
          const err = await refusal(production({ transport: site({ [FILE]: () => respond(302, { location }) }) }).read({ kind: 'url', url: FILE }));
          assert.equal(err.code, 'token_file_redirect');
          assert.match(err.message, /redirected away from Teams file storage/);
          assert.equal(calls.length, 1);
        });
      }

      for (const [allowedHosts, location] of [
        [['sharepoint.com', 'svc.ms'], 'https://files.svc.ms/token'],
        [['contoso-my.sharepoint.com', 'contoso.sharepoint.com'], 'https://contoso.sharepoint.com/token'],
      ] as const) {
        it(`refuses a redirect to another allow-list entry (${allowedHosts.join(', ')}), saying so`, async () => {
          const reader = production({ allowedHosts, transport: site({ [FILE]: () => respond(302, { location }) }) });
          const err = await refusal(reader.read({ kind: 'url', url: FILE }));
          assert.equal(err.code, 'token_file_redirect');
          assert.match(err.message, /redirected to a different file storage site .* only within one TOKEN_DOWNLOAD_HOSTS entry/);
          assert.equal(calls.length, 1);
        });
      }

      it('checks the resolved address of a redirect target too', async () => {
        const reader = production({
          resolve: dns({ 'rebound.sharepoint.com': [{ address: '127.0.0.1', family: 4 }] }),
          transport: site({ [FILE]: () => respond(302, { location: 'https://rebound.sharepoint.com/token' }) }),
        });
        assert.equal((await refusal(reader.read({ kind: 'url', url: FILE }))).code, 'token_file_address_refused');
        assert.equal(calls.length, 1);
      });

      it('refuses a redirect without a location', async () => {
        const err = await refusal(production({ transport: site({ [FILE]: () => respond(302) }) }).read({ kind: 'url', url: FILE }));
        assert.equal(err.code, 'token_file_redirect');
      });
    });

    describe('stalls (fake timers)', () => {
      let clock: sinon.SinonFakeTimers;
      beforeEach(() => (clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })));
      afterEach(() => clock.restore());

      /** Settles `promise` into a value so a rejection can be awaited after the clock has moved. */
      const settle = (promise: Promise<unknown>) => promise.then(() => undefined, (err: unknown) => err);
      const never = (signal: AbortSignal) => new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));

      it('ends a download whose server never answers after stallMs, with its own message', async () => {
        const reader = production({ stallMs: 5_000, transport: site({ [FILE]: (signal) => never(signal) }) });
        const outcome = settle(reader.read({ kind: 'url', url: FILE }));
        await clock.tickAsync(4_999);
        await clock.tickAsync(1);
        const err = await outcome;
        assert.ok(err instanceof UserFacingError);
        assert.equal(err.code, 'token_file_download_stalled');
        assert.equal(err.message, DOWNLOAD_STALLED_MESSAGE);
      });

      it('ends a body that stops sending, and tells the admin in chat without an incident id', async () => {
        const stalling = async function* (): AsyncGenerator<Uint8Array> {
          yield Buffer.from(TOKEN.slice(0, 10));
          await new Promise(() => undefined);
        };
        const reader = production({ stallMs: 5_000, transport: site({ [FILE]: () => respond(200, { body: stalling() }) }) });
        const outcome = settle(reader.read({ kind: 'url', url: FILE }));
        await clock.tickAsync(5_000);
        const err = await outcome;
        assert.ok(err instanceof UserFacingError);
        assert.equal(err.code, 'token_file_download_stalled');
        assert.equal(discarded, 1, 'the transfer was stopped');
        const chat = toChatError(err);
        assert.equal(chat.text, 'The download of the token file stalled; try uploading it again.');
        assert.equal(chat.incidentId, undefined);
      });

      it('ends a trickle that never stalls once the total time is up', async () => {
        const trickle = async function* (): AsyncGenerator<Uint8Array> {
          for (;;) {
            await new Promise((r) => setTimeout(r, 1_000));
            yield Buffer.from('A');
          }
        };
        const reader = production({ stallMs: 5_000, timeoutMs: 30_000, transport: site({ [FILE]: () => respond(200, { body: trickle() }) }) });
        let done = false;
        const outcome = settle(reader.read({ kind: 'url', url: FILE })).then((err) => ((done = true), err));
        await clock.tickAsync(29_000);
        assert.equal(done, false, 'still receiving before the limit');
        await clock.tickAsync(1_000);
        const err = await outcome;
        assert.ok(err instanceof UserFacingError);
        assert.equal(err.code, 'token_file_download_stalled');
      });

      it('does not call a steady download stalled', async () => {
        const steady = async function* (): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < TOKEN.length; i += 100) {
            await new Promise((r) => setTimeout(r, 4_000));
            yield Buffer.from(TOKEN.slice(i, i + 100));
          }
        };
        const reader = production({ stallMs: 5_000, timeoutMs: 1_000_000, transport: site({ [FILE]: () => respond(200, { body: steady() }) }) });
        const outcome = reader.read({ kind: 'url', url: FILE });
        await clock.tickAsync(4_000 * Math.ceil(TOKEN.length / 100));
        assert.equal(await outcome, TOKEN);
      });
    });

    it('refuses a declared size over the cap and a streamed one without a length', async () => {
      const declared = production({ transport: site({ [FILE]: () => respond(200, { contentLength: MAX_TOKEN_FILE_BYTES * 10, body: body('x') }) }) });
      assert.equal((await refusal(declared.read({ kind: 'url', url: FILE }))).code, 'token_file_too_large');
      const endless = async function* (): AsyncGenerator<Uint8Array> {
        for (;;) yield new Uint8Array(8192).fill(0x41);
      };
      discarded = 0;
      const streamed = production({ transport: site({ [FILE]: () => respond(200, { body: endless() }) }) });
      assert.equal((await refusal(streamed.read({ kind: 'url', url: FILE }))).code, 'token_file_too_large');
      assert.equal(discarded, 1, 'the transfer was stopped');
    });

    it('reports a connection failure as a failed download', async () => {
      const reader = production({
        transport: async () => {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
      });
      const err = await refusal(reader.read({ kind: 'url', url: FILE }));
      assert.equal(err.code, 'token_file_download_failed');
    });

    it('still reads data: URLs (they never leave the process)', async () => {
      assert.equal(await production().read({ kind: 'url', url: `data:;base64,${Buffer.from(TOKEN).toString('base64')}` }), TOKEN);
      assert.equal(calls.length, 0);
    });

    it('cannot be given the local loopback allowance', () => {
      assert.throws(() => new TokenFileReader({ production: true, allowLoopback: true }), /local mode only/);
    });
  });
});
