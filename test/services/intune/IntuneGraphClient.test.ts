import { strict as assert } from 'node:assert';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { inspect } from 'node:util';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ConfigError } from '../../../services/errors';
import { encodeVppTokenFile, parseVppTokenFile } from '../../../services/apple/VppTokenFile';
import { IntuneGraphClient, type IntuneGraphClientOptions } from '../../../services/intune/IntuneGraphClient';
import { GROUP_TARGET, IntuneRetryAfterError, type EBookAssignment, type IntuneEBook } from '../../../services/intune/IntuneApi';
import {
  IntuneAuthError,
  IntuneError,
  IntuneNotFoundError,
  IntunePermissionError,
  IntuneRefusedError,
  IntuneResponseError,
  IntuneUnavailableError,
} from '../../../services/intune/IntuneError';
import { documentedFixtures } from '../../fixtures/documentedFixtures';
import { capturingLogger } from '../../support/logCapture';
import { secretsLedger } from '../../support/secretsLedger';

/**
 * IntuneGraphClient over HTTP against a tiny Graph of the test's own on port 0, which answers Graph's
 * documented examples (test/fixtures/intune). Retries run on an injected clock: no test waits.
 */
const intune = documentedFixtures(path.join(__dirname, '../../fixtures/intune'));
const GRAPH = 'https://graph.microsoft.com';

