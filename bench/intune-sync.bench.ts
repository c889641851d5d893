import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { EMBEDDED_COSMOS_KEY } from '../local/cosmos/EmbeddedCosmos';
import { IntuneGraphClient } from '../services/intune/IntuneGraphClient';
import { IntuneSyncEngine } from '../services/intune/IntuneSyncEngine';
import { IntuneTokenMirror } from '../services/intune/IntuneTokenMirror';
import { silentLogger } from '../services/logging/logger';
import { openDatabase } from '../services/store/cosmosClient';
import { createStore } from '../services/store/Store';
import { SyncService } from '../services/sync/SyncService';
import type { SyncOutcome } from '../services/sync/types';
import { spawnServer, stopServer } from './support/childServer';
import type { IntuneWorldInfo, IntuneWorldStats } from './support/intuneWorld';
import { RequestCounter } from './support/requestCounter';
import { requestJson } from './support/requestJson';
import type { Benchmark, BenchResult } from './types';

/**
 * Issue #20: a round of Intune-mode syncs over a whole tenant, 256 VPP tokens × 50 books (12,800 ebooks in
 * Intune), run twice: the first round brings every book into the store, the second finds nothing changed.
 *
 * Three processes: this one is the bot (IntuneGraphClient, IntuneTokenMirror, IntuneSyncEngine and
 * SyncService, wired as bot/application.ts wires them in Intune mode); the Apple sandbox with the local
 * Intune on it runs in a child (support/intuneWorld.ts, seeded as if every token had been uploaded to Intune);
 * the Cosmos-protocol emulator in another (as sync.bench.ts). Graph requests are counted by kind at the
 * client's fetch. Intune's own work with Apple (client config, assets, metadata lookup) is not the bot's
 * and is not counted.
 *
 * What one token's sync must ask of Graph: `POST …/syncLicenses` (1), `GET …/vppTokens/{id}` until
 * `lastSyncStatus` is completed (at least 1: how many depends on how long Intune takes and on the poll
 * interval, which this bench does not change), and its books. Graph documents no filter on managedEBooks, so
 * the books come from reading the tenant's whole catalogue, ceil(all books / page) pages, and only a read that
 * STARTED after the token's Intune sync completed shows its books as that sync left them. Minimums for the
 * books, from the lowest:
 * - if Graph filtered by vppTokenId: ceil(token's books / page) per token;
 * - one catalogue read for the round: possible only if every token's Intune sync finished before it;
 * - with SyncService syncing `concurrency` tokens at a time, each token waits for its read inside one of those
 *   slots, so one read serves at most `concurrency` tokens: ceil(tokens / concurrency) reads. This is the
 *   target;
 * - every token reading the catalogue itself (the engine before catalogue reads were shared): tokens reads.
 *
 * Cosmos writes as the emulator counted them: books (12,800 on the first round, 0 on the second) apart from
 * bookkeeping (run records, token status, leases). Peak RSS of the three processes (kernel high-water marks,
 * seeding included). Wall time is local: Intune and Cosmos answer in milliseconds here, Graph in tens to
 * hundreds of them; the poll interval is local mode's (250 ms; production's is 10 s).
 *
 * BENCH_INTUNE_TOKENS (default 256), BENCH_INTUNE_CONCURRENCY (16, as sync.bench.ts; the bot's SyncService
 * defaults to 4) and BENCH_INTUNE_PAGE (100; Graph documents no page size for managedEBooks) change the shape.
 */

const TOKENS = Number(process.env.BENCH_INTUNE_TOKENS ?? 256);
const CONCURRENCY = Number(process.env.BENCH_INTUNE_CONCURRENCY ?? 16);
const PAGE_SIZE = Number(process.env.BENCH_INTUNE_PAGE ?? 100);
const BOOKS = 50;
/** Local mode's INTUNE_SYNC_POLL_INTERVAL_MS, and the local Intune's default time in `inProgress`. */
const POLL_INTERVAL_MS = 250;
const SYNC_DELAY_MS = 250;
const TENANT = '00000000-0000-4000-8000-00000000b020';
const DATA_CONTAINERS = ['books'];

