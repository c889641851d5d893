import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../services/store/Store';
import { openDatabase } from '../../services/store/cosmosClient';
import { startAppleSandbox, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import type { SandboxOrganisation } from '../../local/appleSandbox/SandboxState';
import { DEMO_ORG_NAME } from '../../local/appleSandbox/demoData';
import { startLocalDirectory, type RunningLocalDirectory } from '../../local/directory/LocalDirectoryServer';
import { DEMO_GROUPS } from '../../local/directory/demoData';
import { AssignmentRunRepository } from '../../services/store/repositories/AssignmentRunRepository';
import { PLAYGROUND_TENANT_ID } from '../../services/config/config';
import { BotProcess } from '../support/BotProcess';
import { FakeConnector, cardText, type CapturedActivity } from '../support/FakeConnector';
import { ALEX, MEGAN, PlaygroundChats, click, refOf } from '../support/PlaygroundChats';
import { FaultsProxy } from '../support/faultsProxy';
import { freePort } from '../support/ports';

const STUDENTS = 600;
const BATCH = 50;
const EXTRA_BOOKS = 150 // with the new assignment book: 151 added;
const BOOK_TITLE = 'Resilience Handbook';


async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The bot runs as `npm start` in a child process and is SIGKILLed half-way; Cosmos, the Apple sandbox,
 * the directory and the Teams connector belong to the test process, so they outlive it and show what
 * the next process makes of the half-done work.
 */
describe('process killed mid-sync and mid-assignment (bot as a child process)', function () {
  this.timeout(60_000);
  const connector = new FakeConnector();
  const cosmos = new EmbeddedCosmos();
  let sandbox: RunningAppleSandbox;
  let apple: FaultsProxy;
  let directory: RunningLocalDirectory;
  let org: SandboxOrganisation;
  let store: Store;
  let runs: AssignmentRunRepository;
  let dataDir: string;
  let port: number;
  let bot: BotProcess | undefined;

  async function startBot(): Promise<BotProcess> {
    const metadata = new URL(sandbox.metadataUrl);
    const child = new BotProcess({
      PORT: String(port),
      LOCAL_DATA_DIR: dataDir,
      PLAYGROUND_ENABLED: 'false',
      LOG_LEVEL: process.env.DEBUG_FAULTS ? 'info' : 'warn',
      COSMOS_ENDPOINT: cosmos.endpoint,
      APPLE_VPP_BASE_URL: `${apple.url}/mdm/v2`,
      APPLE_METADATA_URL: `${apple.url}${metadata.pathname}${metadata.search}`,
      APPLE_STATUS_POLL_INTERVAL_MS: '20',
      GRAPH_BASE_URL: directory.baseUrl,
      GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: 'extensionAttribute1',
    }).start();
    // A start takes seconds on a quiet machine and many times that on a busy one: only a bot that never answers fails here.
    await until(
      'the bot to answer /healthz',
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      45_000,
    );
    return child;
  }

  const chats = new PlaygroundChats(connector, () => `http://127.0.0.1:${port}`);
  const alex = (text: string | Record<string, unknown>, until?: (a: CapturedActivity) => boolean, timeoutMs?: number) => chats.say(ALEX, text, until, timeoutMs);
  /** "Sync of … finished" cards in Alex's chat, in order of arrival. */
  const syncResults = () => connector.activities.filter((a) => a.conversation?.id === 'alex-chat' && /Sync of .* finished/.test(cardText(a)));
  const tokenId = async (): Promise<string> => {
    const [token] = await store.tokens.listByTenant(PLAYGROUND_TENANT_ID);
    assert.ok(token, 'the token is stored');
    return token.id;
  };

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-faults-kill-'));
    port = await freePort();
    await connector.start();
    await cosmos.start();
    sandbox = await startAppleSandbox({ port: 0, pageSize: 10, eventDelayMs: 0, limits: { maxUsers: BATCH, maxClientUserIds: BATCH } });
    const found = [...sandbox.state.organisations.values()].find((o) => o.orgName === DEMO_ORG_NAME);
    assert.ok(found);
    org = found;
    apple = await new FaultsProxy(sandbox.origin).start();
    directory = await startLocalDirectory({ port: 0, studentCount: STUDENTS });
    // Every student has a Managed Apple Account, so a Required assignment licenses them all at once.
    for (const user of directory.state.users.values()) user.managedAppleId ??= `${user.id}@appleid.example`;
    bot = await startBot();
    // The same database the bot uses (COSMOS_DATABASE defaults to vppbooks): the test reads what it wrote.
    store = await createStore(await openDatabase(cosmos.client(), 'vppbooks'));
    runs = new AssignmentRunRepository(store.containers.assignments);
  });

  after(async () => {
    if (process.env.DEBUG_FAULTS) console.log(bot?.stdout.slice(-4000), bot?.stderr.slice(-4000));
    await bot?.stop('SIGKILL');
    await apple?.stop();
    await sandbox?.close();
    await directory?.close();
    await cosmos.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('upload the token and sync once (setup): the result card is posted once', async () => {
    await chats.setUpDemoToken();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(syncResults().length, 1, 'one sync asked for, one result card');
  });

  it('a sync killed half-way: the next process syncs every book exactly once and posts the result to the chat that asked, once', async () => {
    for (let i = 0; i < EXTRA_BOOKS; i++) sandbox.state.addBook(org, { adamId: String(1_900_000_000 + i), title: `Fault Book ${i}`, author: 'Author', totalCount: 10 + i });
    sandbox.state.addBook(org, { adamId: '1899999999', title: BOOK_TITLE, author: 'Author', totalCount: STUDENTS + 50 });
    sandbox.faults.latencyMs = 40;
    const from = apple.requests.length;
    const cardsBefore = syncResults().length;
    await alex('sync', (a) => /^Sync started/.test(String(a.text)));
    await until('sync half-way', () => (apple.matching('GET', '/mdm/v2/assets', from).length >= 5 ? true : undefined));
    await bot?.stop('SIGKILL');
    sandbox.faults.latencyMs = 0;
    const id = await tokenId();
    assert.ok((await store.books.listByToken(id)).length < org.books.size, 'killed before the sync stored the new books');

    assert.equal(syncResults().length, cardsBefore, 'no result yet');
    // The restarted bot is the same instance (same host and data folder): it takes its lease back at once,
    // restarts the sync Alex asked for and posts its result to Alex's chat without being asked again.
    bot = await startBot();

    const finished = await until('the result of the sync Alex asked for before the kill', () => syncResults()[cardsBefore], 30_000);
    assert.match(cardText(finished), /151 added, 0 updated, 0 removed/);
    const [latest, killed] = await store.syncRuns.listRecent(id);
    assert.equal(latest?.status, 'completed');
    assert.equal(killed?.status, 'failed', 'the killed run is closed, not left in progress forever');
    assert.equal(killed?.error?.code, 'interrupted');
    assert.equal(latest?.counts.writes, EXTRA_BOOKS + 1, 'each new book written once, nothing else rewritten');

    const stored = await store.books.listByToken(id);
    const key = (b: { adamId: string; pricingParam: string }) => `${b.adamId}|${b.pricingParam}`;
    assert.equal(new Set(stored.map((b) => b.id)).size, stored.length, 'no book stored twice');
    assert.equal(new Set(stored.map(key)).size, stored.length, 'no book stored twice');
    const expected = [...org.books.values()];
    assert.deepEqual(stored.map(key).sort(), expected.map(key).sort(), 'the store has exactly the books Apple has');
    const byKey = new Map(stored.map((b) => [key(b), b]));
    for (const book of expected) {
      const mine = byKey.get(key(book));
      assert.equal(mine?.totalLicenseCount, book.totalCount, `${book.title}: total`);
      assert.equal(mine?.usedLicenseCount, book.assignedCount, `${book.title}: used`);
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(syncResults().length, cardsBefore + 1, 'the asking chat got the result once');
    assert.deepEqual(await store.syncRequests.listAll(), [], 'no request left waiting');
  });
  it('an assignment killed while a batch is on its way to Apple: the next process finishes it, nobody associated twice', async () => {
    const id = await tokenId();
    // Pages of ten made the sync above stoppable half-way. Here they would only multiply requests: every Apple
    // request of the bot waits its turn under the per-token throttle (Apple's 15 a second, ~74 ms apart), and
    // the resumed run reads who holds the book (150 by then) twice and the users each batch created, so
    // pages of ten cost it ~140 requests, ~10 s. Pages of 100 still split those 150 holders over two pages.
    sandbox.state.pageSize = 100;
    await alex('assign', (a) => /Which \*\*book\*\*/.test(String(a.text)));
    await alex('resilience', (a) => /Which \*\*user group\*\*/.test(String(a.text)));
    let card = await alex('All Students', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await alex(click(DEMO_GROUPS.allStudents, refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await alex(click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    const preview = await alex(click('required', refOf(card)), (a) => cardText(a).includes('Request approval'));
    const approverCard = connector.waitForNext((a) => a.conversation?.id === 'megan-chat' && cardText(a).includes('"verb":"approve"'), 20_000);
    await alex(click('request', refOf(preview)), (a) => /^Sent for approval/.test(String(a.text)));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(await approverCard))?.[1];
    assert.ok(approvalId);

    // The fourth associate request never reaches Apple: the bot waits on it when it is killed.
    let associates = 0;
    apple.decide = (r) => (r.method === 'POST' && r.url.startsWith('/mdm/v2/assets/associate') && ++associates === 4 ? 'hold' : 'forward');
    const held = apple.nextHeld();
    const from = apple.requests.length;
    const approval = await chats.approveAs(MEGAN, approvalId);
    assert.equal(approval.status, 200);
    await held;
    await bot?.stop('SIGKILL');
    apple.decide = () => 'forward';

    const [half] = (await runs.listUnfinished()).filter((r) => r.tokenId === id);
    assert.ok(half, 'the run is left unfinished');
    assert.equal(half.state, 'running');
    assert.equal(half.batchesCompleted, 3, 'three batches were recorded before the kill');
    const book = [...org.books.values()].find((b) => b.title === BOOK_TITLE);
    assert.ok(book);
    assert.equal(book.assignedCount, 3 * BATCH);

    const result = () => connector.activities.filter((a) => a.conversation?.id === 'alex-chat' && /^Finished assigning/.test(String(a.summary ?? a.text)));
    assert.equal(result().length, 0);
    // The run's lease keeps other instances off it; the restarted instance takes it back and resumes at start-up.
    bot = await startBot();
    await until('the resumed run to finish', () => (result().length > 0 ? true : undefined), 30_000);

    const students = directory.state.transitiveMembers(DEMO_GROUPS.allStudents).filter((u) => directory.state.kindOf(u) === 'user');
    assert.equal(students.length, STUDENTS);
    const sent = apple.matching('POST', '/mdm/v2/assets/associate', from).flatMap((r) => (JSON.parse(r.body) as { clientUserIds: string[] }).clientUserIds);
    const reached = sent.filter((_, i) => i < 3 * BATCH || i >= 4 * BATCH); // the held batch never reached Apple
    assert.equal(reached.length, STUDENTS, 'every student sent to Apple once, across both processes');
    assert.deepEqual([...new Set(reached)].sort(), [...students].sort());
    assert.equal(book.assignedCount, STUDENTS, 'licenses spent = students');
    const assigned = [...org.assignments.values()].filter((a) => a.adamId === book.adamId);
    assert.equal(assigned.length, STUDENTS);

    const run = (await runs.listByBook(id, book.adamId, book.pricingParam))[0];
    assert.equal(run?.state, 'completed');
    assert.equal(run?.totals.processed, STUDENTS);
    assert.equal(run?.totals.failed, 0);
    const records = await store.assignments.listByBook(id, book.adamId, book.pricingParam);
    assert.equal(records.length, 1, 'one assignment record for the group');
    assert.equal(records[0]?.status, 'completed');
    assert.equal(records[0]?.results?.targetedUsers, STUDENTS);
    assert.equal(records[0]?.results?.failed, 0);
    // Told once: wait a moment for a second, duplicate message that must not come.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(result().length, 1, 'the requester told the result exactly once');
  });
});
