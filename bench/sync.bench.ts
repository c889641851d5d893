import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { CosmosClient, type OperationInput } from '@azure/cosmos';
import { BookMetadataClient } from '../services/apple/BookMetadataClient';
import { forEachLimited } from '../services/common/forEachLimited';
import { Keyring } from '../services/crypto/Keyring';
import { TokenCipher } from '../services/crypto/TokenCipher';
import { silentLogger } from '../services/logging/logger';
import { Secret } from '../services/secrets/Secret';
import { createStore, type Store } from '../services/store/Store';
import { EMBEDDED_COSMOS_KEY } from '../local/cosmos/EmbeddedCosmos';
import { openDatabase } from '../services/store/cosmosClient';
import { tokenCipherContext, type VppToken } from '../services/store/entities/vppToken';
import type { VppUser } from '../services/store/entities/vppUser';
import { SyncEngine } from '../services/sync/SyncEngine';
import { SyncService } from '../services/sync/SyncService';
import type { SyncOutcome } from '../services/sync/types';
import { AppleClientFactory } from '../services/tokens/AppleClientFactory';
import { spawnServer, stopServer } from './support/childServer';
import { requestJson } from './support/requestJson';
import type { Benchmark, BenchResult } from './types';

/**
 * Issue #6: the scheduled sync of a whole tenant, 256 tokens × 200 books × 2,000 of the bot's VPP users
 * (one license each), run twice: the first sync writes every book and user (563,200 documents), the
 * second finds nothing changed.
 *
 * Three processes, as in production: this one runs the sync engine (SyncService, 16 tokens at a time)
 * and is "the bot"; the Apple sandbox (page size 200) and the Cosmos-protocol emulator each run in a
 * child. Measured: wall time of each sync; Apple requests against the minimum (per token: client
 * config + every page of assets, users and assignments; incremental second sync: one page of each);
 * Cosmos writes as the emulator counted them per container (books and users must be 0 on the second
 * sync; run records, token status and leases are bookkeeping, a few per token); failed syncs; peak
 * RSS of the bot process and of the Cosmos process (kernel high-water marks, seeding included).
 *
 * What it is not: Azure. The emulator is given a per-partition index (partitionScopedEmulator.ts)
 * because as shipped it copies the whole container for every query (quadratic in the 512,000 users);
 * it keeps everything in memory, answers in microseconds where Azure takes milliseconds, and never
 * throttles. So wall time here is CPU-bound on two processes sharing the machine, not a prediction of
 * Azure wall time; requests and writes are what carry over. Seeding (the bot's users written through
 * the SDK's transactional batch, 100 per request) is not part of either sync.
 *
 * BENCH_SCALE (default 1 = 256 tokens) scales the number of tokens; the per-token shape stays.
 */

const FULL_TOKENS = 256;
const BOOKS = 200;
const USERS = 2_000;
const PAGE_SIZE = 200;
const CONCURRENCY = 16;
/** Cosmos transactional batches hold at most 100 operations, all in one partition. */
const SEED_BATCH = 100;
const SEED_CONCURRENCY = 8;
const TENANT = '00000000-0000-0000-0000-00000000b001';
const MDM = { id: 'vpp-books-bot:bench', name: 'VPP Books bot (bench)' };
const DATA_CONTAINERS = ['books', 'vppUsers'];

interface SandboxInfo {
  origin: string;
  baseUrl: string;
  metadataUrl: string;
}

interface CosmosStats {
  /** Documents written per container; `requests`: write requests (a transactional batch is one). */
  documents: Record<string, number>;
  requests: Record<string, number>;
  maxRssBytes: number;
}

