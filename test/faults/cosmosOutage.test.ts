import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig, PLAYGROUND_ADMIN_USER_ID, PLAYGROUND_TENANT_ID } from '../../services/config/config';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { FaultsProxy } from '../support/faultsProxy';
import { freePort } from '../support/ports';

const ALEX = { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: PLAYGROUND_ADMIN_USER_ID };
const conversation = { id: 'alex-chat', conversationType: 'personal', tenantId: PLAYGROUND_TENANT_ID };

interface Readiness {
  status: string;
  store: 'up' | 'down';
}

describe('Cosmos outage and throttling (bot in-process, Cosmos the test controls)', function () {
  this.timeout(60_000);
  const connector = new FakeConnector();
  const { logger, lines } = capturingLogger('warn');
  let dataDir: string;
  let app: RunningApplication | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-faults-cosmos-'));
    await connector.start();
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });
  after(async () => {
    if (process.env.DEBUG_FAULTS) for (const l of lines) console.log(l.slice(0, 800));
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function say(text: string, timeoutMs = 20_000): Promise<{ status: number; reply: CapturedActivity }> {
    assert.ok(app);
    const reply = connector.waitForNext((a) => a.conversation?.id === 'alex-chat' && a.type === 'message', timeoutMs);
    const response = await fetch(`${app.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...teamsMessage(connector.url, text), from: ALEX, conversation }),
    });
    return { status: response.status, reply: await reply };
  }
  async function readiness(): Promise<{ status: number; body: Readiness }> {
    assert.ok(app);
    const response = await fetch(`${app.url}/readyz`);
    return { status: response.status, body: (await response.json()) as Readiness };
  }

  it('Cosmos down: /readyz 503 (/healthz still 200), a message gets a clear reply, and it all works again once Cosmos is back, without a restart', async () => {
    const port = await freePort();
    const snapshotFile = path.join(dataDir, 'outage-snapshot.json');
    let cosmos = new EmbeddedCosmos({ port, snapshotFile });
    await cosmos.start();
    try {
      // Readiness checks Cosmos at most every 30 s in production; here every probe checks, to see the outage at once.
      app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, COSMOS_ENDPOINT: cosmos.endpoint }), logger, { healthMaxAgeMs: 0 });
      assert.equal((await readiness()).status, 200);
      const before = await say('help');
      assert.equal(before.status, 200);

      await cosmos.stop();
      const down = await readiness();
      assert.equal(down.status, 503);
      assert.equal(down.body.store, 'down');
      assert.equal(down.body.status, 'unavailable');
      assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'alive: nothing for the platform to restart');

      const during = await say('books');
      assert.equal(during.status, 200);
      assert.match(String(during.reply.text), /^I cannot reach my database right now, so nothing was changed\. Please try again.*incident \w+/, 'a clear answer, not silence or a stack trace');
      assert.equal((await readiness()).status, 503, 'the process is still up and answering');

      // Same port, contents restored from the snapshot: as if the database came back.
      cosmos = new EmbeddedCosmos({ port, snapshotFile });
      await cosmos.start();
      const up = await readiness();
      assert.equal(up.status, 200);
      assert.equal(up.body.store, 'up');
      const after = await say('help');
      assert.equal(after.status, 200);
      assert.doesNotMatch(String(after.reply.text), /went wrong|unavailable/i);
    } finally {
      await app?.stop();
      app = undefined;
      await cosmos.stop();
    }
  });

  it('a Cosmos 429 storm: the SDK waits out x-ms-retry-after-ms and the turn still succeeds', async () => {
    const cosmos = new EmbeddedCosmos();
    await cosmos.start();
    const proxy = await new FaultsProxy(cosmos.endpoint).start();
    try {
      app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, COSMOS_ENDPOINT: proxy.url }), logger);
      const from = proxy.requests.length;
      let throttled = 0;
      proxy.decide = () =>
        throttled++ < 6
          ? { status: 429, headers: { 'x-ms-retry-after-ms': '10', 'x-ms-substatus': '3200' }, body: JSON.stringify({ code: 'TooManyRequests', message: 'Request rate is large' }) }
          : 'forward';
      const turn = await say('books');
      assert.equal(turn.status, 200);
      assert.doesNotMatch(String(turn.reply.text), /went wrong/i);
      assert.ok(throttled > 6, 'the bot got its 429s and then went on');
      assert.ok(proxy.requests.length - from > 6, 'requests were retried after the throttle');
    } finally {
      await app?.stop();
      app = undefined;
      await proxy.stop();
      await cosmos.stop();
    }
  });
});
