import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { appleLicenseCounts } from '../services/approvals/appleLicenseCounts';
import { ApprovalService } from '../services/approvals/ApprovalService';
import { ApproverDirectory } from '../services/approvals/ApproverDirectory';
import { AssignmentExecutor } from '../services/assignments/AssignmentExecutor';
import { AssignmentRunRepository, runId, ZERO_COUNTS } from '../services/store/repositories/AssignmentRunRepository';
import { appleClientProvider } from '../services/assignments/ports';
import type { AssignmentOutcome } from '../services/assignments/reporting';
import { StandingAssignmentReconciler } from '../services/assignments/StandingAssignmentReconciler';
import { type RunReconciliation } from '../services/assignments/runReconciliation';
import { forEachLimited } from '../services/common/forEachLimited';
import { Keyring } from '../services/crypto/Keyring';
import { TokenCipher } from '../services/crypto/TokenCipher';
import { GraphDirectory } from '../services/directory/GraphDirectory';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE } from '../local/directory';
import { createLogger } from '../services/logging/logger';
import { Secret } from '../services/secrets/Secret';
import { createStore, type Store } from '../services/store/Store';
import { EMBEDDED_COSMOS_KEY } from '../local/cosmos/EmbeddedCosmos';
import { openDatabase } from '../services/store/cosmosClient';
import { assignmentId } from '../services/store/entities/assignment';
import { eBookId } from '../services/store/entities/eBook';
import { tokenCipherContext, type VppToken } from '../services/store/entities/vppToken';
import { AppleClientFactory } from '../services/tokens/AppleClientFactory';
import { spawnServer, stopServer } from './support/childServer';
import { RequestCounter } from './support/requestCounter';
import { requestJson } from './support/requestJson';
import type { WorldInfo, WorldOrg, WorldStats, WorldVerify } from './support/reconcileWorld';
import type { Benchmark, BenchResult } from './types';

/**
 * Issue #14 ("An approval is a license budget: standing group assignments"): 256 tokens × 10 standing
 * assignments (one book to one group each) × 2,000-member groups, reconciled as after three syncs.
 *
 * - Round 0: the first reconciliation reads each group whole through Graph's groups/delta and checks the
 *   members against Apple's holders of the book (all hold it: nobody is licensed). Reported, not a target.
 * - Round 1, nothing changed in the directory: one Graph request per group, nothing asked of Apple.
 * - Then 1% of every group's members (20) join, users the organisation has never seen.
 * - Round 2: reconcile every token, then wait for the passes the executor started. Graph: one delta and
 *   ceil(20/15) user reads by id per group; Apple writes: per assignment ceil(20/100) user creations + ceil(20/1000)
 *   associates; every joiner licensed, within the budget (run.spent ≤ run.budget), nobody else.
 *
 * Processes: this one is the bot (StandingAssignmentReconciler, AssignmentExecutor and ApprovalService for
 * top-ups, over the Cosmos SDK, GraphDirectory and AppleBooksClient, 16 tokens at a time as a sync does);
 * the Apple sandbox and the local directory run in one child (support/reconcileWorld.ts), the Cosmos
 * emulator in another (support/cosmosServer.ts, partition-scoped queries). Requests are counted by
 * wrapping the clients' `fetch`. Apple requests go through the client's per-token rate limit (15/s),
 * which bounds the wall time of rounds 0 and 2; the sandbox pages by 200 (BENCH_RECONCILE_APPLE_PAGE).
 *
 * Seeding (not measured): the sandbox holds every member as an Associated user with the book, and the bot
 * stores each token (encrypted, as an upload does), its books, and per book an assignment and a `completed`
 * run with budget = members + 2% (room for the 1% who join) and spent = members, as a delivery leaves them.
 *
 * BENCH_RECONCILE_TOKENS (256) and BENCH_RECONCILE_MEMBERS (2,000) scale it down; 1% of the members join.
 */

const FULL_TOKENS = 256;
const FULL_MEMBERS = 2_000;
const BOOKS = 10;
const CONCURRENCY = 16;
const SEED_CONCURRENCY = 8;
/** The local directory's page for groups/delta, as Graph's largest. */
const GRAPH_PAGE = 999;
/** GraphDirectory.usersByIds asks for 15 users a request (GET /users?$filter=id in (…)). */
const USERS_PER_GRAPH_READ = 15;
/** Apple's batch limits as the sandbox announces them (service/config). */
const MAX_USERS_PER_CREATE = 100;
const MAX_USERS_PER_ASSOCIATE = 1_000;
const TENANT = '00000000-0000-0000-0000-00000000b014';
const REQUESTER = { aadObjectId: '00000000-0000-0000-0000-0000000b0001', displayName: 'Bench Requester' };
const APPROVER = { aadObjectId: '00000000-0000-0000-0000-0000000b0002', displayName: 'Bench Approver' };
const MDM_ID = 'vpp-books-bot:bench';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return n;
}