async function seedToken(sandbox: SandboxInfo, store: Store, cipher: TokenCipher, index: number): Promise<void> {
  const name = `Bench ${index}`;
  const { token: bearer } = await requestJson<{ token: string }>(`${sandbox.origin}/_sandbox/seed`, 'POST', { orgName: name, books: BOOKS, users: USERS, assignments: USERS });
  const id = randomUUID();
  const now = new Date().toISOString();
  const token: VppToken = {
    id,
    tenantId: TENANT,
    displayName: name,
    organizationName: name,
    accountType: 'education',
    locationName: name,
    expirationDateTime: new Date(Date.now() + 300 * 86_400_000).toISOString(),
    state: 'valid',
    lastSyncStatus: 'none',
    consecutiveSyncFailures: 0,
    encryptedToken: cipher.encrypt(new Secret(bearer), tokenCipherContext({ tenantId: TENANT, id })),
    createdBy: { aadObjectId: 'bench' },
    createdDateTime: now,
    lastModifiedDateTime: now,
  };
  await store.tokens.create(token);
  // The bot created these users earlier (as the assignment flow does); the sync brings their Apple state.
  // The same clientUserIds under every token, as the sandbox names them: partitions must keep them apart.
  const users: OperationInput[] = Array.from({ length: USERS }, (_, n) => {
    const user: VppUser = { id: `seed-user-${n}`, clientUserId: `seed-user-${n}`, tokenId: id, tenantId: TENANT, status: 'registered', createdDateTime: now, lastModifiedDateTime: now };
    return { operationType: 'Create', partitionKey: id, resourceBody: { ...store.vppUsers.store.validate(user), type: store.vppUsers.store.docType } };
  });
  const batches: OperationInput[][] = [];
  for (let b = 0; b < users.length; b += SEED_BATCH) batches.push(users.slice(b, b + SEED_BATCH));
  await forEachLimited(batches, SEED_CONCURRENCY, async (operations) => {
    const response = await store.containers.vppUsers.items.batch(operations, id);
    const failed = (response.result ?? []).filter((r) => r.statusCode >= 300);
    if (response.code !== 200 || failed.length > 0) throw new Error(`seeding users of ${name}: batch answered ${response.code} (${failed.length} failed)`);
  });
}

interface Measured {
  outcomes: SyncOutcome[];
  wallMs: number;
  requests: number;
  maxRequestsPerSecond: number;
  cosmos: CosmosStats;
}

async function measure(sandbox: SandboxInfo, cosmosEndpoint: string, run: () => Promise<SyncOutcome[]>): Promise<Measured> {
  await requestJson(`${sandbox.origin}/_sandbox/stats/reset`, 'POST');
  await requestJson(`${cosmosEndpoint}/_bench/stats`, 'POST');
  const started = Date.now();
  const outcomes = await run();
  const wallMs = Date.now() - started;
  const apple = await requestJson<{ requests: number; maxRequestsPerSecond: number }>(`${sandbox.origin}/_sandbox/stats`);
  const cosmos = await requestJson<CosmosStats>(`${cosmosEndpoint}/_bench/stats`);
  return { outcomes, wallMs, requests: apple.requests, maxRequestsPerSecond: apple.maxRequestsPerSecond, cosmos };
}

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
const data = (counts: Record<string, number>): number => sum(DATA_CONTAINERS.map((c) => counts[c] ?? 0));
const bookkeeping = (counts: Record<string, number>): string => {
  const entries = Object.entries(counts).filter(([c]) => !DATA_CONTAINERS.includes(c));
  return `${sum(entries.map(([, n]) => n))} (${entries.map(([c, n]) => `${c} ${n}`).join(', ')})`;
};
/** Data writes as the emulator counted them, and whether the engine's own count agrees. */
const dataWrites = (m: Measured): string => {
  const engine = sum(m.outcomes.map((o) => o.dataWrites));
  const documents = data(m.cosmos.documents);
  return `${documents.toLocaleString('en')} documents in ${data(m.cosmos.requests).toLocaleString('en')} requests${engine === documents ? '' : ` (engine counted ${engine})`}`;
};
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

