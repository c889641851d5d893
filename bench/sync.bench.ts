import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BookMetadataClient } from '../services/apple/BookMetadataClient';
import { Keyring, TokenCipher } from '../services/crypto';
import { silentLogger } from '../services/logging/logger';
import { Secret } from '../services/secrets/Secret';
import { createStore, type Store } from '../services/store';
import { openDatabase } from '../services/store/cosmosClient';
import { tokenCipherContext, type VppToken } from '../services/store/entities/vppToken';
import { EmbeddedCosmos } from '../services/store/local/EmbeddedCosmos';
import { SyncEngine } from '../services/sync/SyncEngine';
import { SyncService } from '../services/sync/SyncService';
import type { SyncOutcome } from '../services/sync/types';
import { AppleClientFactory } from '../services/tokens/AppleClientFactory';
import type { Benchmark, BenchResult } from './types';

/**
 * The scheduled sync of a whole tenant: 256 tokens × 200 books × 2,000 of the bot's VPP users (one
 * license each) through the Apple sandbox (in a child process, page size 200) into embedded Cosmos.
 * BENCH_SCALE scales the number of tokens (the per-token shape stays); the default (8 tokens) keeps
 * the run near two minutes on a 2-core machine: the first sync writes every book and user, and the
 * embedded Cosmos server slows down as it fills (it scans rather than indexes), so the full 256
 * tokens (563k documents) is a run for real Cosmos, not for this machine.
 */

const FULL_TOKENS = 256;
const BOOKS = 200;
const USERS = 2_000;
const PAGE_SIZE = 200;
const CONCURRENCY = 16;
const DEFAULT_SCALE = 1 / 32;
const TENANT = '00000000-0000-0000-0000-00000000b001';
const MDM = { id: 'vpp-books-bot:bench', name: 'VPP Books bot (bench)' };

interface SandboxChild {
  child: ChildProcess;
  origin: string;
  baseUrl: string;
  metadataUrl: string;
}

async function startSandboxChild(): Promise<SandboxChild> {
  const cli = path.join(__dirname, '..', 'services', 'apple', 'sandbox', 'cli.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, '--no-demo', '--page-size', String(PAGE_SIZE), '--event-delay-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return { child, ...(JSON.parse(line) as { origin: string; baseUrl: string; metadataUrl: string }) };
}

async function control<T>(origin: string, method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${origin}/_sandbox/${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`sandbox control ${route}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

async function seedTokens(sandbox: SandboxChild, store: Store, cipher: TokenCipher, count: number): Promise<void> {
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const { token: bearer } = await control<{ token: string }>(sandbox.origin, 'POST', 'seed', { orgName: `Bench ${i}`, books: BOOKS, users: USERS, assignments: USERS });
    const id = randomUUID();
    const token: VppToken = {
      id,
      tenantId: TENANT,
      displayName: `Bench ${i}`,
      organizationName: `Bench ${i}`,
      accountType: 'education',
      locationName: `Bench ${i}`,
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
    const users = Array.from({ length: USERS }, (_, n) => `seed-user-${n}`);
    for (let b = 0; b < users.length; b += 100) {
      await Promise.all(
        users.slice(b, b + 100).map((clientUserId) =>
          store.vppUsers.upsertIfChanged({ id: clientUserId, clientUserId, tokenId: id, tenantId: TENANT, status: 'registered', createdDateTime: now, lastModifiedDateTime: now }, null),
        ),
      );
    }
  }
}

interface Measured {
  outcomes: SyncOutcome[];
  wallMs: number;
  requests: number;
  maxRequestsPerSecond: number;
}

async function measure(sandbox: SandboxChild, run: () => Promise<SyncOutcome[]>): Promise<Measured> {
  await control(sandbox.origin, 'POST', 'stats/reset');
  const started = Date.now();
  const outcomes = await run();
  const wallMs = Date.now() - started;
  const stats = await control<{ requests: number; maxRequestsPerSecond: number }>(sandbox.origin, 'GET', 'stats');
  return { outcomes, wallMs, requests: stats.requests, maxRequestsPerSecond: stats.maxRequestsPerSecond };
}

const benchmark: Benchmark = {
  title: 'Sync engine: many tokens through the sandbox into embedded Cosmos',
  async run(): Promise<BenchResult[]> {
    const scale = Number(process.env.BENCH_SCALE ?? DEFAULT_SCALE);
    const tokens = Math.max(1, Math.round(FULL_TOKENS * scale));
    const sandbox = await startSandboxChild();
    const cosmos = new EmbeddedCosmos();
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    try {
      await cosmos.start();
      const store = await createStore(await openDatabase(cosmos.client(), `bench-${randomBytes(4).toString('hex')}`));
      const cipher = new TokenCipher(Keyring.single('bench', randomBytes(32)));
      await seedTokens(sandbox, store, cipher, tokens);
      const engine = new SyncEngine({
        store,
        cipher,
        apple: new AppleClientFactory({ baseUrl: sandbox.baseUrl, logger: silentLogger() }),
        mdm: MDM,
        metadata: new BookMetadataClient({ lookupUrl: sandbox.metadataUrl, token: new Secret('bench'), logger: silentLogger() }),
        logger: silentLogger(),
      });
      const service = new SyncService({ engine, store, concurrency: CONCURRENCY });
      const first = await measure(sandbox, () => service.syncAll('manual'));
      const second = await measure(sandbox, () => service.syncAll('manual'));
      // Per token: /client/config, then every page of assets, users and assignments (one license per user).
      const minimum = tokens * (1 + Math.ceil(BOOKS / PAGE_SIZE) + Math.ceil(USERS / PAGE_SIZE) + Math.ceil(USERS / PAGE_SIZE));
      const minimumIncremental = tokens * 4;
      const failed = [...first.outcomes, ...second.outcomes].filter((o) => o.status !== 'completed').length;
      const writes = (m: Measured) => m.outcomes.reduce((sum, o) => sum + o.dataWrites, 0);
      const name = `sync: ${tokens} tokens × ${BOOKS} books × ${USERS.toLocaleString('en')} users (scale ${scale} of ${FULL_TOKENS} tokens, page ${PAGE_SIZE}, ${CONCURRENCY} at a time)`;
      return [
        {
          name,
          metrics: {
            'first sync wall s': (first.wallMs / 1000).toFixed(1),
            'first sync Apple requests': first.requests,
            'first sync minimum requests': minimum,
            'first sync Cosmos writes (books+users)': writes(first),
            'second sync wall s': (second.wallMs / 1000).toFixed(1),
            'second sync Apple requests': second.requests,
            'second sync minimum requests': minimumIncremental,
            'second sync Cosmos writes (books+users)': writes(second),
            'bookkeeping writes per token per sync': 3,
            'max Apple requests/s (all tokens)': first.maxRequestsPerSecond,
            'failed syncs': failed,
            'peak RSS MB (incl. embedded Cosmos)': (peakRss / 2 ** 20).toFixed(0),
          },
          target: 'second (unchanged) sync: 0 data writes; requests = pages + 1 per token (incremental: 4); no failures',
          met: failed === 0 && writes(second) === 0 && first.requests === minimum && second.requests === minimumIncremental,
        },
      ];
    } finally {
      clearInterval(sampler);
      sandbox.child.kill('SIGTERM');
      await cosmos.stop();
    }
  },
};

export default benchmark;
