import { strict as assert } from 'node:assert';
import { TokenFileReader } from '../../../services/tokens/TokenFileReader';
import { UserFacingError } from '../../../services/errors';
import { MAX_TOKEN_FILE_BYTES } from '../../../services/apple/VppTokenFile';
import { DEMO_TOKEN_FILES } from '../../../services/apple/sandbox/demoData';
import { FileServer } from '../../support/FileServer';

const TOKEN = DEMO_TOKEN_FILES['demo-valid.vpptoken'];

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
  const files = new FileServer();
  before(() => files.start());
  after(() => files.stop());
  beforeEach(() => {
    files.routes.clear();
    files.requests = [];
  });

  describe('local mode (loopback http allowed)', () => {
    const reader = new TokenFileReader({ production: false, timeoutMs: 500 });

    it('downloads a token file', async () => {
      files.routes.set('/token', (_req, res) => res.end(TOKEN));
      assert.equal(await reader.read({ kind: 'url', url: `${files.url}/token` }), TOKEN);
    });

    it('refuses a redirect instead of following it', async () => {
      files.routes.set('/redirect', (_req, res) => {
        res.writeHead(302, { location: `${files.url}/token` });
        res.end();
      });
      files.routes.set('/token', (_req, res) => res.end(TOKEN));
      const err = await refusal(reader.read({ kind: 'url', url: `${files.url}/redirect` }));
      assert.equal(err.code, 'token_file_redirect');
      assert.deepEqual(files.requests, ['/redirect'], 'the redirect target was never requested');
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

    it('gives up on a server that never answers, within the timeout', async () => {
      files.routes.set('/hang', () => undefined);
      const started = Date.now();
      const err = await refusal(reader.read({ kind: 'url', url: `${files.url}/hang` }));
      assert.equal(err.code, 'token_file_download_failed');
      assert.match(err.message, /took too long/);
      assert.ok(Date.now() - started < 3000, 'bounded by timeoutMs');
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
      for (const url of ['not a url', 'file:///etc/passwd', 'ftp://example.com/token', 'javascript:alert(1)']) {
        const err = await refusal(reader.read({ kind: 'url', url }));
        assert.equal(err.code, 'token_file_bad_url', url);
      }
    });
  });

  describe('production mode (https to public hosts only)', () => {
    const fetched: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      fetched.push(String(input));
      return new Response(TOKEN, { status: 200, headers: { 'content-length': String(TOKEN.length) } });
    };
    const reader = new TokenFileReader({ production: true, fetch: fakeFetch, timeoutMs: 500 });
    beforeEach(() => (fetched.length = 0));

    it('downloads over https from a public host', async () => {
      assert.equal(await reader.read({ kind: 'url', url: 'https://contoso.sharepoint.com/personal/file.vpptoken?download=1' }), TOKEN);
      assert.equal(fetched.length, 1);
    });

    it('refuses plain http, even from a public host', async () => {
      assert.equal((await refusal(reader.read({ kind: 'url', url: 'http://contoso.sharepoint.com/file.vpptoken' }))).code, 'token_file_bad_url');
      assert.equal(fetched.length, 0);
    });

    const internal = [
      'https://localhost/token',
      'https://api.localhost/token',
      'https://metadata.internal/token',
      'https://127.0.0.1/token',
      'https://127.1.2.3:8443/token',
      'https://10.0.0.5/token',
      'https://172.16.0.1/token',
      'https://172.31.255.255/token',
      'https://192.168.1.10/token',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/token',
      'https://0.0.0.0/token',
      'https://[::1]/token',
      'https://[::]/token',
      'https://[fd00::1]/token',
      'https://[fe80::1]/token',
      'https://[::ffff:127.0.0.1]/token',
      'https://[::ffff:169.254.169.254]/token',
      // WHATWG URL parsing normalises these to 127.0.0.1 before the check sees them.
      'https://2130706433/token',
      'https://0x7f.0.0.1/token',
      'https://127.1/token',
    ];
    for (const url of internal) {
      it(`refuses ${url} before any request`, async () => {
        assert.equal((await refusal(reader.read({ kind: 'url', url }))).code, 'token_file_bad_url');
        assert.equal(fetched.length, 0);
      });
    }

    it('allows public addresses that merely resemble private ranges', async () => {
      for (const url of ['https://172.32.0.1/token', 'https://11.0.0.1/token', 'https://192.169.0.1/token', 'https://100.128.0.1/token']) {
        assert.equal(await reader.read({ kind: 'url', url }), TOKEN, url);
      }
    });

    it('refuses a redirect from a public host', async () => {
      const redirecting = new TokenFileReader({
        production: true,
        fetch: async () => new Response(null, { status: 307, headers: { location: 'https://169.254.169.254/' } }),
      });
      assert.equal((await refusal(redirecting.read({ kind: 'url', url: 'https://contoso.sharepoint.com/file' }))).code, 'token_file_redirect');
    });

    it('asks fetch not to follow redirects and to give up after the timeout', async () => {
      let init: RequestInit | undefined;
      const spying = new TokenFileReader({
        production: true,
        timeoutMs: 50,
        fetch: async (_input, options) => {
          init = options;
          return new Promise<Response>((_resolve, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal?.reason)));
        },
      });
      const err = await refusal(spying.read({ kind: 'url', url: 'https://contoso.sharepoint.com/file' }));
      assert.match(err.message, /took too long/);
      assert.equal(init?.redirect, 'manual');
    });

    it('refuses a declared size over the cap and a streamed one without a length', async () => {
      const declared = new TokenFileReader({
        production: true,
        fetch: async () => new Response('x', { status: 200, headers: { 'content-length': String(MAX_TOKEN_FILE_BYTES * 10) } }),
      });
      assert.equal((await refusal(declared.read({ kind: 'url', url: 'https://contoso.sharepoint.com/file' }))).code, 'token_file_too_large');
      const streamed = new TokenFileReader({
        production: true,
        fetch: async () =>
          new Response(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                controller.enqueue(new Uint8Array(8192).fill(0x41));
              },
            }),
            { status: 200 },
          ),
      });
      assert.equal((await refusal(streamed.read({ kind: 'url', url: 'https://contoso.sharepoint.com/file' }))).code, 'token_file_too_large');
    });

    it('still reads data: URLs (they never leave the process)', async () => {
      assert.equal(await reader.read({ kind: 'url', url: `data:;base64,${Buffer.from(TOKEN).toString('base64')}` }), TOKEN);
      assert.equal(fetched.length, 0);
    });
  });
});
