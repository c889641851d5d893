import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import { startApplication, type RunningApplication } from '../../bot/application';
import { RATE_LIMITED_TEXT } from '../../bot/TurnRateLimiter';
import { loadConfig, PLAYGROUND_MEMBER_USER_ID, type AppConfig } from '../../services/config/config';
import { createCosmosClient, openDatabase } from '../../services/store/cosmosClient';
import { EMBEDDED_COSMOS_KEY } from '../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../services/store/Store';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, teamsMessage } from '../support/FakeConnector';
import { ALEX, PlaygroundChats, chatOf, conversationOf, type ChatUser } from '../support/PlaygroundChats';

/** Adele Vance: a Playground user who is neither admin nor approver in local mode. */
const ADELE: ChatUser = { id: 'user-id-2', name: 'Adele Vance', aadObjectId: PLAYGROUND_MEMBER_USER_ID };

/**
 * A script floods the bot over HTTP with the bot's default limits (30 messages a minute per user): one
 * polite notice, then silence; a bounded number of audit documents; everyone else still served. The
 * limits' clock stands still until the test moves it, so the flood is one minute however long it takes.
 */
describe('a flood of messages over HTTP (default rate limits)', function () {
  this.timeout(120_000);
  const connector = new FakeConnector();
  const { logger, lines } = capturingLogger('warn');
  let dataDir: string;
  let config: AppConfig;
  let app: RunningApplication;
  let cosmos: CosmosClient;
  let store: Store;
  const chats = new PlaygroundChats(connector, () => app.url);
  let rateLimitNow = Date.parse('2030-01-01T09:00:00Z');

  before(async () => {
    await connector.start();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-flood-'));
    config = loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, PLAYGROUND_ENABLED: 'false' });
    app = await startApplication(config, logger, { rateLimitClock: () => rateLimitNow });
    cosmos = createCosmosClient({ ...config.cosmos, endpoint: app.cosmosEndpoint, key: EMBEDDED_COSMOS_KEY });
    store = await createStore(await openDatabase(cosmos, config.cosmos.database));
  });
  after(async () => {
    cosmos?.dispose();
    await app?.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('300 refused messages from one user: 30 answers, one rate-limit notice, one audit document; others still served', async () => {
    const adeleChat = chatOf(ADELE);
    const before = connector.activities.length;
    const statuses: number[] = [];
    // 300 messages, 20 in flight at a time, as a script would send them.
    for (let sent = 0; sent < 300; sent += 20) {
      const batch = Array.from({ length: 20 }, () => chats.post({ ...teamsMessage(connector.url, 'tokens'), from: ADELE, conversation: conversationOf(adeleChat) }));
      for (const response of await Promise.all(batch)) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    assert.ok(statuses.every((s) => s === 200), 'every message is accepted (Teams would retry an error)');
    // CloudAdapter answers the HTTP request after the turn, so every reply is in already.
    const replies = connector.activities.slice(before).filter((a) => a.conversation?.id === adeleChat);
    const notices = replies.filter((a) => a.text === RATE_LIMITED_TEXT);
    const refusals = replies.filter((a) => /only VPP Books admins/.test(String(a.text)));
    assert.equal(notices.length, 1, 'one rate-limit notice');
    assert.equal(refusals.length, config.rateLimits.userPerMinute, 'the messages within the limit were answered');
    assert.equal(replies.length, refusals.length + 1, 'and nothing else');
    assert.equal(lines.filter((l) => /rate limit reached/.test(l)).length, 1, 'one log line for the flood');

    const audit = (await store.audit.list(config.tenantId, 100)).items.filter((e) => e.action === 'access.refused' && e.target.id === ADELE.aadObjectId);
    assert.deepEqual(
      audit.map((e) => [e.details?.command, e.count]),
      [['tokens', config.rateLimits.userPerMinute]],
      'one audit document counting the refusals that got through',
    );

    const click = await chats.post({
      ...teamsMessage(connector.url, ''),
      type: 'invoke',
      name: 'adaptiveCard/action',
      from: ADELE,
      conversation: conversationOf(adeleChat),
      value: { action: { type: 'Action.Execute', verb: 'approve', data: { approvalId: 'x' } }, trigger: 'manual' },
    });
    assert.equal(click.status, 200, 'a card click over the limit still gets a valid invoke response');
    assert.deepEqual(await click.json(), { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: RATE_LIMITED_TEXT });

    const help = await chats.say(ALEX, 'help', (a) => (a.attachments?.length ?? 0) > 0);
    assert.ok(help, 'an admin is answered during the flood');

    /** What one more message from Adele gets, all of it in by the time the HTTP request is answered. */
    const adeleSays = async (text: string) => {
      const from = connector.activities.length;
      const response = await chats.post({ ...teamsMessage(connector.url, text), from: ADELE, conversation: conversationOf(adeleChat) });
      await response.arrayBuffer();
      return connector.activities.slice(from).filter((a) => a.conversation?.id === adeleChat);
    };
    rateLimitNow += 60_000 - 1;
    assert.deepEqual(await adeleSays('tokens'), [], 'still silent in the last millisecond of the minute');
    rateLimitNow += 1;
    const afterMinute = await adeleSays('tokens');
    assert.equal(afterMinute.length, 1, 'answered again once the minute is over');
    assert.match(String(afterMinute[0]?.text), /only VPP Books admins/);
  });
});