const benchmark: Benchmark = {
  title: 'Sync engine: 256 tokens through the Apple sandbox into the Cosmos emulator (issue #6)',
  async run(): Promise<BenchResult[]> {
    const scale = Number(process.env.BENCH_SCALE ?? 1);
    if (!(scale > 0)) throw new Error(`BENCH_SCALE must be a positive number, got "${process.env.BENCH_SCALE}"`);
    const tokens = Math.max(1, Math.round(FULL_TOKENS * scale));
    const sandbox = await spawnServer<SandboxInfo>(path.join(__dirname, '..', 'local', 'appleSandbox', 'cli.ts'), ['--no-demo', '--page-size', String(PAGE_SIZE), '--event-delay-ms', '0']);
    const cosmos = await spawnServer<{ endpoint: string }>(path.join(__dirname, 'support', 'cosmosServer.ts'), ['--partition-index', '--stats']);
    try {
      const { endpoint } = cosmos.info;
      const client = new CosmosClient({ endpoint, key: EMBEDDED_COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
      const store = await createStore(await openDatabase(client, `bench-${randomBytes(4).toString('hex')}`));
      const cipher = new TokenCipher(new Keyring('bench', new Map([['bench', randomBytes(32)]])));
      const seedStarted = Date.now();
      await forEachLimited(
        Array.from({ length: tokens }, (_, i) => i),
        4,
        (i) => seedToken(sandbox.info, store, cipher, i),
      );
      const seedMs = Date.now() - seedStarted;
      const engine = new SyncEngine({
        store,
        cipher,
        apple: new AppleClientFactory({ baseUrl: sandbox.info.baseUrl, logger: silentLogger() }),
        mdm: MDM,
        metadata: new BookMetadataClient({ lookupUrl: sandbox.info.metadataUrl, token: new Secret('bench'), logger: silentLogger() }),
        logger: silentLogger(),
      });
      const service = new SyncService({ engine, store, concurrency: CONCURRENCY });
      const first = await measure(sandbox.info, endpoint, () => service.syncAll('manual'));
      const second = await measure(sandbox.info, endpoint, () => service.syncAll('manual'));
      const cosmosStats = await requestJson<CosmosStats>(`${endpoint}/_bench/stats`);
      const botPeakRss = process.resourceUsage().maxRSS * 1024;

      // Per token: /client/config, then every page of assets, users and assignments (one license per user).
      const minimum = tokens * (1 + Math.ceil(BOOKS / PAGE_SIZE) + Math.ceil(USERS / PAGE_SIZE) + Math.ceil(USERS / PAGE_SIZE));
      const minimumIncremental = tokens * 4;
      const failed = [...first.outcomes, ...second.outcomes].filter((o) => o.status !== 'completed').length;
      const documents = tokens * (BOOKS + USERS);
      const name = `sync: ${tokens} tokens × ${BOOKS} books × ${USERS.toLocaleString('en')} users (${documents.toLocaleString('en')} documents; scale ${scale}, page ${PAGE_SIZE}, ${CONCURRENCY} tokens at a time)`;
      return [
        {
          name,
          metrics: {
            'seeding wall s (not measured below)': (seedMs / 1000).toFixed(1),
            'first sync wall s': (first.wallMs / 1000).toFixed(1),
            'first sync Apple requests': first.requests,
            'first sync minimum requests': minimum,
            'first sync Cosmos data writes (books+users)': dataWrites(first),
            'first sync Cosmos bookkeeping writes': bookkeeping(first.cosmos.documents),
            'second sync wall s': (second.wallMs / 1000).toFixed(1),
            'second sync Apple requests': second.requests,
            'second sync minimum requests': minimumIncremental,
            'second sync Cosmos data writes (books+users)': dataWrites(second),
            'second sync Cosmos bookkeeping writes': bookkeeping(second.cosmos.documents),
            'max Apple requests/s (all tokens)': first.maxRequestsPerSecond,
            'failed syncs': failed,
            'peak RSS MB, bot process': mb(botPeakRss),
            'peak RSS MB, Cosmos process': mb(cosmosStats.maxRssBytes),
          },
          target: 'first sync writes each book and user once; second (unchanged) sync: 0 data writes; Apple requests = the minimum; no failures',
          met: failed === 0 && data(second.cosmos.documents) === 0 && data(first.cosmos.documents) === documents && first.requests === minimum && second.requests === minimumIncremental,
        },
      ];
    } finally {
      await stopServer(sandbox.child);
      await stopServer(cosmos.child);
    }
  },
};

export default benchmark;