interface Seen {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Answers scripted per `METHOD /path`: each request takes the next answer, the last one repeats. */
class TinyGraph {
  readonly requests: Seen[] = [];
  private readonly answers = new Map<string, Answer[]>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<TinyGraph> {
    // The handler needs the instance, which needs the listening server's port.
    const self: { graph?: TinyGraph } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = req.url ?? '/';
        const seen: Seen = { method: req.method ?? 'GET', url, path: url.split('?')[0] ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        self.graph?.requests.push(seen);
        const queue = self.graph?.answers.get(`${seen.method} ${seen.path}`) ?? [];
        const answer = (queue.length > 1 ? queue.shift() : queue[0]) ?? { status: 404, body: { error: { code: 'ResourceNotFound', message: `No route ${seen.method} ${seen.path}` } } };
        // The documented nextLinks name graph.microsoft.com: here they lead back to this server.
        const text = answer.body === undefined ? '' : JSON.stringify(answer.body).split(GRAPH).join(self.graph?.baseUrl ?? '');
        res.writeHead(answer.status, { ...(text ? { 'content-type': 'application/json' } : {}), ...answer.headers });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self.graph = new TinyGraph(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self.graph;
  }

  answer(method: string, path: string, ...answers: Answer[]): void {
    this.answers.set(`${method} ${path}`, answers);
  }

  /** A documented example, with the status its page gives. */
  documented(method: string, path: string, fixture: string): void {
    this.answer(method, path, { status: intune.status(fixture) ?? 200, body: intune.load(fixture) });
  }

  reset(): void {
    this.requests.length = 0;
    this.answers.clear();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}

const TOKENS = '/beta/deviceAppManagement/vppTokens';
const BOOKS = '/v1.0/deviceAppManagement/managedEBooks';
/** A book's assignments and `assign`: on beta, whose targets carry an assignment filter. */
const BETA_BOOKS = '/beta/deviceAppManagement/managedEBooks';
const TOKEN_ID = '9ceb2f92-2f92-9ceb-922f-eb9c922feb9c';
const BOOK_ID = '3b9f627e-627e-3b9f-7e62-9f3b7e629f3b';

/** A real-looking .vpptoken: Base64 of Apple's JSON, with an inner token that must stay unseen too. */
function vppToken(inner = 'inner-token-value-3f9c1a7e5b2d4c6f8a0e1b3d5f7a9c2e') {
  const text = encodeVppTokenFile({ token: inner, expDate: new Date(Date.now() + 200 * 86_400_000), orgName: 'Northwind School' });
  secretsLedger.registerSecret(text);
  secretsLedger.registerSecret(inner);
  return { text, inner, secret: parseVppTokenFile(text).secret };
}

/** Everything an error shows anyone: chat, log, inspection. */
function everythingIn(err: unknown): string {
  const e = err as IntuneError;
  return [e.message, e.userMessage, e.stack ?? '', inspect(e), JSON.stringify(e)].join('\n');
}

describe('IntuneGraphClient against a Graph-shaped server', () => {
  let graph: TinyGraph;
  let clock: number;
  let slept: number[];

  const client = (options: IntuneGraphClientOptions = {}) =>
    new IntuneGraphClient({
      baseUrl: graph.baseUrl,
      sleep: async (ms) => {
        slept.push(ms);
        clock += ms;
      },
      now: () => clock,
      random: () => 0,
      ...options,
    });

  before(async () => {
    graph = await TinyGraph.start();
  });
  beforeEach(() => {
    graph.reset();
    clock = 1_000_000;
    slept = [];
  });
  after(() => graph.close());

  describe('VPP tokens (beta)', () => {
    it('lists every token across pages, reading beta states and no token string', async () => {
      const firstPage = { ...intune.load<object>('vpptokens-list-response-beta'), '@odata.nextLink': `${GRAPH}${TOKENS}?$skiptoken=2` };
      graph.answer('GET', TOKENS, { status: 200, body: firstPage }, { status: 200, body: intune.load('vpptokens-list-duplicate-location-beta-constructed') });
      const tokens = await client().listVppTokens();
      assert.deepEqual(
        tokens.map((t) => [t.id, t.state, t.accountType, t.displayName]),
        [
          [TOKEN_ID, 'valid', 'education', 'Display Name value'],
          [TOKEN_ID, 'duplicateLocationId', 'education', 'Display Name value'],
        ],
      );
      assert.deepEqual(
        graph.requests.map((r) => `${r.method} ${r.url}`),
        [`GET ${TOKENS}`, `GET ${TOKENS}?$skiptoken=2`],
      );
      assert.ok(!JSON.stringify(tokens).includes('Token value'), 'the echoed token string is not kept');
      assert.equal(graph.requests[0]?.headers.authorization, undefined, 'a loopback Graph takes no credentials');
    });

    it('gets one token, wrapped as the page shows it or not, and a missing one as undefined', async () => {
      graph.documented('GET', `${TOKENS}/${TOKEN_ID}`, 'vpptoken-get-response');
      const wrapped = await client().getVppToken(TOKEN_ID);
      graph.documented('GET', `${TOKENS}/${TOKEN_ID}`, 'vpptoken-get-response-unwrapped-constructed');
      assert.deepEqual(await client().getVppToken(TOKEN_ID), wrapped);
      assert.equal(wrapped?.expirationDateTime, '2017-01-01T07:57:57.248Z');
      graph.answer('GET', `${TOKENS}/gone`, { status: 404, body: { error: { code: 'ResourceNotFound', message: 'Not found' } } });
      assert.equal(await client().getVppToken('gone'), undefined);
    });

    it('creates a token with the whole .vpptoken content, the Apple Account and the account type, and beta fields only when given', async () => {
      const token = vppToken();
      graph.documented('POST', TOKENS, 'vpptoken-create-response');
      const created = await client().createVppToken({ token: token.secret, appleId: 'vpp@northwind.example', accountType: 'education' });
      assert.equal(created.id, TOKEN_ID);
      const sent = JSON.parse(graph.requests[0]?.body ?? '{}') as Record<string, unknown>;
      assert.deepEqual(sent, { '@odata.type': '#microsoft.graph.vppToken', token: token.text, appleId: 'vpp@northwind.example', vppTokenAccountType: 'education' });
      assert.equal(graph.requests[0]?.headers['content-type'], 'application/json');

      await client().createVppToken({ token: token.secret, appleId: 'a@b.example', accountType: 'business', displayName: 'Library', claimFromExternalMdm: true });
      const beta = JSON.parse(graph.requests[1]?.body ?? '{}') as Record<string, unknown>;
      assert.equal(beta['displayName'], 'Library');
      assert.equal(beta['claimTokenManagementFromExternalMdm'], true);
      // Every key sent is one the create page documents (its request example, or the beta resource's properties).
      const documented = new Set([...Object.keys(intune.load<object>('vpptoken-create-request')), 'displayName', 'claimTokenManagementFromExternalMdm']);
      assert.deepEqual(Object.keys(beta).filter((key) => !documented.has(key)), []);
    });

    it("never lets the token reach an error, a log line or chat, whatever Graph echoes back", async () => {
      const token = vppToken();
      const { logger, lines } = capturingLogger();
      graph.answer('POST', TOKENS, {
        status: 400,
        headers: { 'request-id': 'req-123' },
        body: { error: { code: 'BadRequest', message: `The token ${token.text} is not valid (inner ${token.inner}).`, innerError: { 'request-id': 'req-123' } } },
      });
      const err = await client({ logger }).createVppToken({ token: token.secret, appleId: 'a@b.example', accountType: 'education' }).catch((e: unknown) => e);
      assert.ok(err instanceof IntuneRefusedError, String(err));
      assert.equal(err.code, 'intune_bad_request');
      assert.equal(err.status, 400);
      assert.equal(err.graphCode, 'BadRequest');
      assert.equal(err.requestId, 'req-123');
      const shown = everythingIn(err);
      assert.ok(!shown.includes(token.text) && !shown.includes(token.inner), 'no token in the error');
      assert.ok(!lines.join('\n').includes(token.text) && !lines.join('\n').includes(token.inner), 'no token in the log');
      assert.ok(lines.some((line) => line.includes('req-123')), 'the request id is logged');
      assert.ok(!err.userMessage.includes('req-123') && !err.userMessage.includes('BadRequest'), 'the code and request id are for the log only');
      assert.match(err.userMessage, /^Intune refused to add the VPP token/);
    });

    it("gives Intune's own message made safe: no support ids, no internal address, Markdown escaped", async () => {
      graph.documented('PATCH', `${TOKENS}/${TOKEN_ID}`, 'error-intune-bad-request-observed');
      // The observed answer has no HTTP status line in its fixture: it was a 400.
      graph.answer('PATCH', `${TOKENS}/${TOKEN_ID}`, { status: 400, body: intune.load('error-intune-bad-request-observed') });
      const err = await client().updateVppToken(TOKEN_ID, { appleId: 'a@b.example' }).catch((e: unknown) => e);
      assert.ok(err instanceof IntuneRefusedError);
      assert.equal(err.userMessage, 'Intune refused to update the VPP token. Nothing was changed.', '"An error has occurred" says nothing: left out');
      assert.doesNotMatch(err.userMessage, /Operation ID|manage\.microsoft\.com/);
      assert.match(err.message, /Operation ID/, 'the log keeps what Microsoft support asks for');

      graph.answer('PATCH', `${TOKENS}/${TOKEN_ID}`, {
        status: 400,
        body: {
          error: {
            code: 'BadRequest',
            message: JSON.stringify({ _version: 3, Message: 'Apple ID *must* match the token - Operation ID (for customer support): 00000000-0000 - Activity ID: x - Url: https://fef.example/x', CustomApiErrorPhrase: '' }),
          },
        },
      });
      const explained = await client().updateVppToken(TOKEN_ID, { appleId: 'a@b.example' }).catch((e: unknown) => e);
      assert.ok(explained instanceof IntuneRefusedError);
      assert.equal(explained.userMessage, 'Intune refused to update the VPP token: Apple ID \\*must\\* match the token. Nothing was changed.');

      graph.answer('POST', `${BETA_BOOKS}/${BOOK_ID}/assign`, { status: 400, body: intune.load('error-response') });
      const generic = await client().assign(BOOK_ID, []).catch((e: unknown) => e);
      assert.ok(generic instanceof IntuneRefusedError);
      assert.equal(generic.userMessage, 'Intune refused to assign the book: Uploaded fragment overlaps with existing data. Nothing was changed.');
      assert.equal(generic.graphCode, 'invalidRange');
      assert.equal(generic.requestId, 'request-id', "from innerError when the header is missing");
    });

    it('sends a create once: after a 504 the outcome is unknown, and says so', async () => {
      graph.answer('POST', TOKENS, { status: 504, body: { error: { code: 'GatewayTimeout', message: 'timeout' } } });
      const err = await client().createVppToken({ token: vppToken().secret, appleId: 'a@b.example', accountType: 'education' }).catch((e: unknown) => e);
      assert.ok(err instanceof IntuneUnavailableError);
      assert.equal(graph.requests.length, 1);
      assert.match(err.userMessage, /cannot tell whether the change was made/);

      graph.reset();
      graph.answer('POST', TOKENS, { status: 503, headers: { 'retry-after': '2' } }, { status: 201, body: intune.load('vpptoken-create-response') });
      const created = await client().createVppToken({ token: vppToken().secret, appleId: 'a@b.example', accountType: 'education' });
      assert.equal(created.id, TOKEN_ID, 'a 503 was refused before any work: tried again');
      assert.deepEqual(slept, [2_000]);
    });

    it('updates with PATCH and reads the token back when Graph answers 204', async () => {
      const token = vppToken();
      graph.documented('PATCH', `${TOKENS}/${TOKEN_ID}`, 'vpptoken-update-response');
      const renewed = await client().updateVppToken(TOKEN_ID, { token: token.secret });
      assert.equal(renewed.id, TOKEN_ID);
      assert.deepEqual(JSON.parse(graph.requests[0]?.body ?? '{}'), { '@odata.type': '#microsoft.graph.vppToken', token: token.text });

      graph.reset();
      graph.answer('PATCH', `${TOKENS}/${TOKEN_ID}`, { status: 204 });
      graph.documented('GET', `${TOKENS}/${TOKEN_ID}`, 'vpptoken-get-response-unwrapped-constructed');
      const named = await client().updateVppToken(TOKEN_ID, { displayName: 'Library' });
      assert.equal(named.id, TOKEN_ID);
      assert.deepEqual(
        graph.requests.map((r) => r.method),
        ['PATCH', 'GET'],
      );
    });

    it('deletes a token, and a token already gone counts as deleted', async () => {
      graph.answer('DELETE', `${TOKENS}/${TOKEN_ID}`, { status: 204 });
      await client().deleteVppToken(TOKEN_ID);
      graph.answer('DELETE', `${TOKENS}/gone`, { status: 404, body: { error: { code: 'ResourceNotFound', message: 'gone' } } });
      await client().deleteVppToken('gone');
      assert.deepEqual(
        graph.requests.map((r) => `${r.method} ${r.path}`),
        [`DELETE ${TOKENS}/${TOKEN_ID}`, `DELETE ${TOKENS}/gone`],
      );
    });

    it('starts a sync and reads the token from the documented answer', async () => {
      graph.documented('POST', `${TOKENS}/${TOKEN_ID}/syncLicenses`, 'vpptoken-synclicenses-response');
      const token = await client().syncLicenses(TOKEN_ID);
      assert.equal(token.lastSyncStatus, 'inProgress');
      assert.equal(graph.requests[0]?.body, '', 'no body');
    });

    it("reads a failed sync from beta: the token's state and its action results, with a failure reason where one is given", async () => {
      const listed = intune.load<{ value: Array<Record<string, unknown>> }>('vpptokens-list-response-beta').value[0];
      graph.answer('GET', `${TOKENS}/${TOKEN_ID}`, {
        status: 200,
        body: {
          ...listed,
          state: 'expired',
          lastSyncStatus: 'failed',
          tokenActionResults: [
            { '@odata.type': 'microsoft.graph.vppTokenActionResult', actionName: 'syncLicenses', actionState: 'failed', startDateTime: '2026-03-02T06:00:00Z', lastUpdatedDateTime: '2026-03-02T06:00:04Z' },
            { '@odata.type': 'microsoft.graph.vppTokenRevokeLicensesActionResult', actionName: 'revokeLicenses', actionState: 'failed', lastUpdatedDateTime: '2026-03-02T06:00:05Z', actionFailureReason: 'expiredVppToken' },
          ],
        },
      });
      const token = await client().getVppToken(TOKEN_ID);
      assert.equal(graph.requests[0]?.path, `${TOKENS}/${TOKEN_ID}`, 'read on beta, where tokenActionResults are');
      assert.equal(token?.state, 'expired');
      assert.equal(token?.lastSyncStatus, 'failed');
      assert.deepEqual(
        token?.tokenActionResults?.map((r) => [r.actionName, r.actionState, r.actionFailureReason]),
        [
          ['syncLicenses', 'failed', undefined],
          ['revokeLicenses', 'failed', 'expiredVppToken'],
        ],
      );
    });
  });

  describe('books (v1.0)', () => {
    it('pages through the books across @odata.nextLink, leaving out what is not an iOS VPP book', async () => {
      graph.answer(
        'GET',
        BOOKS,
        { status: 200, body: intune.load('iosvppebooks-list-page1-constructed') },
        { status: 200, body: intune.load('iosvppebooks-list-page2-constructed') },
      );
      const pages: IntuneEBook[][] = [];
      for await (const page of client().eBookPages()) pages.push(page);
      assert.deepEqual(
        pages.map((p) => p.map((b) => [b.displayName, b.vppTokenId, b.totalLicenseCount, b.usedLicenseCount])),
        [
          [
            ['Display Name value', '9148ac60-ac60-9148-60ac-489160ac4891', 1, 0],
            ['Second Book value', 'e2b7f0a4-1c3d-4e5f-8a9b-0c1d2e3f4a5b', 25, 3],
          ],
          [['Third Book value', '9148ac60-ac60-9148-60ac-489160ac4891', 10, 10]],
        ],
      );
      assert.match(graph.requests[1]?.url ?? '', /^\/v1\.0\/deviceAppManagement\/managedEBooks\?\$skiptoken=/, 'the nextLink sent whole');

      graph.reset();
      graph.documented('GET', BOOKS, 'managedebooks-list-response');
      const others: IntuneEBook[][] = [];
      for await (const page of client().eBookPages()) others.push(page);
      assert.deepEqual(others, [[]], 'an abstract managedEBook is no iOS VPP book');
    });

    it('never follows a nextLink to another host (the bearer token stays with Graph)', async () => {
      const elsewhere = await TinyGraph.start();
      try {
        elsewhere.documented('GET', BOOKS, 'iosvppebooks-list-page2-constructed');
        const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'graph-access-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
        graph.answer('GET', BOOKS, { status: 200, body: { value: [], '@odata.nextLink': `${elsewhere.baseUrl}${BOOKS}?$skiptoken=1` } });
        const pages = client({ credential }).eBookPages();
        await assert.rejects(
          (async () => {
            for await (const _page of pages) void _page;
          })(),
          (err: unknown) => err instanceof IntuneResponseError && /outside/.test(err.message),
        );
        assert.equal(graph.requests[0]?.headers.authorization, 'Bearer graph-access-token');
        assert.equal(elsewhere.requests.length, 0);
      } finally {
        await elsewhere.close();
      }
    });

    it('gets one book as documented, and a missing one as undefined', async () => {
      graph.documented('GET', `${BOOKS}/${BOOK_ID}`, 'iosvppebook-get-response');
      const book = await client().getEBook(BOOK_ID);
      assert.equal(book?.displayName, 'Display Name value');
      assert.deepEqual(book?.largeCover, { type: 'Type value', value: 'dmFsdWU=' });
      assert.equal(await client().getEBook('00000000-0000-0000-0000-000000000000'), undefined);
    });

    it('reads the assignments and sends them back whole with the new one on beta, filters and all, each an iosVppEBookAssignment', async () => {
      const existing = intune.load<object>('iosvppebookassignments-list-groups-constructed');
      graph.answer('GET', `${BETA_BOOKS}/${BOOK_ID}/assignments`, {
        status: 200,
        body: {
          ...existing,
          value: [
            ...(existing as { value: object[] }).value,
            {
              '@odata.type': '#microsoft.graph.iosVppEBookAssignment',
              id: 'f0000000-0000-0000-0000-00000000000f',
              target: { '@odata.type': 'microsoft.graph.groupAssignmentTarget', groupId: 'filtered-group', deviceAndAppManagementAssignmentFilterId: 'filter-1', deviceAndAppManagementAssignmentFilterType: 'include' },
              installIntent: 'available',
            },
            {
              '@odata.type': '#microsoft.graph.iosVppEBookAssignment',
              id: 'e0000000-0000-0000-0000-00000000000e',
              // Beta's defaults for no filter, and a property of a kind of target the bot does not know.
              target: { '@odata.type': 'microsoft.graph.allDevicesAssignmentTarget', deviceAndAppManagementAssignmentFilterId: null, deviceAndAppManagementAssignmentFilterType: 'none', scope: { ring: 2 } },
              installIntent: 'required',
            },
          ],
        },
      });
      graph.answer('POST', `${BETA_BOOKS}/${BOOK_ID}/assign`, { status: 204 });
      const api = client();
      const current = await api.listAssignments(BOOK_ID);
      assert.equal(current.length, 4);
      assert.deepEqual(
        graph.requests.map((r) => r.path),
        [`${BETA_BOOKS}/${BOOK_ID}/assignments`],
        'read on beta: v1.0 targets have no filter',
      );
      const added: EBookAssignment = { installIntent: 'required', target: { '@odata.type': GROUP_TARGET, groupId: 'new-group' } };
      await api.assign(BOOK_ID, [...current, added]);

      const sent = JSON.parse(graph.requests[1]?.body ?? '{}') as { managedEBookAssignments: Array<Record<string, unknown>> };
      assert.deepEqual(Object.keys(sent), ['managedEBookAssignments']);
      assert.deepEqual(sent.managedEBookAssignments, [
        { '@odata.type': '#microsoft.graph.iosVppEBookAssignment', id: '0b6a4a8e-7c36-4a4f-9a1d-52d2b3a7e6f1', target: { '@odata.type': GROUP_TARGET, groupId: '7d1e3c52-9a0b-4f6e-8c21-3b5a9e0f4d17' }, installIntent: 'available' },
        { '@odata.type': '#microsoft.graph.iosVppEBookAssignment', id: 'c3f1e0d2-5b84-4e39-8f0a-1d6e9b2c7a44', target: { '@odata.type': GROUP_TARGET, groupId: '4562bcc8-c436-4f95-b7c0-4f8ce89dca5e' }, installIntent: 'required' },
        {
          '@odata.type': '#microsoft.graph.iosVppEBookAssignment',
          id: 'f0000000-0000-0000-0000-00000000000f',
          target: { '@odata.type': GROUP_TARGET, groupId: 'filtered-group', deviceAndAppManagementAssignmentFilterId: 'filter-1', deviceAndAppManagementAssignmentFilterType: 'include' },
          installIntent: 'available',
        },
        {
          '@odata.type': '#microsoft.graph.iosVppEBookAssignment',
          id: 'e0000000-0000-0000-0000-00000000000e',
          target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget', deviceAndAppManagementAssignmentFilterId: null, deviceAndAppManagementAssignmentFilterType: 'none', scope: { ring: 2 } },
          installIntent: 'required',
        },
        { '@odata.type': '#microsoft.graph.iosVppEBookAssignment', target: { '@odata.type': GROUP_TARGET, groupId: 'new-group' }, installIntent: 'required' },
      ]);
      assert.equal(graph.requests[1]?.path, `${BETA_BOOKS}/${BOOK_ID}/assign`, 'sent on beta, like the list it came from');
      // The documented body's shape: one key, items with target and installIntent.
      const documented = intune.load<{ managedEBookAssignments: Array<Record<string, unknown>> }>('managedebook-assign-request-groups-constructed');
      for (const item of sent.managedEBookAssignments) {
        assert.deepEqual(Object.keys(item).filter((k) => k !== 'id').sort(), Object.keys(documented.managedEBookAssignments[0] ?? {}).sort());
      }
    });

    it('reads the install summary, device states page by page, and user summaries', async () => {
      graph.documented('GET', `${BOOKS}/${BOOK_ID}/installSummary`, 'ebookinstallsummary-get-response');
      const devices = intune.load<{ value: object[] }>('deviceinstallstates-list-response');
      graph.answer(
        'GET',
        `${BOOKS}/${BOOK_ID}/deviceStates`,
        { status: 200, body: { ...devices, '@odata.nextLink': `${GRAPH}${BOOKS}/${BOOK_ID}/deviceStates?$skiptoken=2` } },
        { status: 200, body: devices },
      );
      graph.documented('GET', `${BOOKS}/${BOOK_ID}/userStateSummary`, 'userinstallstatesummaries-list-response');
      const api = client();
      assert.equal((await api.installSummary(BOOK_ID)).failedUserCount, 15);
      const pages = [];
      for await (const page of api.deviceStatePages(BOOK_ID)) pages.push(page.map((d) => d.installState));
      assert.deepEqual(pages, [['installed'], ['installed']]);
      assert.deepEqual(
        (await api.userStateSummaries(BOOK_ID)).map((u) => u.userName),
        ['User Name value'],
      );
    });
  });

  describe('throttling and failures', () => {
    it("waits as a 429's Retry-After asks, then succeeds", async () => {
      graph.answer('GET', TOKENS, { status: 429, headers: { 'retry-after': '10' }, body: intune.load('throttled-429') }, { status: 200, body: intune.load('vpptokens-list-response') });
      const tokens = await client().listVppTokens();
      assert.equal(tokens.length, 1);
      assert.deepEqual(slept, [10_000]);
      assert.equal(graph.requests.length, 2);
    });

    it('retries 503 and 504 with backoff until the deadline, then says Intune is busy', async () => {
      graph.answer('GET', `${BOOKS}/${BOOK_ID}/installSummary`, { status: 503 });
      const err = await client({ retry: { deadlineMs: 30_000 } }).installSummary(BOOK_ID).catch((e: unknown) => e);
      assert.ok(err instanceof IntuneUnavailableError);
      assert.equal(err.code, 'intune_unavailable');
      assert.match(err.userMessage, /could not read the book's install summary\. Nothing was changed; try again in a few minutes\./);
      assert.deepEqual(slept, [500, 1_000, 2_000, 4_000, 7_500, 7_500, 7_500], 'exponential, capped, and stopped at the deadline');
      assert.ok(slept.reduce((a, b) => a + b, 0) <= 30_000);

      slept = [];
      graph.answer('GET', `${BOOKS}/${BOOK_ID}/installSummary`, { status: 504 }, { status: 504 }, { status: 200, body: intune.load('ebookinstallsummary-get-response') });
      assert.equal((await client().installSummary(BOOK_ID)).installedDeviceCount, 4);
      assert.equal(slept.length, 2);
    });

    it('says throttled when Graph still answers 429 at the deadline', async () => {
      graph.answer('GET', TOKENS, { status: 429, headers: { 'retry-after': '20' }, body: intune.load('throttled-429') });
      const err = await client({ retry: { deadlineMs: 45_000 } }).listVppTokens().catch((e: unknown) => e);
      assert.ok(err instanceof IntuneUnavailableError);
      assert.equal(err.code, 'intune_throttled');
      assert.equal(err.kind, 'throttled');
      assert.deepEqual(slept, [20_000, 20_000]);
      assert.match(err.userMessage, /^Microsoft Graph is throttling my requests to Intune, so I could not list the VPP tokens\./);
    });

    it("honours a Retry-After longer than a call waits in full: no early try, an error that says when (for the run to pause until then)", async () => {
      graph.answer('GET', `${BETA_BOOKS}/${BOOK_ID}/assignments`, { status: 429, headers: { 'retry-after': '120' }, body: intune.load('throttled-429') }, { status: 200, body: { value: [] } });
      const err = await client().listAssignments(BOOK_ID).catch((e: unknown) => e);
      assert.ok(err instanceof IntuneRetryAfterError, String(err));
      assert.deepEqual([err.kind, err.code, err.status], ['throttled', 'intune_throttled', 429]);
      assert.equal(err.retryAfter, new Date(1_000_000 + 120_000).toISOString());
      assert.deepEqual(slept, [], 'not tried again after 30 seconds');
      assert.equal(graph.requests.length, 1);
      assert.match(err.userMessage, /^Microsoft Graph is throttling my requests to Intune and asked me to wait until 00:18 UTC on 1970-01-01, so I could not read the book's assignments\./);

      // A 503 whose Retry-After reaches past the call's deadline, after a first wait that was honoured in full.
      graph.reset();
      slept = [];
      graph.answer('POST', `${BETA_BOOKS}/${BOOK_ID}/assign`, { status: 503, headers: { 'retry-after': '45' } }, { status: 503, headers: { 'retry-after': '3600' } });
      const later = await client({ retry: { maxRetryAfterMs: 50_000 } }).assign(BOOK_ID, []).catch((e: unknown) => e);
      assert.deepEqual(slept, [45_000], 'the first Retry-After (below the cap) waited in full, not shortened');
      assert.ok(later instanceof IntuneRetryAfterError);
      assert.deepEqual([later.kind, later.code], ['unavailable', 'intune_unavailable']);
      assert.equal(later.retryAfter, new Date(1_000_000 + 45_000 + 3_600_000).toISOString());
      assert.equal(graph.requests.length, 2);
    });

    it('names the least application permission each call documents on a 403', async () => {
      const denied: Answer = { status: 403, headers: { 'request-id': 'r-403' }, body: { error: { code: 'Forbidden', message: 'Application is not authorized to perform this operation.' } } };
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
        for (const route of [TOKENS, `${TOKENS}/${TOKEN_ID}`, `${TOKENS}/${TOKEN_ID}/syncLicenses`, BOOKS, `${BOOKS}/${BOOK_ID}`, `${BETA_BOOKS}/${BOOK_ID}/assign`, `${BETA_BOOKS}/${BOOK_ID}/assignments`]) graph.answer(method, route, denied);
      }
      const api = client();
      const token = vppToken().secret;
      const cases: Array<[string, () => Promise<unknown>, string]> = [
        ['listVppTokens', () => api.listVppTokens(), 'DeviceManagementApps.Read.All'],
        ['getVppToken', () => api.getVppToken(TOKEN_ID), 'DeviceManagementApps.Read.All'],
        ['createVppToken', () => api.createVppToken({ token, appleId: 'a@b.example', accountType: 'education' }), 'DeviceManagementApps.ReadWrite.All'],
        ['updateVppToken', () => api.updateVppToken(TOKEN_ID, { token }), 'DeviceManagementApps.ReadWrite.All'],
        ['deleteVppToken', () => api.deleteVppToken(TOKEN_ID), 'DeviceManagementApps.ReadWrite.All'],
        ['syncLicenses', () => api.syncLicenses(TOKEN_ID), 'DeviceManagementApps.ReadWrite.All'],
        ['eBookPages', async () => { for await (const _ of api.eBookPages()) void _; }, 'DeviceManagementApps.Read.All'],
        ['getEBook', () => api.getEBook(BOOK_ID), 'DeviceManagementApps.Read.All'],
        ['listAssignments', () => api.listAssignments(BOOK_ID), 'DeviceManagementApps.Read.All'],
        ['assign', () => api.assign(BOOK_ID, []), 'DeviceManagementApps.ReadWrite.All'],
      ];
      for (const [name, call, permission] of cases) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof IntunePermissionError, `${name}: ${String(err)}`);
        assert.equal(err.permission, permission, name);
        assert.ok(err.userMessage.includes(`needs the Microsoft Graph application permission ${permission} (`), `${name}: ${err.userMessage}`);
        assert.equal(err.code, 'intune_permission_missing');
        assert.equal(err.requestId, 'r-403');
        assert.ok(!err.userMessage.includes('r-403'));
        // The token pages named DeviceManagementServiceConfig.* before DeviceManagementApps.*: a tenant may still want it.
        const older = /VppToken|syncLicenses/.test(name) ? permission.replace('DeviceManagementApps', 'DeviceManagementServiceConfig') : undefined;
        assert.equal(err.userMessage.includes(' as well: older Microsoft pages'), older !== undefined, `${name}: ${err.userMessage}`);
        if (older) assert.ok(err.userMessage.includes(`add ${older} as well`), `${name}: ${err.userMessage}`);
      }
      assert.equal(slept.length, 0, 'a 403 is not retried');
    });

    it('maps 401 and a failed sign-in to an auth error, and an unknown answer to a response error', async () => {
      graph.answer('GET', TOKENS, { status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired.' } } });
      await assert.rejects(client().listVppTokens(), (err: unknown) => err instanceof IntuneAuthError && err.code === 'intune_auth_failed');

      const failing: TokenCredential = { getToken: async () => Promise.reject(new Error('AADSTS7000215: Invalid client secret provided.\nTrace ID: x')) };
      await assert.rejects(client({ credential: failing }).listVppTokens(), (err: unknown) => err instanceof IntuneAuthError && /AADSTS7000215/.test(err.message) && !/Trace ID/.test(err.message));
      assert.equal(graph.requests.length, 1, 'nothing sent without a token');

      graph.answer('GET', TOKENS, { status: 200, body: { value: [{ id: TOKEN_ID, state: 'valid' }] } });
      await assert.rejects(client().listVppTokens(), (err: unknown) => err instanceof IntuneResponseError && err.code === 'intune_bad_response' && /vppTokenAccountType/.test(err.message));
      graph.answer('GET', `${BOOKS}/${BOOK_ID}/installSummary`, { status: 200, headers: { 'content-type': 'text/html' }, body: undefined });
      await assert.rejects(client().installSummary(BOOK_ID), IntuneResponseError);
    });

    it('throws IntuneNotFoundError for a 404 that is no get', async () => {
      graph.answer('GET', `${BETA_BOOKS}/${BOOK_ID}/assignments`, { status: 404, body: { error: { code: 'ResourceNotFound', message: 'gone' } } });
      const err = await client().listAssignments(BOOK_ID).catch((e: unknown) => e);
      assert.ok(err instanceof IntuneNotFoundError);
      assert.equal(err.userMessage, `The book ${BOOK_ID} was not found in Intune. It may have been deleted there; nothing was changed.`);
    });
  });

  describe('configuration', () => {
    it('wants the Graph origin, and credentials for the real Graph', () => {
      assert.throws(() => new IntuneGraphClient({ baseUrl: `${GRAPH}/beta` }), (err: unknown) => err instanceof ConfigError && /origin only/.test(err.message));
      assert.throws(() => new IntuneGraphClient({}), (err: unknown) => err instanceof ConfigError && /managed identity/.test(err.message));
      assert.equal(new IntuneGraphClient({ baseUrl: `${GRAPH}/`, tenantId: 't', clientId: 'c', clientSecret: 's' }).baseUrl, GRAPH);
    });
  });
});
