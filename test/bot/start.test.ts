import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BotProcess } from '../support/BotProcess';
import { freePort } from '../support/ports';
import { canListSockets, listeningSockets } from '../support/listeningSockets';
import { SNAPSHOT_FILE_NAME } from '../../local/startLocalServices';

describe('npm start (process level)', function () {
  this.timeout(90_000);

  it('stops with one line naming the variable when the configuration is wrong', async () => {
    const result = await new BotProcess({ PORT: 'not-a-port', PLAYGROUND_ENABLED: 'false' }).start().wait();
    assert.equal(result.code, 2);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /^Invalid configuration: PORT: /);
  });

  it('refuses production mode without app credentials', async () => {
    const result = await new BotProcess({ MicrosoftAppId: '11111111-1111-1111-1111-111111111111', PLAYGROUND_ENABLED: 'false' }).start().wait();
    assert.equal(result.code, 2);
    assert.match(result.stderr, /MicrosoftAppPassword is required/);
  });

  it('starts the bot with embedded services and the Playground, then shuts down cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-start-'));
    const port = await freePort();
    const playgroundPort = await freePort();
    const approverPort = await freePort();
    const memberPort = await freePort();
    const bot = new BotProcess({
      PORT: String(port),
      PLAYGROUND_PORT: String(playgroundPort),
      PLAYGROUND_APPROVER_PORT: String(approverPort),
      PLAYGROUND_MEMBER_PORT: String(memberPort),
      LOCAL_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    }).start();
    try {
      const [, chatUrl] = await bot.waitForOutput(/Open the chat: (http:\/\/localhost:\d+)/);
      assert.equal(chatUrl, `http://localhost:${playgroundPort}`);
      await bot.waitForOutput(new RegExp(`Approve assignments as Megan Bowen: http://localhost:${approverPort}`));
      const approverPage = await fetch(`http://localhost:${approverPort}`);
      assert.equal(approverPage.status, 200, 'the second Playground (signed in as Megan) is up');
      await bot.waitForOutput(new RegExp(`Get books as Adele Vance, a member \\(type "my books"\\): http://localhost:${memberPort}`));
      assert.equal((await fetch(`http://localhost:${memberPort}`)).status, 200, 'the third Playground (signed in as Adele, a member) is up');
      const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string };
      assert.equal(health.status, 'ok');
      const page = await fetch(chatUrl ?? '');
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Agents Playground/);

      // Local mode skips authentication: nothing it starts may be reachable from another machine.
      if (canListSockets && bot.pid !== undefined) {
        const sockets = listeningSockets(bot.pid);
        const ports = new Set(sockets.map((s) => s.port));
        for (const expected of [port, playgroundPort, approverPort, memberPort]) assert.ok(ports.has(expected), `port ${expected} is among the listeners: ${JSON.stringify(sockets)}`);
        // The bot, the local Cosmos server, the Apple sandbox, the directory and three Playgrounds.
        assert.ok(sockets.length >= 7, `every local listener was found: ${JSON.stringify(sockets)}`);
        const exposed = sockets.filter((s) => s.address !== '127.0.0.1');
        assert.deepEqual(exposed, [], 'every local listener binds 127.0.0.1');
      }

      const result = await bot.stop('SIGTERM');
      assert.equal(result.code, 0, result.stderr);
      assert.ok(existsSync(path.join(dataDir, SNAPSHOT_FILE_NAME)), 'the local store was saved on shutdown');
      await assert.rejects(fetch(chatUrl ?? ''), 'the Playground child process is gone too');
    } finally {
      await bot.stop('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
