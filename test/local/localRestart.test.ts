import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { DEMO_TOKEN_FILES } from '../../local/appleSandbox/demoData';
import { PLAYGROUND_BOT_NAME, playgroundChatId, type PlaygroundWindow } from '../../local/playground';
import { startLocalPlaygrounds } from '../../local/startLocalServices';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { ALEX } from '../support/PlaygroundChats';

const FABRIKAM = DEMO_TOKEN_FILES['demo-other-mdm.vpptoken'];

/** Stands in for the bot behind the Playgrounds: keeps the activities they post to it. */
async function fakeBot(): Promise<{ url: string; received: CapturedActivity[]; close(): Promise<void> }> {
  const received: CapturedActivity[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/messages') received.push(JSON.parse(body) as CapturedActivity);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** The Playground's users in the windows' order (alex, megan, adele). */
const WINDOW_USER_IDS = ['user-id-0', 'user-id-1', 'user-id-2'];

/**
 * Types "help" in a Playground window, as its page does, and returns what reached the bot: the chat it
 * came from, who typed, and the bot's name in that chat.
 */
async function typeIn(url: string, userId: string, bot: Awaited<ReturnType<typeof fakeBot>>): Promise<{ chatId: string; user: string; botName: string }> {
  // The Bot Connector call the bot makes to reach a user (bot/ApproverReach.ts): the Playground answers with their personal chat.
  const created = await fetch(`${url}/_connector/v3/conversations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ isGroup: false, bot: { id: 'bot' }, members: [{ id: userId }] }),
  });
  const { id } = (await created.json()) as { id: string };
  const typed = await fetch(`${url}/_conversation/v1/conversations/${encodeURIComponent(id)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'help', textFormat: 'plain', from: { id: userId } }),
  });
  assert.equal(typed.status, 200, await typed.text());
  const activity = await eventually(() => bot.received.find((a) => a.type === 'message' && a.conversation?.id === id));
  const from = activity.from as { id: string; name: string };
  assert.equal(from.id, userId);
  return { chatId: id, user: from.name, botName: (activity.recipient as { name: string }).name };
}

async function eventually<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('local mode across a restart of npm start', function () {
  this.timeout(60_000);
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-local-restart-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('opens the same chats in the Playgrounds after a restart, one per window and data folder, with the bot named VPP Books', async () => {
    const config = loadConfig({ LOCAL_DATA_DIR: dataDir, PLAYGROUND_PORT: '0', PLAYGROUND_APPROVER_PORT: '0', PLAYGROUND_MEMBER_PORT: '0' });
    const bot = await fakeBot();
    const windowsOnce = async () => {
      const playgrounds = await startLocalPlaygrounds(config, bot.url, capturingLogger('warn').logger);
      try {
        const urls = [...playgrounds.banner.matchAll(/(http:\/\/localhost:\d+)/g)].map((m) => m[1] ?? '');
        assert.equal(urls.length, 3, playgrounds.banner);
        return await Promise.all(urls.map((url, i) => typeIn(url, WINDOW_USER_IDS[i] ?? '', bot)));
      } finally {
        await Promise.all(playgrounds.stops.map((stop) => stop()));
      }
    };
    let before, after;
    try {
      before = await windowsOnce();
      after = await windowsOnce();
    } finally {
      await bot.close();
    }

    assert.deepEqual(
      before.map((w) => w.user),
      ['Alex Wilber', 'Megan Bowen', 'Adele Vance'],
    );
    assert.deepEqual(after, before, 'every window opens the chat it had before the restart');
    assert.deepEqual(
      before.map((w) => w.botName),
      [PLAYGROUND_BOT_NAME, PLAYGROUND_BOT_NAME, PLAYGROUND_BOT_NAME],
    );
    assert.equal(PLAYGROUND_BOT_NAME, 'VPP Books');
    assert.equal(new Set(before.map((w) => w.chatId)).size, 3, 'each window its own chat');
    const windows: PlaygroundWindow[] = ['alex', 'megan', 'adele'];
    assert.deepEqual(
      before.map((w) => w.chatId),
      windows.map((w) => playgroundChatId(w, dataDir)),
    );
    const otherFolder = path.join(dataDir, 'other');
    for (const w of windows) assert.notEqual(playgroundChatId(w, otherFolder), playgroundChatId(w, dataDir), 'another data folder, other conversations');
  });

  it('continues a flow in progress in that chat after a restart, and Apple still agrees with the store', async () => {
    const connector = new FakeConnector();
    await connector.start();
    const { logger } = capturingLogger('warn');
    let app: RunningApplication | undefined;
    // The way `npm start` starts the bot (bot/start.ts), without the Playgrounds: the test posts what Alex's would.
    const start = async () => {
      app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, PLAYGROUND_ENABLED: 'false', APPLE_STATUS_POLL_INTERVAL_MS: '20' }), logger);
      return app;
    };
    const conversation = { id: playgroundChatId('alex', dataDir), conversationType: 'personal', tenantId: '00000000-0000-0000-0000-0000000000001' };
    const say = async (text: string, until: (a: CapturedActivity) => boolean): Promise<CapturedActivity> => {
      const reply = connector.waitForNext((a) => a.conversation?.id === conversation.id && until(a));
      const response = await fetch(`${app?.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(teamsMessage(connector.url, text, { from: ALEX, conversation })),
      });
      assert.equal(response.status, 200);
      return reply;
    };
    const fabrikamHolder = async (): Promise<unknown> => {
      const answer = await fetch(`${app?.appleBaseUrl}/client/config`, { headers: { authorization: `Bearer ${FABRIKAM}` } });
      return ((await answer.json()) as { mdmInfo?: { name?: string } }).mdmInfo?.name;
    };
    try {
      await start();
      await say('upload token', (a) => /Send me the/.test(String(a.text)));
      await say(FABRIKAM, (a) => /Which Apple Account/.test(String(a.text)));
      await app?.stop();

      await start();
      const asked = await say('vpp-admin@fabrikam.example', () => true);
      assert.ok(cardText(asked).includes('Apple Business Manager'), `the upload goes on where it was: ${JSON.stringify(asked.text)}`);
      const preview = await say('education', (a) => cardText(a).length > 0);
      assert.ok(cardText(preview).includes('Contoso MDM'), 'Apple says Contoso holds it');
      const saved = await say('take control', (a) => /^Saved/.test(String(a.text)));
      assert.match(String(saved.text), /took control of it from \*\*Contoso MDM\*\*/);
      const holder = await fabrikamHolder();
      assert.notEqual(holder, 'Contoso MDM');
      await app?.stop();

      await start();
      assert.equal(await fabrikamHolder(), holder, 'after the restart Apple still has the token with VPP Books, as the store says');
    } finally {
      await app?.stop();
      await connector.stop();
    }
  });
});
