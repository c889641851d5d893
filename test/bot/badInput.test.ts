import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig, type AppConfig } from '../../services/config/config';
import { createCosmosClient } from '../../services/store/cosmosClient';
import { EMBEDDED_COSMOS_KEY } from '../../local/cosmos/EmbeddedCosmos';
import { DEMO_TOKEN_FILES } from '../../local/appleSandbox/demoData';
import { MAX_TOKEN_FILE_BYTES } from '../../services/apple/VppTokenFile';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { FileServer } from '../support/FileServer';

const TENANT = '00000000-0000-0000-0000-0000000000001';
/** Adele Vance: a Playground user who is neither admin nor approver in local mode. */
const NOT_AN_ADMIN = '00000000-0000-0000-0000-0000000000022';
const TEAMS_FILE = 'application/vnd.microsoft.teams.file.download.info';
const FUZZ_RUNS = 40;

/** Cosmos bookkeeping fields that change on every read-back or replace. */
const VOLATILE = new Set(['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn']);

/** A file server for attachment links: a redirect off the site, the demo token, and an oversized body. */
function attachmentServer(): FileServer {
  const files = new FileServer();
  files.routes.set('/redirect', (_req, res) => {
    res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
    res.end();
  });
  files.routes.set('/token', (_req, res) => res.end(DEMO_TOKEN_FILES['demo-valid.vpptoken']));
  files.routes.set('/huge', (_req, res) => {
    // 8 MiB without a content-length: only the reader's cap stops it.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let sent = 0;
    const pump = () => {
      while (sent < 8 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  });
  return files;
}

describe('bad input over HTTP (local mode)', function () {
  this.timeout(60_000);
  const connector = new FakeConnector();
  const files = attachmentServer();
  const { logger, lines } = capturingLogger('warn');
  let dataDir: string;
  let config: AppConfig;
  let app: RunningApplication;
  let conversationCounter = 0;
  let tokenId = '';
  let storeBefore: Map<string, string>;

  /** Every store document but dialog state, keyed by container/id, with Cosmos bookkeeping removed. */
  async function storeContents(): Promise<Map<string, string>> {
    const client = createCosmosClient({ ...config.cosmos, endpoint: app.cosmosEndpoint, key: EMBEDDED_COSMOS_KEY });
    try {
      const database = client.database(config.cosmos.database);
      const { resources: containers } = await database.containers.readAll().fetchAll();
      const contents = new Map<string, string>();
      for (const { id: containerId } of containers) {
        const { resources } = await database.container(containerId).items.readAll<Record<string, unknown>>().fetchAll();
        for (const doc of resources) {
          // Dialog state changes on every turn by design; where to reply is remembered for any sender.
          if (containerId === 'botState' || containerId === 'conversations') continue;
          // Refusals are audited on purpose; anything else in the audit log means something happened.
          if (containerId === 'audit' && doc.outcome === 'refused') continue;
          const stable = Object.fromEntries(Object.entries(doc).filter(([k]) => !VOLATILE.has(k)));
          contents.set(`${containerId}/${String(doc.id)}`, JSON.stringify(stable));
        }
      }
      return contents;
    } finally {
      client.dispose();
    }
  }

  function conversation(kind = 'personal'): { id: string; conversationType: string; tenantId: string } {
    conversationCounter += 1;
    return { id: `bad-input-${conversationCounter}`, conversationType: kind, tenantId: TENANT };
  }

  function message(conv: { id: string }, text: string | undefined, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const body = teamsMessage(connector.url, text ?? '', { conversation: conv, ...overrides });
    if (text === undefined) delete body.text;
    return body;
  }

  async function postRaw(body: string | Buffer, contentType: string | undefined): Promise<Response> {
    return fetch(`${app.url}/api/messages`, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
  }

  /** Posts one activity; returns the HTTP status and what the bot said in that conversation. */
  async function exchange(body: Record<string, unknown>): Promise<{ status: number; replies: CapturedActivity[] }> {
    const conversationId = (body.conversation as { id?: string } | undefined)?.id;
    const before = connector.activities.length;
    const response = await postRaw(JSON.stringify(body), 'application/json');
    await response.arrayBuffer();
    // CloudAdapter answers the HTTP request after the turn, so the replies are already here.
    const replies = connector.activities.slice(before).filter((a) => a.conversation?.id === conversationId);
    return { status: response.status, replies };
  }

  const replyText = (a: CapturedActivity) => `${a.text ?? ''}${cardText(a)}`;
  const GENERIC_FAILURE = /Something went wrong on my side/;

  async function startUpload(conv: { id: string }): Promise<void> {
    const { replies } = await exchange(message(conv, 'upload token'));
    assert.match(replyText(replies[0] ?? { type: 'none' }), /Send me the \*\*\.vpptoken\*\* file/);
  }

  /** A refusal of the file: one reply, specific (not the generic incident text), and the flow ended. */
  function assertRefusedFile(result: { status: number; replies: CapturedActivity[] }, detail: string): void {
    assert.equal(result.status, 200, detail);
    assert.ok(result.replies.length >= 1, `a reply for ${detail}`);
    const text = result.replies.map(replyText).join('\n');
    assert.doesNotMatch(text, /Which Apple Account/, `the flow did not go on for ${detail}`);
    assert.doesNotMatch(text, GENERIC_FAILURE, `a specific reason for ${detail}: ${text}`);
  }

  /** Posts an invoke; returns the HTTP status, the invoke response body, and any messages sent in the conversation. */
  async function invoke(name: string, value: unknown): Promise<{ status: number; body: unknown; replies: CapturedActivity[] }> {
    const conv = conversation();
    const before = connector.activities.length;
    const response = await postRaw(JSON.stringify({ ...message(conv, undefined), type: 'invoke', name, value }), 'application/json');
    const text = await response.text();
    const replies = connector.activities.slice(before).filter((a) => a.conversation?.id === conv.id);
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined, replies };
  }

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-bad-input-'));
    await connector.start();
    await files.start();
    // Hundreds of messages from one user in seconds: the rate limits (test/bot/flood.http.test.ts) would answer most of them.
    config = loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', RATE_LIMIT_USER_PER_MINUTE: '0', RATE_LIMIT_CONVERSATION_PER_MINUTE: '0' });
    app = await startApplication(config, logger);

    // One real token, so forged clicks have something they could damage.
    const conv = conversation();
    await startUpload(conv);
    await exchange(message(conv, DEMO_TOKEN_FILES['demo-valid.vpptoken']));
    await exchange(message(conv, 'vpp-admin@northwind.example'));
    await exchange(message(conv, 'education'));
    const saved = await exchange(message(conv, 'save'));
    assert.match(String(saved.replies[0]?.text), /^Saved \*\*Northwind Academy/);
    storeBefore = await storeContents();
    const tokenKey = [...storeBefore.keys()].find((k) => k.startsWith('tokens/'));
    assert.ok(tokenKey, 'the seeded token is stored');
    tokenId = tokenKey.slice('tokens/'.length);
  });

  after(async () => {
    await app?.stop();
    await files.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('HTTP bodies the adapter must refuse', () => {
    const cases: Array<{ name: string; body: () => string | Buffer; contentType: string | undefined; status: number }> = [
      { name: 'malformed JSON', body: () => '{"type":"message",', contentType: 'application/json', status: 400 },
      { name: 'an empty body', body: () => '', contentType: 'application/json', status: 400 },
      { name: 'a JSON array', body: () => '[{"type":"message"}]', contentType: 'application/json', status: 400 },
      { name: 'JSON null', body: () => 'null', contentType: 'application/json', status: 400 },
      { name: 'a JSON string', body: () => '"help"', contentType: 'application/json', status: 400 },
      { name: 'text/plain', body: () => JSON.stringify(message(conversation(), 'help')), contentType: 'text/plain', status: 400 },
      { name: 'no content type', body: () => JSON.stringify(message(conversation(), 'help')), contentType: undefined, status: 400 },
      { name: 'application/octet-stream', body: () => Buffer.from([0, 1, 2, 3, 255]), contentType: 'application/octet-stream', status: 400 },
      // restify's body parser refuses it before the activity check reads it: Payload Too Large.
      { name: 'a body over the 1 MiB cap', body: () => JSON.stringify(message(conversation(), 'x'.repeat(1024 * 1024 + 10))), contentType: 'application/json', status: 413 },
      // The activity check in bot/server.ts refuses these before botbuilder, which would throw (a 500).
      { name: 'an activity without a type', body: () => JSON.stringify({ ...message(conversation(), 'help'), type: undefined }), contentType: 'application/json', status: 400 },
      { name: 'an activity whose type is a number', body: () => JSON.stringify({ ...message(conversation(), 'help'), type: 7 }), contentType: 'application/json', status: 400 },
      { name: 'XML', body: () => '<activity type="message"/>', contentType: 'application/xml', status: 400 },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} with ${c.status} without running a turn`, async () => {
        const before = connector.activities.length;
        const response = await postRaw(c.body(), c.contentType);
        await response.arrayBuffer();
        assert.equal(response.status, c.status);
        assert.equal(connector.activities.length, before, 'no reply was sent');
      });
    }

    it('answers a large but allowed message (900 KB of text) like any unknown text', async () => {
      const result = await exchange(message(conversation(), 'x'.repeat(900 * 1024)));
      assert.equal(result.status, 200);
      assert.match(String(result.replies[0]?.text), /I don't know that command/);
    });
  });

  describe('activities with missing or wrong fields', () => {
    it('answers an activity without text or value with the way to get help', async () => {
      const result = await exchange(message(conversation(), undefined));
      assert.match(String(result.replies[0]?.text), /Type \*\*help\*\*/);
    });

    it('answers a message without a sender (no admin to check) without running a flow', async () => {
      const result = await exchange(message(conversation(), 'tokens', { from: undefined }));
      assert.equal(result.status, 200);
      assert.equal(result.replies.length, 1);
      assert.match(replyText(result.replies[0]!), /I cannot tell who you are/);
      assert.ok(!result.replies.some((a) => cardText(a).includes('VPP tokens (')), 'the token list is not shown');
    });

    it('refuses a non-admin and a user of another tenant, with a polite message', async () => {
      const stranger = await exchange(message(conversation(), 'tokens', { from: { id: 'u2', name: 'Megan', aadObjectId: NOT_AN_ADMIN } }));
      assert.equal(stranger.replies.length, 1);
      assert.match(replyText(stranger.replies[0]!), /^Sorry, only VPP Books admins can do that/);
      const otherTenantConv = { ...conversation(), tenantId: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };
      const outsider = await exchange(message(otherTenantConv, 'tokens', { channelData: { tenant: { id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' } } }));
      assert.equal(outsider.replies.length, 1);
      assert.match(replyText(outsider.replies[0]!), /^Sorry, this bot only serves its own organisation/);
    });

    it('refuses text of the wrong type with a 400 before botbuilder sees it', async () => {
      const result = await exchange({ ...message(conversation(), 'help'), text: 42 });
      assert.equal(result.status, 400);
      assert.equal(result.replies.length, 0);
    });

    it('ignores attachments that are not a list or not attachments', async () => {
      for (const attachments of ['not a list', [null], [42], [{ contentType: 7 }], [{ contentType: TEAMS_FILE, content: 'x' }]]) {
        const result = await exchange(message(conversation(), 'help', { attachments }));
        assert.equal(result.status, 200, JSON.stringify(attachments));
        assert.ok(result.replies.some((a) => cardText(a).includes('VPP Books: commands')), JSON.stringify(attachments));
      }
    });

    it('refuses activities it cannot answer into (no conversation, unusable serviceUrl) with a 400 and no turn', async () => {
      for (const body of [message(conversation(), 'help', { conversation: undefined }), message(conversation(), 'help', { serviceUrl: 'not a url' })]) {
        const before = connector.activities.length;
        const result = await exchange(body);
        assert.equal(result.status, 400, JSON.stringify(body).slice(0, 120));
        assert.equal(connector.activities.length, before, 'no reply was sent');
      }
    });

    it('accepts an activity of an unknown type without answering it', async () => {
      const result = await exchange(message(conversation(), 'help', { type: 'somethingElse' }));
      assert.equal(result.status, 200);
      assert.equal(result.replies.length, 0);
    });

    it('answers a message without a channel id like any other', async () => {
      const result = await exchange(message(conversation(), 'help', { channelId: undefined }));
      assert.equal(result.status, 200);
      assert.equal(result.replies.length, 1);
      assert.match(cardText(result.replies[0]!), /VPP Books: commands/);
    });
  });

  describe('unknown commands and random text (fuzzed)', () => {
    it('answers every random text with one reply and never echoes it', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 2000 }), async (text) => {
          const result = await exchange(message(conversation(), text));
          assert.equal(result.status, 200);
          assert.ok(result.replies.length >= 1, 'a reply');
          assert.ok(!result.replies.some((a) => GENERIC_FAILURE.test(String(a.text))), `no incident for ${JSON.stringify(text).slice(0, 80)}`);
          const trimmed = text.trim();
          if (trimmed.length >= 24) assert.ok(!result.replies.some((a) => JSON.stringify(a).includes(trimmed)), 'the text is not echoed');
        }),
        { numRuns: FUZZ_RUNS },
      );
    });

    it('answers unknown and irrevocable commands with a clear message', async () => {
      assert.match(String((await exchange(message(conversation(), 'frobnicate the books'))).replies[0]?.text), /I don't know that command/);
      for (const word of ['revoke', 'unassign', 'reclaim']) {
        assert.match(String((await exchange(message(conversation(), `${word} all`))).replies[0]?.text), /cannot be reclaimed/);
      }
    });
  });

  describe('token files pasted or attached in the upload flow', () => {
    const tokenish = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 600 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value)).toString('base64')),
      fc
        .record({ token: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), expDate: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), orgName: fc.string() }, { requiredKeys: [] })
        .map((value) => Buffer.from(JSON.stringify(value)).toString('base64')),
      fc.string({ minLength: 1, maxLength: 300 }),
    );

    it('refuses random base64, random JSON and near-token files with a specific reason', async () => {
      await fc.assert(
        fc.asyncProperty(tokenish, async (pasted) => {
          if (!pasted.trim() || ['cancel', 'stop', 'help', '?'].includes(pasted.trim().toLowerCase())) return;
          const conv = conversation();
          await startUpload(conv);
          const result = await exchange(message(conv, pasted));
          assertRefusedFile(result, JSON.stringify(pasted).slice(0, 80));
          if (pasted.trim().length >= 24) assert.ok(!JSON.stringify(result.replies).includes(pasted.trim()), 'the pasted text is not echoed');
        }),
        { numRuns: FUZZ_RUNS },
      );
    });

    it('refuses a pasted text or inline attachment over the token file size cap', async () => {
      const huge = 'A'.repeat(MAX_TOKEN_FILE_BYTES * 4);
      let conv = conversation();
      await startUpload(conv);
      assertRefusedFile(await exchange(message(conv, huge)), 'huge pasted text');
      conv = conversation();
      await startUpload(conv);
      assertRefusedFile(await exchange(message(conv, '', { attachments: [{ contentType: 'application/octet-stream', name: 'big.vpptoken', content: huge }] })), 'huge inline attachment');
    });

    it('refuses an attachment link that redirects off the site, never following it', async () => {
      const conv = conversation();
      await startUpload(conv);
      files.requests = [];
      const result = await exchange(message(conv, '', { attachments: [{ contentType: TEAMS_FILE, name: 'x.vpptoken', content: { downloadUrl: `${files.url}/redirect` } }] }));
      assertRefusedFile(result, 'redirecting link');
      assert.match(String(result.replies[0]?.text), /redirected/);
      assert.deepEqual(files.requests, ['/redirect']);
    });

    it('stops downloading an attachment far over the size cap', async () => {
      const conv = conversation();
      await startUpload(conv);
      const result = await exchange(message(conv, '', { attachments: [{ contentType: TEAMS_FILE, name: 'huge.vpptoken', content: { downloadUrl: `${files.url}/huge` } }] }));
      assertRefusedFile(result, 'huge download');
      assert.match(String(result.replies[0]?.text), /larger than/);
    });

    it('refuses attachment links that are broken, unreachable or of another scheme', async () => {
      for (const downloadUrl of ['not a url', 'file:///etc/passwd', 'http://127.0.0.1:1/token', `${files.url}/missing`, 'https://127.0.0.1.nip.io/token', 'http://10.0.0.5/token']) {
        const conv = conversation();
        await startUpload(conv);
        const result = await exchange(message(conv, '', { attachments: [{ contentType: TEAMS_FILE, name: 'x.vpptoken', content: { downloadUrl } }] }));
        assertRefusedFile(result, downloadUrl);
      }
    });

    it('refuses a malformed data: link with a specific reason and stores nothing', async () => {
      const conv = conversation();
      await startUpload(conv);
      const result = await exchange(message(conv, '', { attachments: [{ contentType: TEAMS_FILE, content: { downloadUrl: 'data:text/plain,%E0%A4%A' } }] }));
      assertRefusedFile(result, 'malformed data: URL');
      assert.match(replyText(result.replies[0]!), /its inline data is malformed/);
    });
  });

  describe('card submissions', () => {
    it('answers random card values with a reply and changes nothing', async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.object(), fc.jsonValue(), fc.record({ command: fc.string(), tokenId: fc.anything() }, { requiredKeys: [] })), async (value) => {
          const result = await exchange(message(conversation(), undefined, { value }));
          assert.equal(result.status, 200);
          assert.ok(result.replies.length >= 1, `a reply for ${JSON.stringify(value).slice(0, 80)}`);
        }),
        { numRuns: FUZZ_RUNS },
      );
    });

    it('says a forged or stale token id no longer exists', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('remove', 'renew', 'sync'), fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/)), async (command, forgedId) => {
          // Ids of dots only cannot name a document; the test below covers them.
          if (forgedId === tokenId || /^\.+$/.test(forgedId)) return;
          const result = await exchange(message(conversation(), undefined, { value: { command, tokenId: forgedId } }));
          assert.equal(result.status, 200);
          const text = result.replies.map(replyText).join('\n');
          assert.ok(result.replies.length >= 1);
          assert.doesNotMatch(text, GENERIC_FAILURE, `${command} ${JSON.stringify(forgedId)}: ${text}`);
          assert.doesNotMatch(text, /Remove \*\*|remove the token/i, 'no removal was offered');
          if (command !== 'sync') assert.match(text, /no longer exists/, `${command} ${JSON.stringify(forgedId)}: ${text}`);
        }),
        { numRuns: 30 },
      );
    });

    it('answers token ids a store cannot hold (/, \\, #, blank) with a reply and changes nothing', async () => {
      // The submission schema refuses ids no token can have, so they never reach Cosmos.
      for (const forgedId of [' ', 'a/b', 'a\\b', '#1', '../tokens', '.', '..']) {
        const result = await exchange(message(conversation(), undefined, { value: { command: 'remove', tokenId: forgedId } }));
        assert.equal(result.status, 200);
        assert.equal(result.replies.length, 1, JSON.stringify(forgedId));
      }
    });

    it('ignores a click with the wrong ref and keeps the token', async () => {
      const conv = conversation();
      const question = await exchange(message(conv, 'remove'));
      assert.ok(question.replies.length >= 1);
      for (const value of [{ choice: 'remove', ref: 'forged-ref' }, { choice: 'remove' }, { choice: 'remove', ref: 42 }, { choice: 'delete-everything', ref: 'x' }]) {
        const result = await exchange(message(conv, undefined, { value }));
        assert.equal(result.status, 200);
        assert.ok(!result.replies.some((a) => /^Removed/.test(String(a.text))), `not removed by ${JSON.stringify(value)}`);
      }
      await exchange(message(conv, 'cancel'));
      const stale = await exchange(message(conversation(), undefined, { value: { choice: 'remove', ref: 'forged-ref' } }));
      assert.match(String(stale.replies[0]?.text), /no longer active/);
    });

    it('answers forged Universal Actions (Action.Execute) with the approval card refusal and sends no message', async () => {
      const verbOrGarbage = fc.oneof(fc.constantFrom('approve', 'reject', 'refresh', 'withdraw', 'resend'), fc.string(), fc.anything());
      await fc.assert(
        fc.asyncProperty(verbOrGarbage, fc.anything(), async (verb, data) => {
          const result = await invoke('adaptiveCard/action', { action: { type: 'Action.Execute', verb, data } });
          assert.equal(result.status, 200, `status for ${JSON.stringify({ verb, data })?.slice(0, 120)}`);
          assert.match(JSON.stringify(result.body), /That action is not one this bot offers, so nothing was changed/);
          assert.equal(result.replies.length, 0);
        }),
        { numRuns: 20 },
      );
    });

    it('answers a well-formed approval click for a request that does not exist with "does not exist"', async () => {
      const result = await invoke('adaptiveCard/action', { action: { type: 'Action.Execute', verb: 'approve', data: { approvalId: '3f0e3c9a-4b2d-4c8e-9f1a-2b3c4d5e6f70' } } });
      assert.equal(result.status, 200);
      assert.match(JSON.stringify(result.body), /This approval request does not exist in your organisation/);
      assert.equal(result.replies.length, 0);
    });

    it('refuses an adaptiveCard/action invoke without a value, without an action, or of another action type with a 400', async () => {
      // botbuilder reads value.action.type unchecked: a value without an action object used to crash the turn (a 501 and an incident message).
      for (const value of [undefined, '', {}, { action: null }, { verb: 'approve' }, 'approve', 42, true, [], { action: { type: 'Action.Submit', verb: 'approve' } }, { action: 7 }]) {
        const result = await invoke('adaptiveCard/action', value);
        assert.equal(result.status, 400, JSON.stringify(value));
        assert.equal(result.replies.length, 0);
      }
    });

    it('answers invokes it has no handler for (task modules, message extensions, unknown names) with 501 and no message', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('task/fetch', 'composeExtension/query', 'unknown/thing'), fc.anything(), async (name, value) => {
          const result = await invoke(name, value);
          assert.equal(result.status, 501, `status for ${name}`);
          assert.equal(result.replies.length, 0);
        }),
        { numRuns: 20 },
      );
    });
  });

  describe('afterwards', () => {
    it('changed nothing in the store: the seeded token is intact and only refusals were audited', async () => {
      const after = await storeContents();
      assert.deepEqual([...after.keys()].sort(), [...storeBefore.keys()].sort(), 'no document added or removed');
      for (const [key, doc] of storeBefore) assert.equal(after.get(key), doc, `${key} unchanged`);
    });

    it('is still up: /healthz answers 200 and help still works', async () => {
      assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
      const result = await exchange(message(conversation(), 'help'));
      assert.ok(result.replies.some((a) => cardText(a).includes('VPP Books: commands')));
      assert.ok(!lines.some((l) => /"level":60/.test(l)), 'nothing fatal was logged');
    });
  });
});