interface CosmosStats {
  documents: Record<string, number>;
  requests: Record<string, number>;
  maxRssBytes: number;
}

/** A Graph request's kind, from what the Intune client sends. */
function graphKind(method: string, url: URL): string {
  const route = url.pathname.replace(/^\/(?:beta|v1\.0)/, '');
  if (method === 'POST' && /^\/deviceAppManagement\/vppTokens\/[^/]+\/syncLicenses$/.test(route)) return 'syncLicenses';
  if (method === 'GET' && /^\/deviceAppManagement\/vppTokens\/[^/]+$/.test(route)) return 'token status';
  if (method === 'GET' && route === '/deviceAppManagement/vppTokens') return 'token list';
  // A read of the catalogue starts with the page without a $skiptoken.
  if (method === 'GET' && route === '/deviceAppManagement/managedEBooks') return url.searchParams.has('$skiptoken') ? 'ebook page (next)' : 'ebook page (first)';
  return `${method} ${route}`;
}

interface Round {
  outcomes: SyncOutcome[];
  wallMs: number;
  /** Graph requests by kind. */
  graph: Record<string, number>;
  cosmos: CosmosStats;
}

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
const n = (value: number): string => value.toLocaleString('en');
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const bookkeeping = (counts: Record<string, number>): string => {
  const entries = Object.entries(counts).filter(([c]) => !DATA_CONTAINERS.includes(c));
  return `${n(sum(entries.map(([, v]) => v)))} (${entries.map(([c, v]) => `${c} ${v}`).join(', ')})`;
};

