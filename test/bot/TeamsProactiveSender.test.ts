import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, TurnContext, type Activity } from 'botbuilder';
import { TeamsProactiveSender } from '../../bot/TeamsProactiveSender';
import { ConversationReferenceRecorder } from '../../bot/ConversationReferenceRecorder';
import { ProactiveSendError } from '../../services/notifications/ProactiveSender';
import { notificationCard } from '../../cards/syncCards';
import { TEST_TENANT, TestEnvironment } from '../support/TestEnvironment';
import { reference } from '../support/syncSender';

/** A connector that answers each conversation with a scripted status. */
async function scriptedConnector(statuses: Record<string, { status: number; headers?: Record<string, string>; code?: string; message?: string }>) {
  const received: Array<{ conversationId: string; body: Record<string, unknown> }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const match = /^\/v3\/conversations\/([^/]+)\/activities/.exec(req.url ?? '');
      const conversationId = decodeURIComponent(match?.[1] ?? '');
      const scripted = statuses[conversationId];
      if (scripted) {
        res.writeHead(scripted.status, { 'content-type': 'application/json', ...scripted.headers });
        res.end(JSON.stringify({ error: { code: scripted.code ?? 'Scripted', message: scripted.message ?? 'scripted failure' } }));
        return;
      }
      received.push({ conversationId, body: JSON.parse(body) as Record<string, unknown> });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'sent-1' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { received, url, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

describe('TeamsProactiveSender (CloudAdapter against a local connector)', function () {
  this.timeout(30_000);

  it('posts text or an Adaptive Card into the referenced conversation', async () => {
    const connector = await scriptedConnector({});
    try {
      const sender = new TeamsProactiveSender(new CloudAdapter(new ConfigurationBotFrameworkAuthentication({})), undefined);
      const ref = { ...reference('a:admin', TEST_TENANT, 'admin'), serviceUrl: connector.url };
      await sender.send(ref, { text: 'plain hello' });
      await sender.send(ref, { text: 'card summary', card: notificationCard({ title: 'T', text: 'body' }) });
      assert.equal(connector.received.length, 2);
      assert.equal(connector.received[0]?.body.text, 'plain hello');
      const attachments = connector.received[1]?.body.attachments as Array<{ contentType: string; content: { version: string } }>;
      assert.equal(attachments[0]?.contentType, 'application/vnd.microsoft.card.adaptive');
      assert.equal(attachments[0]?.content.version, '1.5');
      assert.equal(connector.received[1]?.body.summary, 'card summary');
    } finally {
      await connector.close();
    }
  });

  it('throws ProactiveSendError with the HTTP status and Teams\' error code; only 404 and 403 uninstalled/blocked mean gone', async () => {
    const connector = await scriptedConnector({
      removed: { status: 403, code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' },
      blocked: { status: 403, code: 'ConversationBlockedByUser', message: 'User blocked the conversation with the bot.' },
      readOnly: { status: 403, code: 'MessageWritesBlocked', message: 'Thread is blocked for writes.' },
      disabled: { status: 403, code: 'BotDisabledByAdmin', message: 'The tenant admin disabled this bot.' },
      gone: { status: 404, code: 'ConversationNotFound', message: 'Conversation not found.' },
      busy: { status: 429, headers: { 'retry-after': '0' }, code: 'Throttled' },
    });
    try {
      const sender = new TeamsProactiveSender(new CloudAdapter(new ConfigurationBotFrameworkAuthentication({})), '');
      const attempt = async (conversationId: string) => {
        try {
          await sender.send({ ...reference(conversationId, TEST_TENANT), serviceUrl: connector.url }, { text: 'x' });
          return undefined;
        } catch (err) {
          assert.ok(err instanceof ProactiveSendError);
          return err;
        }
      };
      const removed = await attempt('removed');
      assert.equal(removed?.statusCode, 403);
      assert.equal(removed?.code, 'BotNotInConversationRoster');
      assert.equal(removed?.teamsMessage, 'The bot is not part of the conversation roster.');
      assert.match(removed?.message ?? '', /HTTP 403 BotNotInConversationRoster/);
      assert.ok(removed?.conversationGone, 'uninstalled');
      assert.ok((await attempt('blocked'))?.conversationGone, 'blocked by the user');
      const readOnly = await attempt('readOnly');
      assert.equal(readOnly?.code, 'MessageWritesBlocked');
      assert.equal(readOnly?.conversationGone, false, 'writes blocked: keep the reference');
      assert.equal(readOnly?.retryable, false);
      assert.equal((await attempt('disabled'))?.conversationGone, false, 'the tenant admin may turn the bot back on');
      const gone = await attempt('gone');
      assert.equal(gone?.statusCode, 404);
      assert.ok(gone?.conversationGone);
      const busy = await attempt('busy');
      assert.equal(busy?.statusCode, 429);
      assert.ok(busy?.retryable);
      assert.equal(busy?.conversationGone, false);
    } finally {
      await connector.close();
    }
  });
});

describe('ConversationReferenceRecorder', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  function turn(activity: Partial<Activity>): TurnContext {
    const base: Partial<Activity> = {
      type: 'message',
      id: `act-${Math.random()}`,
      channelId: 'msteams',
      serviceUrl: 'https://smba.trafficmanager.net/teams/',
      from: { id: '29:admin', name: 'Admin', aadObjectId: 'admin-aad' },
      recipient: { id: '28:bot', name: 'VPP Books' },
      conversation: { id: 'a:personal-1', isGroup: false, conversationType: 'personal', tenantId: TEST_TENANT, name: '' },
      channelData: { tenant: { id: TEST_TENANT } },
    };
    return new TurnContext(new CloudAdapter(new ConfigurationBotFrameworkAuthentication({})), { ...base, ...activity } as Activity);
  }

  it('saves a personal reference once, ignores repeats, keeps channels by conversation, and deletes on uninstall', async () => {
    const recorder = new ConversationReferenceRecorder(env.store.conversations);
    assert.equal(await recorder.record(turn({})), 'saved');
    assert.equal(await recorder.record(turn({})), 'unchanged', 'a second message writes nothing');
    const stored = await env.store.conversations.getForUser(TEST_TENANT, 'admin-aad');
    assert.equal(stored?.reference.conversation.id, 'a:personal-1');
    assert.equal(stored?.reference.activityId, undefined);

    const channel = { id: '19:channel@thread.tacv2', isGroup: true, conversationType: 'channel', tenantId: TEST_TENANT, name: 'IT' };
    assert.equal(await recorder.record(turn({ type: 'conversationUpdate', conversation: channel })), 'saved');
    assert.equal((await env.store.conversations.listByTenant(TEST_TENANT, 'channel')).length, 1);

    assert.equal(await recorder.record(turn({ type: 'installationUpdate', action: 'remove' })), 'deleted');
    assert.equal(await env.store.conversations.getForUser(TEST_TENANT, 'admin-aad'), undefined);
    assert.equal(await recorder.record(turn({ type: 'conversationUpdate', conversation: channel, membersRemoved: [{ id: '28:bot', name: 'VPP Books' }] })), 'deleted');
    assert.equal((await env.store.conversations.listByTenant(TEST_TENANT)).length, 0);
    assert.equal(await recorder.record(turn({ from: { id: '29:x', name: 'x' } })), 'ignored', 'no Entra id, no admin to reach');
  });

  it('keeps one reference per channel: a message in a channel thread is saved as the channel', async () => {
    const recorder = new ConversationReferenceRecorder(env.store.conversations);
    const tenantId = '00000000-0000-0000-0000-00000000c4a1';
    const channelData = { tenant: { id: tenantId }, team: { id: '19:general@thread.tacv2' }, channel: { id: '19:admins@thread.tacv2' } };
    const inThread = (messageId: string) => turn({ channelData, conversation: { id: `19:admins@thread.tacv2;messageid=${messageId}`, isGroup: true, conversationType: 'channel', tenantId, name: '' } });
    assert.equal(await recorder.record(inThread('1700000000001')), 'saved');
    assert.equal(await recorder.record(inThread('1700000000002')), 'unchanged', 'another thread of the same channel');
    const stored = await env.store.conversations.getForConversation(tenantId, '19:admins@thread.tacv2');
    assert.equal(stored?.reference.conversation.id, '19:admins@thread.tacv2');
    assert.equal((await env.store.conversations.listByTenant(tenantId)).length, 1);
  });

  it('skips the store on repeats it saved lately, and writes again once that memory ages out', async () => {
    let now = 0;
    const recorder = new ConversationReferenceRecorder(env.store.conversations, undefined, () => now);
    const conversation = { id: 'a:personal-memo', isGroup: false, conversationType: 'personal', tenantId: TEST_TENANT, name: '' };
    const from = { id: '29:memo', name: 'Memo', aadObjectId: 'memo-aad' };
    assert.equal(await recorder.record(turn({ conversation, from })), 'saved');
    // Another instance dropped the reference after a 403: this one does not notice while it remembers…
    await env.store.conversations.deleteByConversationId(TEST_TENANT, conversation.id);
    assert.equal(await recorder.record(turn({ conversation, from })), 'unchanged');
    assert.equal(await env.store.conversations.getForUser(TEST_TENANT, 'memo-aad'), undefined);
    // …and saves it again once the memory is older than five minutes.
    now += 5 * 60_000 + 1;
    assert.equal(await recorder.record(turn({ conversation, from })), 'saved');
    assert.ok(await env.store.conversations.getForUser(TEST_TENANT, 'memo-aad'));
  });
});
