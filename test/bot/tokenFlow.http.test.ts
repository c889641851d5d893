import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { DEMO_TOKENS } from '../../local/appleSandbox/demoData';

const TOKEN_FILE = readFileSync(path.resolve(__dirname, '../../local/appleSandbox/tokens/demo-valid.vpptoken'), 'utf8');

describe('token upload over HTTP, across a restart', function () {
  this.timeout(60_000);
  const connector = new FakeConnector();
  const { logger, lines } = capturingLogger();
  let dataDir: string;
  let app: RunningApplication | undefined;

  async function start(): Promise<RunningApplication> {
    app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir }), logger);
    return app;
  }

  /** Posts a message as the Playground's admin and returns the bot's next reply. */
  async function say(body: Record<string, unknown>): Promise<CapturedActivity> {
    const reply = connector.waitForNext();
    const response = await fetch(`${app?.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 200);
    return reply;
  }
  const text = (t: string) => teamsMessage(connector.url, t);

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-token-http-'));
    await connector.start();
  });
  after(async () => {
    await app?.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('continues an upload after the bot restarts, saves it, and lists it', async () => {
    await start();
    assert.match(String((await say(text('upload token'))).text), /Send me the \*\*\.vpptoken\*\* file/);
    const warned = connector.waitForNext((a) => /Which Apple Account/.test(String(a.text)));
    await say(text(TOKEN_FILE));
    await warned;
    await app?.stop();

    await start();
    const accountQuestion = await say(text('vpp-admin@northwind.example'));
    assert.ok(cardText(accountQuestion).includes('Apple Business Manager or an Apple School Manager'), `the flow resumed where it was: ${JSON.stringify(accountQuestion.text)} ${lines.filter((l) => l.includes('"level":5')).join('')}`);
    const preview = await say(text('education'));
    assert.ok(cardText(preview).includes('Northwind Academy'));
    const saved = await say(text('save'));
    assert.match(String(saved.text), /^Saved \*\*Northwind Academy/);
    const list = await say(text('tokens'));
    assert.ok(cardText(list).includes('VPP tokens (1)'));
  });

  it('never writes the token to logs, chat replies or the data folder', async () => {
    await app?.stop();
    app = undefined;
    const secrets = [TOKEN_FILE.trim(), DEMO_TOKENS.valid.token];
    const replies = JSON.stringify(connector.activities);
    const files = await readdir(dataDir);
    const stored = (await Promise.all(files.map((f) => readFile(path.join(dataDir, f), 'utf8')))).join('\n');
    assert.ok(stored.includes('Northwind Academy'), 'the snapshot holds the token record');
    for (const secret of secrets) {
      assert.ok(!lines.some((l) => l.includes(secret)), 'no log line holds the token');
      assert.ok(!replies.includes(secret), 'no chat reply holds the token');
      assert.ok(!stored.includes(secret), 'nothing in the data folder holds the token');
    }
  });
});
