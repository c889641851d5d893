import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Activity } from 'botbuilder';
import { createAdapter } from '../../bot/adapter';
import { ClientCache } from '../../bot/ReusedConnectorClients';
import { loadConfig } from '../../services/config/config';
import { silentLogger } from '../../services/logging/logger';

interface Connector {
  url: string;
  texts: string[];
  close(): Promise<void>;
}

/** A Bot Framework connector that records the text of every reply posted to it. */
async function startConnector(): Promise<Connector> {
  const texts: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      texts.push((JSON.parse(body) as { text?: string }).text ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: `r${texts.length}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    texts,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('connector clients reused across turns', () => {
  it('still answers every conversation at its own service URL', async () => {
    const [east, west] = await Promise.all([startConnector(), startConnector()]);
    try {
      const adapter = createAdapter(loadConfig({}), silentLogger());
      const turn = (connector: Connector, text: string) =>
        adapter.processActivityDirect(
          '',
          { type: 'message', id: text, channelId: 'msteams', serviceUrl: connector.url, text, from: { id: 'u' }, recipient: { id: 'bot' }, conversation: { id: `c-${text}` } } as Activity,
          async (context) => {
            await context.sendActivity(`reply to ${text}`);
          },
        );
      for (let i = 0; i < 3; i++) {
        await turn(east, `east ${i}`);
        await turn(west, `west ${i}`);
      }
      assert.deepEqual(east.texts, ['reply to east 0', 'reply to east 1', 'reply to east 2']);
      assert.deepEqual(west.texts, ['reply to west 0', 'reply to west 1', 'reply to west 2']);
    } finally {
      await Promise.all([east.close(), west.close()]);
    }
  });

  it('creates one client per key, and tries again after a creation that failed', async () => {
    const cache = new ClientCache<{ n: number }>();
    let created = 0;
    const make = async () => ({ n: ++created });
    const first = await cache.get('a', make);
    assert.equal(await cache.get('a', make), first);
    assert.notEqual(await cache.get('b', make), first);
    assert.equal(created, 2);

    await assert.rejects(cache.get('broken', () => Promise.reject(new Error('login endpoint down'))));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(await cache.get('broken', make), { n: 3 });
  });
});
