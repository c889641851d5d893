import { strict as assert } from 'node:assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { SNAPSHOT_FILE_NAME } from '../../local/startLocalServices';
import { loadConfig } from '../../services/config/config';
import { EMBEDDED_COSMOS_KEY } from '../../local/cosmos/EmbeddedCosmos';
import { createCosmosClient } from '../../services/store/cosmosClient';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, teamsMessage } from '../support/FakeConnector';

async function post(app: RunningApplication, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${app.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('bot application over HTTP (local mode)', function () {
  this.timeout(30_000);
  let dataDir: string;
  let app: RunningApplication;
  const connector = new FakeConnector();
  const { logger, lines } = capturingLogger();

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-app-'));
    await connector.start();
    app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir }), logger);
  });

  after(async () => {
    await app?.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('listens on loopback only in local mode', () => {
    assert.match(app.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers "help" with the command card, posted to the conversation', async () => {
    const response = await post(app, teamsMessage(connector.url, 'help'));
    assert.equal(response.status, 200);
    const reply = await connector.waitFor((a) => cardText(a).includes('VPP Books: commands'));
    const text = cardText(reply);
    for (const command of ['upload token', 'tokens', 'sync', 'books', 'assign', 'status', 'approvals', 'cancel']) {
      assert.ok(text.includes(`"title":"${command}"`), `help card lists ${command}`);
    }
  });

  it('strips the Teams @mention before reading the command', async () => {
    const from = connector.activities.length;
    const response = await post(app, teamsMessage(connector.url, '<at>VPP Books</at> help', { conversation: { id: 'channel-1', conversationType: 'channel' } }));
    assert.equal(response.status, 200);
    // CloudAdapter answers the HTTP request after the turn, so the reply is in already.
    const replies = connector.activities.slice(from).filter((a) => a.conversation?.id === 'channel-1');
    assert.equal(replies.length, 1, 'one reply');
    assert.ok(cardText(replies[0]!).includes('VPP Books: commands'), `the help card, not ${JSON.stringify(replies[0]?.text)}`);
  });

  it('greets with a welcome card when the bot is installed', async () => {
    await post(app, {
      ...teamsMessage(connector.url, ''),
      type: 'conversationUpdate',
      conversation: { id: 'install-1', conversationType: 'personal' },
      membersAdded: [{ id: 'bot-id' }],
    });
    const welcome = await connector.waitFor((a) => a.conversation?.id === 'install-1');
    assert.ok(cardText(welcome).includes('Welcome to VPP Books'));
  });

  it('greets a member (not an admin) with the member help when the bot is installed for them', async () => {
    await post(app, {
      ...teamsMessage(connector.url, ''),
      type: 'conversationUpdate',
      from: { id: '29:student', name: 'A student', aadObjectId: '20000000-0000-4000-8000-000000000001' },
      conversation: { id: 'install-2', conversationType: 'personal', tenantId: '00000000-0000-0000-0000-0000000000001' },
      membersAdded: [{ id: 'bot-id' }],
    });
    const welcome = await connector.waitFor((a) => a.conversation?.id === 'install-2');
    assert.ok(cardText(welcome).includes('makes ebooks available to you'), 'the member help');
    assert.ok(!cardText(welcome).includes('Welcome to VPP Books'), 'not the admin welcome');
  });

  it('/healthz says only that the process is up; /readyz reports the store and Apple, without version or mode (the key is `vpp` in either mode)', async () => {
    const live = await fetch(`${app.url}/healthz`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', store: 'up', vpp: 'up' });
  });

  it('rejects a body that is not an activity without crashing', async () => {
    const response = await fetch(`${app.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.ok(response.status >= 400 && response.status < 500);
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'still serving');
  });

  it('answers 400, not 500, to bodies that are not activities', async () => {
    for (const body of [{ text: 'help' }, { ...teamsMessage(connector.url, 'help'), text: 42 }, { ...teamsMessage(connector.url, 'help'), serviceUrl: undefined }]) {
      const response = await post(app, body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(((await response.json()) as { error: string }).error, /^Not a Bot Framework activity/);
    }
  });

  it('writes structured JSON log lines', () => {
    assert.ok(lines.length > 0);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line));
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'bot listening'));
  });
});

describe('local store across restarts', function () {
  this.timeout(30_000);

  it('keeps data written before a restart', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-restart-'));
    const config = loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir });
    const { logger } = capturingLogger();
    try {
      const first = await startApplication(config, logger);
      const client = createCosmosClient({ ...config.cosmos, endpoint: first.cosmosEndpoint, key: EMBEDDED_COSMOS_KEY });
      const { container } = await client.database(config.cosmos.database).containers.createIfNotExists({ id: 'restartProbe', partitionKey: { paths: ['/tenantId'] } });
      await container.items.create({ id: 'probe-1', tenantId: 't1', note: 'written before restart' });
      client.dispose();
      await first.stop();
      await stat(path.join(dataDir, SNAPSHOT_FILE_NAME));

      const second = await startApplication(config, logger);
      const again = createCosmosClient({ ...config.cosmos, endpoint: second.cosmosEndpoint, key: EMBEDDED_COSMOS_KEY });
      const { resource } = await again.database(config.cosmos.database).container('restartProbe').item('probe-1', 't1').read<{ note: string }>();
      again.dispose();
      await second.stop();
      assert.equal(resource?.note, 'written before restart');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
