import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '../../bot/adapter';
import { TeamsProactiveSender } from '../../bot/TeamsProactiveSender';
import { loadConfig } from '../../services/config/config';
import { ProactiveSendError } from '../../services/notifications/ProactiveSender';
import { capturingLogger } from '../support/logCapture';

describe('the adapter on proactive sends', () => {
  let server: http.Server;
  let url: string;
  const posts: string[] = [];

  before(async () => {
    // A Teams that removed the bot from this chat: every post answers 403.
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push(body);
        res.statusCode = 403;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: { code: 'BotNotInConversationRoster', message: 'removed' } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));

  it('hands the failure to the sender (so the outbox can forget the chat) instead of posting an error message', async () => {
    const { logger, lines } = capturingLogger();
    const sender = new TeamsProactiveSender(createAdapter(loadConfig({}), logger), undefined);
    const reference = { channelId: 'msteams', serviceUrl: url, conversation: { id: 'a:gone' }, bot: { id: 'bot' }, user: { id: 'u' } };
    await assert.rejects(sender.send(reference as Parameters<TeamsProactiveSender['send']>[0], { text: 'Your token expires in 7 days.' }), (err: unknown) => err instanceof ProactiveSendError && err.statusCode === 403);
    assert.equal(posts.length, 1, 'only the notice itself was attempted; no "something went wrong" follow-up');
    assert.ok(!lines.some((l) => l.includes('turn failed')));
  });
});
