import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig, type AppConfig } from '../../services/config/config';
import { DEMO_GROUPS, DEMO_USERS, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type RunningLocalDirectory } from '../../local/directory';
import { createCosmosClient, openDatabase } from '../../services/store/cosmosClient';
import { EMBEDDED_COSMOS_KEY } from '../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../services/store/Store';
import { bookClaimId } from '../../services/store/entities/bookClaim';
import { AssignmentRunRepository, type AssignmentRun } from '../../services/store/repositories/AssignmentRunRepository';
import { capturingLogger } from '../support/logCapture';
import { eventually } from '../support/eventually';
import { FakeConnector, cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { ALEX, DEMO_TOKEN_FILE, MEGAN, PlaygroundChats, chatOf, click, conversationOf, refOf, type ChatUser } from '../support/PlaygroundChats';

const EMMA = '1447212493';
const ADELE: ChatUser = { id: 'user-id-2', name: 'Adele Vance', aadObjectId: DEMO_USERS.adeleVance };
const PATTI: ChatUser = { id: 'user-id-4', name: 'Patti Fernandez', aadObjectId: DEMO_USERS.pattiFernandez };

const text = (a: CapturedActivity): string => String(a.text ?? '');

/**
 * Issue #15 over HTTP with real activities: an Available assignment approved in chat spends nothing; a
 * member types `my books`, clicks Get (twice), and holds exactly one license at the Apple sandbox; a
 * forged Get changes nothing; a Get beyond the budget is told and raises a top-up request; someone who is
 * not an admin gets the member help and is refused (and audited) on admin commands.
 */
describe('my books over HTTP: members get Available books themselves', function () {
  this.timeout(120_000);
  const connector = new FakeConnector();
  const { logger } = capturingLogger('warn');
  let directory: RunningLocalDirectory;
  let dataDir: string;
  let config: AppConfig;
  let app: RunningApplication;
  let cosmos: CosmosClient;
  let store: Store;
  const chats = new PlaygroundChats(connector, () => app.url);

  before(async () => {
    await connector.start();
    directory = await startLocalDirectory({ port: 0, studentCount: 50 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-my-books-http-'));
    config = loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, APPLE_STATUS_POLL_INTERVAL_MS: '20', GRAPH_BASE_URL: directory.baseUrl, GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, PLAYGROUND_ENABLED: 'false' });
    app = await startApplication(config, logger);
    cosmos = createCosmosClient({ ...config.cosmos, endpoint: app.cosmosEndpoint, key: EMBEDDED_COSMOS_KEY });
    store = await createStore(await openDatabase(cosmos, config.cosmos.database));
  });
  after(async () => {
    cosmos?.dispose();
    await app?.stop();
    await directory?.close();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Apple's own answer (the sandbox, as the bot's token sees it): who holds Emma. */
  async function emmaHolders(): Promise<string[]> {
    const holders: string[] = [];
    for (let page: number | undefined = 0; page !== undefined; ) {
      const response = await fetch(`${app.appleBaseUrl}/assignments?adamId=${EMMA}&pageIndex=${page}`, { headers: { authorization: `Bearer ${DEMO_TOKEN_FILE.trim()}` } });
      const body = (await response.json()) as { assignments?: Array<{ clientUserId?: string }>; nextPageIndex?: number };
      holders.push(...(body.assignments ?? []).flatMap((a) => (a.clientUserId ? [a.clientUserId] : [])));
      page = body.nextPageIndex;
    }
    return holders;
  }

  /** The Get button's data on a `my books` card, as Teams sends it back on a click. */
  function getButton(card: CapturedActivity, title: string): { command: string; tokenId: string; args: { get: string } } {
    const json = JSON.parse(cardText(card)) as unknown;
    const found: Array<{ command: string; tokenId: string; args: { get: string } }> = [];
    const walk = (node: unknown, book: string | undefined): void => {
      if (Array.isArray(node)) return node.forEach((n) => walk(n, book));
      if (!node || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      const titled = record.type === 'Container' && JSON.stringify(record).includes(`"text":"${title}"`) ? title : book;
      if (record.type === 'Action.Submit' && record.title === 'Get' && titled === title) found.push(record.data as { command: string; tokenId: string; args: { get: string } });
      for (const value of Object.values(record)) walk(value, titled);
    };
    walk(json, undefined);
    assert.equal(found.length, 1, `one Get button for ${title}: ${cardText(card).slice(0, 400)}`);
    return found[0]!;
  }

  const myBooksCard = (a: CapturedActivity): boolean => cardText(a).includes('"text":"My books"');

  it('someone who is not an admin gets the member help, and admin commands stay refused and audited', async () => {
    const help = await chats.say(ADELE, 'help', (a) => cardText(a).length > 0);
    assert.match(cardText(help), /"title":"my books"/);
    assert.doesNotMatch(cardText(help), /upload token|VPP Books: commands/, 'not the admin command list');
    const admin = await chats.say(ALEX, 'help', (a) => cardText(a).length > 0);
    assert.match(cardText(admin), /VPP Books: commands/);
    assert.match(cardText(admin), /"title":"my books"/, 'admins may get books too');

    const refused = await chats.say(ADELE, 'tokens');
    assert.match(text(refused), /only VPP Books admins/);
    const audit = await store.audit.list(config.tenantId, 50);
    assert.ok(
      audit.items.some((e) => e.action === 'access.refused' && e.actor && 'aadObjectId' in e.actor && e.actor.aadObjectId === ADELE.aadObjectId && e.details?.command === 'tokens'),
      'the refusal is in the audit log',
    );
    const empty = await chats.say(ADELE, 'my books', myBooksCard);
    assert.match(cardText(empty), /No books are available to you right now/);
  });

  it('an approved Available assignment spends nothing; the member gets the book with Get, once, however often they click', async () => {
    await chats.setUpDemoToken();
    const alex = (input: string | Record<string, unknown>, until?: (a: CapturedActivity) => boolean) => chats.say(ALEX, input, until);
    await alex('assign', (a) => /Which \*\*book\*\*/.test(text(a)));
    await alex('emma', (a) => /Which \*\*user group\*\*/.test(text(a)));
    let card = await alex('English Department', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await alex(click(DEMO_GROUPS.englishDepartment, refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await alex(click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    const preview = await alex(click('available', refOf(card)), (a) => cardText(a).includes('Request approval'));
    const approverCard = connector.waitForNext((a) => a.conversation?.id === chatOf(MEGAN) && cardText(a).includes('"verb":"approve"'), 20_000);
    await alex(click('request', refOf(preview)), (a) => /^Sent for approval/.test(text(a)));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(await approverCard))?.[1];
    const finished = connector.waitForNext((a) => a.conversation?.id === chatOf(ALEX) && /^Finished assigning "Emma"/.test(String(a.summary ?? a.text)), 60_000);
    assert.equal((await chats.approveAs(MEGAN, approvalId)).status, 200);
    await finished;
    const holdersBefore = await emmaHolders();
    assert.ok(!holdersBefore.includes(ADELE.aadObjectId), 'Available: nothing spent up front');

    const books = await chats.say(ADELE, 'my books', myBooksCard);
    assert.match(cardText(books), /Available to you/);
    const get = getButton(books, 'Emma');

    // A double click: two Get activities at once.
    const seen = connector.activities.length;
    const answers = () => connector.activities.slice(seen).filter((a) => a.conversation?.id === chatOf(ADELE) && /"Emma"/.test(text(a)));
    const clicks = await Promise.all([0, 1].map(() => chats.post({ ...teamsMessage(connector.url, ''), from: ADELE, conversation: conversationOf(chatOf(ADELE)), value: get })));
    assert.deepEqual(clicks.map((r) => r.status), [200, 200]);
    await eventually(() => answers().length >= 2, 20_000);
    const said = answers().map(text).join('\n');
    assert.match(said, /"Emma" is yours\. Open the \*\*Books\*\* app/);
    assert.match(said, /"Emma" is (already )?yours/);
    const holders = await emmaHolders();
    assert.equal(holders.filter((id) => id === ADELE.aadObjectId).length, 1, 'Adele holds Emma at Apple');
    assert.equal(holders.length, holdersBefore.length + 1, 'one license spent for two clicks');

    const after = await chats.say(ADELE, 'my books', myBooksCard);
    assert.match(cardText(after), /"text":"Yours"/);
    assert.doesNotMatch(cardText(after), /"title":"Get"/, 'nothing left to get');
  });

  it('a forged Get from someone outside the groups changes nothing; a Get beyond the budget is told and asks the approvers for more', async () => {
    // Adele's Get named the run: the same data, sent by others.
    const run = (await store.claims.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.bookTitle = @title', [{ name: '@title', value: 'Emma' }]))[0];
    assert.ok(run, "Adele's claim");
    const forged = { value: { command: 'my books', tokenId: run.tokenId, args: { get: run.runId } } };
    const spentBefore = (await storeRun(run.tokenId, run.runId))?.spent;

    const refused = await chats.say(PATTI, forged, (a) => /Emma/.test(text(a)));
    assert.match(text(refused), /only for members of the groups it was made available to/);
    assert.equal((await storeRun(run.tokenId, run.runId))?.spent, spentBefore, 'nothing spent');
    assert.equal(await store.claims.get(run.tokenId, bookClaimId(run.runId, PATTI.aadObjectId)), undefined, 'nothing written');

    // The rest of the English Department takes the other licenses of the budget.
    const others = directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment).filter((id) => id !== ADELE.aadObjectId && directory.state.kindOf(id) === 'user');
    const answers = await Promise.all(
      others.map((id) => chats.say({ id: `29:${id}`, name: directory.state.users.get(id)?.displayName ?? id, aadObjectId: id }, forged, (a) => /"Emma"/.test(text(a)))),
    );
    assert.ok(answers.every((a) => /"Emma" is yours/.test(text(a))), answers.map(text).join('\n'));
    const full = await storeRun(run.tokenId, run.runId);
    assert.equal(full?.spent, full?.budget, 'the budget is used up');

    // Patti joins the group after the approval: she may ask, and is told there is no license left for now.
    directory.state.addMembers(DEMO_GROUPS.englishDepartment, [PATTI.aadObjectId]);
    const topUpCard = connector.waitForNext((a) => a.conversation?.id === chatOf(MEGAN) && /more licenses|top-up|Top-up/i.test(cardText(a)), 20_000);
    const waiting = await chats.say(PATTI, forged, (a) => /Emma/.test(text(a)));
    assert.match(text(waiting), /All the licenses approved for "Emma" are taken, so you do not have it yet\. I asked the admins for more/);
    const holders = await emmaHolders();
    assert.ok(!holders.includes(PATTI.aadObjectId), 'no license beyond the budget');
    assert.equal((await storeRun(run.tokenId, run.runId))?.spent, full?.budget);
    const topUps = (await store.approvals.listPending(config.tenantId)).filter((r) => r.kind === 'topUp');
    assert.equal(topUps.length, 1, 'a top-up request exists');
    assert.equal(topUps[0]?.summary.licensesNeeded, 1);
    assert.equal(topUps[0]?.requestedBy.aadObjectId, ALEX.aadObjectId, "in the requester's name");
    await topUpCard;
    assert.match(cardText(await chats.say(PATTI, 'my books', myBooksCard)), /the admins were asked for more/);
  });

  function storeRun(tokenId: string, runId: string): Promise<AssignmentRun | undefined> {
    return new AssignmentRunRepository(store.containers.assignments).get(tokenId, runId);
  }
});