interface CosmosStats {
  documents: Record<string, number>;
  requests: Record<string, number>;
  maxRssBytes: number;
}

interface Round {
  /** From the first reconcileToken to the last pass finished. */
  wallMs: number;
  /** The reconcileToken calls alone (passes may still run in the background). */
  reconcileMs: number;
  graph: Record<string, number>;
  apple: Record<string, number>;
  results: RunReconciliation[];
  outcomes: AssignmentOutcome[];
  cosmos: CosmosStats;
  peakRssBytes: number;
}

const isAppleWrite = (kind: string): boolean => kind.startsWith('POST ');
const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
const total = (counts: Record<string, number>, which: (kind: string) => boolean = () => true): number => sum(Object.entries(counts).filter(([k]) => which(k)).map(([, n]) => n));
const fmt = (n: number): string => n.toLocaleString('en');
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const seconds = (ms: number): string => (ms / 1000).toFixed(1);
/** "GET /assignments 1,000, POST /users/create 10" */
const breakdown = (counts: Record<string, number>, which: (kind: string) => boolean = () => true): string =>
  Object.entries(counts)
    .filter(([k]) => which(k))
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${fmt(n)}`)
    .join(', ') || 'none';
/** Reconciliation results by state: "2,560 reconciled". */
const states = (results: readonly RunReconciliation[]): string => {
  const by = new Map<string, number>();
  for (const r of results) by.set(r.state, (by.get(r.state) ?? 0) + 1);
  return [...by].map(([state, n]) => `${fmt(n)} ${state}`).join(', ');
};

/** The bot's records of one organisation: its token as uploaded, and per book a delivered standing assignment. */
async function seedToken(store: Store, runs: AssignmentRunRepository, cipher: TokenCipher, org: WorldOrg, members: number, budget: number): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  const token: VppToken = {
    id,
    tenantId: TENANT,
    displayName: org.orgName,
    organizationName: org.orgName,
    accountType: 'education',
    locationId: org.uId,
    locationName: org.locationName,
    expirationDateTime: new Date(Date.now() + 300 * 86_400_000).toISOString(),
    state: 'valid',
    lastSyncStatus: 'completed',
    consecutiveSyncFailures: 0,
    encryptedToken: cipher.encrypt(new Secret(org.bearer), tokenCipherContext({ tenantId: TENANT, id })),
    createdBy: { aadObjectId: REQUESTER.aadObjectId },
    createdDateTime: now,
    lastModifiedDateTime: now,
  };
  await store.tokens.create(token);
  const delivered = { ...ZERO_COUNTS, processed: members, licensed: members };
  for (const book of org.books) {
    await store.books.upsertIfChanged({
      id: eBookId(book.adamId, 'STDQ'),
      tokenId: id,
      tenantId: TENANT,
      adamId: book.adamId,
      pricingParam: 'STDQ',
      title: book.title,
      author: 'Bench',
      totalLicenseCount: book.totalCount,
      usedLicenseCount: members,
      availableLicenseCount: book.totalCount - members,
      metadataResolved: true,
      createdDateTime: now,
      lastModifiedDateTime: now,
    });
    const approvalId = randomUUID();
    const { assignment } = await store.assignments.createOrGet({
      id: assignmentId(book.adamId, 'STDQ', book.groupId),
      tokenId: id,
      tenantId: TENANT,
      adamId: book.adamId,
      pricingParam: 'STDQ',
      bookTitle: book.title,
      targetGroupId: book.groupId,
      targetGroupName: book.groupName,
      installIntent: 'required',
      status: 'completed',
      approvalId,
      requestedBy: REQUESTER,
      requestedDateTime: now,
      approvedBy: APPROVER,
      decidedAt: now,
      results: { targetedUsers: members, licensed: members, awaitingInvitation: 0, failed: 0, updatedDateTime: now },
      lastModifiedDateTime: now,
    });
    await runs.create({
      id: runId(approvalId),
      tokenId: id,
      tenantId: TENANT,
      approvalId,
      adamId: book.adamId,
      pricingParam: 'STDQ',
      bookTitle: book.title,
      installIntent: 'required',
      requestedBy: REQUESTER,
      state: 'completed',
      budget,
      spent: members,
      groups: [{ assignmentId: assignment.id, groupId: book.groupId, groupName: book.groupName, done: true, counts: delivered }],
      batchesCompleted: Math.ceil(members / MAX_USERS_PER_ASSOCIATE),
      totals: delivered,
      failureReasons: [],
      failedUsers: [],
      invitedUsers: [],
      startedDateTime: now,
      finishedDateTime: now,
      createdDateTime: now,
      lastModifiedDateTime: now,
    });
  }
  return id;
}

async function reconcileBench(): Promise<BenchResult> {
  const tokens = positiveInt('BENCH_RECONCILE_TOKENS', FULL_TOKENS);
  const members = positiveInt('BENCH_RECONCILE_MEMBERS', FULL_MEMBERS);
  const applePage = positiveInt('BENCH_RECONCILE_APPLE_PAGE', 200);
  const joiners = Math.max(1, Math.round(members / 100));
  const budget = members + 2 * joiners;
  const groups = tokens * BOOKS;

  const seedStarted = Date.now();
  const world = await spawnServer<WorldInfo>(path.join(__dirname, 'support', 'reconcileWorld.ts'), [
    '--tokens',
    String(tokens),
    '--books',
    String(BOOKS),
    '--members',
    String(members),
    '--joiners',
    String(joiners),
    '--page-size',
    String(applePage),
    '--graph-page-size',
    String(GRAPH_PAGE),
  ], { nodeArgs: ['--max-old-space-size=12288'] });
  const cosmos = await spawnServer<{ endpoint: string }>(path.join(__dirname, 'support', 'cosmosServer.ts'), ['--partition-index', '--stats']);
  try {
    const control = world.info.controlUrl;
    const { endpoint } = cosmos.info;
    const store = await createStore(await openDatabase(new CosmosClient({ endpoint, key: EMBEDDED_COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false } }), `bench-${randomBytes(4).toString('hex')}`));
    const runs = new AssignmentRunRepository(store.containers.assignments);
    const cipher = new TokenCipher(new Keyring('bench', new Map([['bench', randomBytes(32)]])));
    const orgs = await requestJson<WorldOrg[]>(`${control}/orgs`);
    const tokenIds: string[] = [];
    await forEachLimited(orgs, SEED_CONCURRENCY, async (org) => void tokenIds.push(await seedToken(store, runs, cipher, org, members, budget)));
    const seedMs = Date.now() - seedStarted;

    // Warnings and errors of the bot's parts, kept to be counted (and the first few shown): nothing is expected.
    const logged: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void logged.push(line) } });
    const graph = new RequestCounter((method, url) => {
      if (/\/groups\/(microsoft\.graph\.)?delta$/.test(url.pathname)) return 'groups/delta';
      if (url.pathname.endsWith('/getByIds')) return 'getByIds';
      if (method === 'GET' && url.pathname === '/v1.0/users' && url.searchParams.has('$filter')) return 'users by id';
      if (url.pathname.endsWith('/checkMemberGroups')) return 'checkMemberGroups';
      return `${method} ${url.pathname.replace(/\/[0-9a-f-]{36}/gi, '/{id}')}`;
    });
    const apple = new RequestCounter((method, url) => `${method} ${url.pathname.replace(/^\/mdm\/v2/, '')}`);
    const directory = new GraphDirectory({ baseUrl: world.info.graphBaseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, fetch: graph.fetch, logger });
    const clients = appleClientProvider(cipher, new AppleClientFactory({ baseUrl: world.info.appleBaseUrl, logger, pollIntervalMs: 5, fetch: apple.fetch, mdmId: MDM_ID }));
    const outcomes: AssignmentOutcome[] = [];
    const executor = new AssignmentExecutor({
      store,
      runs,
      directory,
      clients,
      logger,
      wait: { intervalMs: 5 },
      reporter: { progress: async () => undefined, finished: async (o) => void outcomes.push(o) },
    });
    const approvals = new ApprovalService({
      store,
      runs,
      approvers: new ApproverDirectory({ approverUserIds: [REQUESTER.aadObjectId, APPROVER.aadObjectId] }),
      licenses: appleLicenseCounts(store, clients),
      executor,
      logger,
    });
    let topUpsAsked = 0;
    const reconciler = new StandingAssignmentReconciler({
      store,
      runs,
      directory,
      clients,
      executor,
      topUps: {
        requestTopUp: async (input) => {
          const asked = await approvals.requestTopUp(input);
          if (asked.outcome === 'requested') topUpsAsked++;
          return asked;
        },
      },
      logger,
    });

    /** Every token reconciled (16 at a time), then every pass it started run to its end. */
    const round = async (): Promise<Round> => {
      graph.reset();
      apple.reset();
      outcomes.length = 0;
      await requestJson(`${endpoint}/_bench/stats`, 'POST');
      let peakRssBytes = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss)), 50);
      const results: RunReconciliation[] = [];
      const started = Date.now();
      await forEachLimited(tokenIds, CONCURRENCY, async (id) => void results.push(...(await reconciler.reconcileToken(id))));
      const reconcileMs = Date.now() - started;
      await executor.idle();
      const wallMs = Date.now() - started;
      clearInterval(sampler);
      const cosmosStats = await requestJson<CosmosStats>(`${endpoint}/_bench/stats`);
      return { wallMs, reconcileMs, graph: graph.snapshot(), apple: apple.snapshot(), results, outcomes: [...outcomes], cosmos: cosmosStats, peakRssBytes };
    };

    const first = await round();
    const unchanged = await round();
    const { joined } = await requestJson<{ joined: number }>(`${control}/join`, 'POST');
    const grown = await round();

    const verify = await requestJson<WorldVerify>(`${control}/verify`);
    const worldStats = await requestJson<WorldStats>(`${control}/stats`);
    const cosmosFinal = await requestJson<CosmosStats>(`${endpoint}/_bench/stats`);
    const problems: string[] = [];
    let overBudget = 0;
    let spentWrong = 0;
    let notCompleted = 0;
    let spent = 0;
    await forEachLimited(tokenIds, CONCURRENCY, async (id) => {
      const mine = await runs.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId', [{ name: '@tokenId', value: id }], { partitionKey: id });
      for (const run of mine) {
        if (run.state !== 'completed') {
          notCompleted++;
          problems.push(`run ${run.state}${run.lastError ? ` (${run.lastError.code}: ${run.lastError.message.slice(0, 120)})` : ''}`);
        }
        if ((run.spent ?? 0) > (run.budget ?? 0)) overBudget++;
        if (run.spent !== members + joiners) spentWrong++;
        spent += (run.spent ?? 0) - members;
      }
    });

    const graphMinFull = groups * Math.ceil(members / GRAPH_PAGE);
    const graphMinGrown = groups * (1 + Math.ceil(joiners / USERS_PER_GRAPH_READ));
    const appleWriteMin = groups * (Math.ceil(joiners / MAX_USERS_PER_CREATE) + Math.ceil(joiners / MAX_USERS_PER_ASSOCIATE));
    const graphFirst = total(first.graph);
    const graphUnchanged = total(unchanged.graph);
    const graphGrown = total(grown.graph);
    const appleUnchanged = total(unchanged.apple);
    const appleGrownWrites = total(grown.apple, isAppleWrite);
    const passTotals = grown.outcomes.reduce((t, o) => ({ processed: t.processed + o.totals.processed, delivered: t.delivered + o.totals.licensed + o.totals.awaitingInvitation, failed: t.failed + o.totals.failed }), { processed: 0, delivered: 0, failed: 0 });
    const licensing = sum(grown.results.map((r) => r.licensing));
    const allReconciled = [first, unchanged, grown].every((r) => r.results.length === groups && r.results.every((x) => x.state === 'reconciled'));
    const expectedAssigned = groups * (members + joiners);
    const holderPages = 2 * groups * Math.ceil(members / applePage);
    const passesCompleted = grown.outcomes.filter((o) => o.state === 'completed').length;
    for (const o of grown.outcomes) if (o.state !== 'completed') problems.push(`pass ${o.state}${o.error ? `: ${o.error.slice(0, 120)}` : ''}`);
    // What the bot logged at warn or above, by message: "msg (err.message) × n".
    const byMessage = new Map<string, number>();
    for (const line of logged) {
      const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      const key = `${entry.msg ?? '?'}${entry.err?.message ? ` (${entry.err.message.slice(0, 160)})` : ''}`;
      byMessage.set(key, (byMessage.get(key) ?? 0) + 1);
    }
    for (const line of logged.slice(0, 5)) console.error(line.slice(0, 4000));
    const logSummary = [...byMessage].map(([k, n]) => `${k} × ${n}`).join('; ');

    const met =
      allReconciled &&
      appleUnchanged === 0 &&
      graphUnchanged === groups &&
      graphGrown === graphMinGrown &&
      appleGrownWrites === appleWriteMin &&
      joined === groups * joiners &&
      licensing === joined &&
      spent === joined &&
      overBudget === 0 &&
      spentWrong === 0 &&
      notCompleted === 0 &&
      verify.assigned === expectedAssigned &&
      verify.joinersWithout === 0 &&
      verify.strangers === 0 &&
      passTotals.failed === 0 &&
      passesCompleted === groups &&
      problems.length === 0 &&
      logged.length === 0 &&
      passTotals.delivered === joined &&
      topUpsAsked === 0;

    const botPeak = Math.max(first.peakRssBytes, unchanged.peakRssBytes, grown.peakRssBytes);
    return {
      name: `reconcile: ${tokens} tokens × ${BOOKS} standing assignments × ${fmt(members)}-member groups, ${fmt(joiners)} join each group (1%) between syncs (sandbox page ${applePage}, Graph page ${GRAPH_PAGE}, ${CONCURRENCY} tokens at a time)`,
      metrics: {
        'seeding wall s (not measured below)': seconds(seedMs),
        'round 0 (first read) wall s': seconds(first.wallMs),
        'round 0 Graph requests (min)': `${fmt(graphFirst)} (${fmt(graphMinFull)})`,
        'round 0 Apple requests (writes)': `${fmt(total(first.apple))} (${fmt(total(first.apple, isAppleWrite))}): ${breakdown(first.apple)}`,
        'round 1 (no change) wall s': seconds(unchanged.wallMs),
        'round 1 Graph requests (min)': `${fmt(graphUnchanged)} (${fmt(groups)}): ${breakdown(unchanged.graph)}`,
        'round 1 Apple requests': fmt(appleUnchanged),
        'round 1 Cosmos writes': `${fmt(total(unchanged.cosmos.documents))} (${breakdown(unchanged.cosmos.documents)})`,
        'round 2 (1% joined) wall s, reconcile + passes': `${seconds(grown.wallMs)} (reconcile ${seconds(grown.reconcileMs)})`,
        'round 2 Graph requests (min)': `${fmt(graphGrown)} (${fmt(graphMinGrown)}): ${breakdown(grown.graph)}`,
        'round 2 Apple write requests (min)': `${fmt(appleGrownWrites)} (${fmt(appleWriteMin)}): ${breakdown(grown.apple, isAppleWrite)}`,
        'round 2 Apple reads': `${fmt(total(grown.apple, (k) => !isAppleWrite(k)))}: ${breakdown(grown.apple, (k) => !isAppleWrite(k))}`,
        'round 2 GET /assignments pages (one holders read by the reconciler and one by the pass, no restarts)': `${fmt(grown.apple['GET /assignments'] ?? 0)} (${fmt(holderPages)})`,
        'round 2 passes completed': `${fmt(passesCompleted)} of ${fmt(groups)}`,
        'round 2 Cosmos writes': `${fmt(total(grown.cosmos.documents))} (${breakdown(grown.cosmos.documents)})`,
        'round 2 reconciliations': states(grown.results),
        'joined / licensed (expected)': `${fmt(joined)} / ${fmt(passTotals.delivered)} (${fmt(groups * joiners)})`,
        'licenses at Apple (expected)': `${fmt(verify.assigned)} (${fmt(expectedAssigned)})`,
        'runs over budget': overBudget,
        'runs with spent ≠ members + joiners': spentWrong,
        'joiners without the book': verify.joinersWithout,
        'top-ups asked': topUpsAsked,
        'failed users': passTotals.failed,
        'passes or runs not completed': problems.length === 0 ? 'none' : `${problems.length}: ${[...new Set(problems)].slice(0, 3).join('; ')}`,
        'bot warnings/errors logged': logged.length === 0 ? '0' : `${logged.length}: ${logSummary.slice(0, 600)}`,
        'peak RSS MB, bot process (rounds; lifetime)': `${mb(botPeak)}; ${mb(process.resourceUsage().maxRSS * 1024)}`,
        'peak RSS MB, Apple sandbox + directory process': mb(worldStats.maxRssBytes),
        'peak RSS MB, Cosmos process': mb(cosmosFinal.maxRssBytes),
      },
      target:
        'no directory change: 0 Apple requests, 1 Graph request per group; 1% joined: Graph per group 1 delta + ceil(joiners/15) user reads, Apple writes = ceil(joiners/100) creations + ceil(joiners/1000) associates per assignment, every joiner licensed, no run over budget',
      met,
    };
  } finally {
    await stopServer(world.child);
    await stopServer(cosmos.child);
  }
}

const benchmark: Benchmark = {
  title: 'Standing assignments: 256 tokens × 10 assignments × 2,000-member groups, 1% joining (issue #14)',
  async run() {
    return [await reconcileBench()];
  },
};

export default benchmark;