const benchmark: Benchmark = {
  title: 'Intune sync: 256 tokens through the local Intune into the Cosmos emulator (issue #20)',
  async run(): Promise<BenchResult[]> {
    const world = await spawnServer<IntuneWorldInfo>(path.join(__dirname, 'support', 'intuneWorld.ts'), [
      '--tokens',
      String(TOKENS),
      '--books',
      String(BOOKS),
      '--page-size',
      String(PAGE_SIZE),
      '--sync-delay-ms',
      String(SYNC_DELAY_MS),
    ]);
    const cosmos = await spawnServer<{ endpoint: string }>(path.join(__dirname, 'support', 'cosmosServer.ts'), ['--partition-index', '--stats']);
    try {
      const { endpoint } = cosmos.info;
      const client = new CosmosClient({ endpoint, key: EMBEDDED_COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
      const store = await createStore(await openDatabase(client, `bench-${randomBytes(4).toString('hex')}`));
      const counter = new RequestCounter(graphKind);
      const logger = silentLogger();
      const intune = new IntuneGraphClient({ baseUrl: world.info.intuneBaseUrl, fetch: counter.fetch, logger });
      const mirror = new IntuneTokenMirror({ store, intune, tenantId: TENANT, logger });
      const engine = new IntuneSyncEngine({ store, intune, logger, pollIntervalMs: POLL_INTERVAL_MS });
      const service = new SyncService({
        engine,
        store,
        concurrency: CONCURRENCY,
        logger,
        beforeRound: () => mirror.run(),
        refreshToken: (token) => mirror.refresh(token),
      });

      // The bot finds the tokens in Intune (as after uploads, or tokens added in Intune directly): not measured.
      const seedStarted = Date.now();
      const mirrored = await mirror.run();
      if (mirrored.added.length !== TOKENS) throw new Error(`the mirror added ${mirrored.added.length} of ${TOKENS} tokens`);
      const seedMs = Date.now() - seedStarted + world.info.seedMs;

      const round = async (): Promise<Round> => {
        counter.reset();
        await requestJson(`${endpoint}/_bench/stats`, 'POST');
        const started = Date.now();
        const outcomes = await service.syncAll('manual');
        const wallMs = Date.now() - started;
        return { outcomes, wallMs, graph: counter.snapshot(), cosmos: await requestJson<CosmosStats>(`${endpoint}/_bench/stats`) };
      };
      const first = await round();
      const second = await round();
      const cosmosStats = await requestJson<CosmosStats>(`${endpoint}/_bench/stats`);
      const worldStats = await requestJson<IntuneWorldStats>(`${world.info.controlUrl}/stats`);
      const botPeakRss = process.resourceUsage().maxRSS * 1024;

      const pagesPerRead = Math.ceil((TOKENS * BOOKS) / PAGE_SIZE);
      const targetReads = Math.ceil(TOKENS / CONCURRENCY);
      const count = (r: Round, kind: string): number => r.graph[kind] ?? 0;
      const describe = (r: Round): Record<string, string | number> => {
        const reads = count(r, 'ebook page (first)');
        const pages = reads + count(r, 'ebook page (next)');
        const failed = r.outcomes.filter((o) => o.status !== 'completed');
        return {
          'wall s': (r.wallMs / 1000).toFixed(1),
          'syncs completed': `${r.outcomes.length - failed.length} of ${TOKENS}${failed.length ? ` (${failed.map((o) => o.error?.code ?? o.status).join(', ')})` : ''}`,
          'Graph requests': n(sum(Object.values(r.graph))),
          'syncLicenses (min)': `${n(count(r, 'syncLicenses'))} (${n(TOKENS)})`,
          'token status reads (min)': `${n(count(r, 'token status'))} (${n(TOKENS)})`,
          'token list pages': n(count(r, 'token list')),
          'catalogue reads (target ≤)': `${n(reads)} (${n(targetReads)})`,
          'ebook pages (target ≤)': `${n(pages)} (${n(targetReads * pagesPerRead)})`,
          'Cosmos book writes': `${n(r.cosmos.documents.books ?? 0)} documents in ${n(r.cosmos.requests.books ?? 0)} requests`,
          'Cosmos bookkeeping writes': bookkeeping(r.cosmos.documents),
        };
      };
      const ok = (r: Round, books: number): boolean =>
        r.outcomes.length === TOKENS &&
        r.outcomes.every((o) => o.status === 'completed') &&
        count(r, 'syncLicenses') === TOKENS &&
        count(r, 'ebook page (first)') <= targetReads &&
        (r.cosmos.documents.books ?? 0) === books;
      const prefixed = (label: string, metrics: Record<string, string | number>): Record<string, string | number> =>
        Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`${label} ${k}`, v]));

      return [
        {
          name: `intune sync: ${TOKENS} tokens × ${BOOKS} books (${n(TOKENS * BOOKS)} ebooks in one tenant; Graph page ${PAGE_SIZE}, ${CONCURRENCY} tokens at a time, poll ${POLL_INTERVAL_MS} ms)`,
          metrics: {
            'seeding wall s (not measured below)': (seedMs / 1000).toFixed(1),
            ...prefixed('1st round', describe(first)),
            ...prefixed('2nd round (no change)', describe(second)),
            'ebook pages if Graph filtered by vppTokenId': n(TOKENS * Math.ceil(BOOKS / PAGE_SIZE)),
            'ebook pages, one catalogue read per round': n(pagesPerRead),
            'ebook pages, one catalogue read per token': n(TOKENS * pagesPerRead),
            'peak RSS MB, bot process': mb(botPeakRss),
            'peak RSS MB, Intune + Apple process': mb(worldStats.maxRssBytes),
            'peak RSS MB, Cosmos process': mb(cosmosStats.maxRssBytes),
          },
          target: `1 syncLicenses per token; catalogue reads ≤ ceil(tokens / ${CONCURRENCY} at a time), each ceil(all books / page) pages; 1st round writes each book once, 2nd (unchanged) 0 book writes; no failures`,
          met: ok(first, TOKENS * BOOKS) && ok(second, 0),
        },
      ];
    } finally {
      await stopServer(world.child);
      await stopServer(cosmos.child);
    }
  },
};

export default benchmark;
