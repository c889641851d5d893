import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AppleBooksClient } from '../services/apple/AppleBooksClient';
import { Secret } from '../services/secrets/Secret';
import { spawnServer, stopServer } from './support/childServer';
import { requestJson } from './support/requestJson';
import type { Benchmark, BenchResult } from './types';

/**
 * Full sync read of one token (assets, 10,000 assignments, 5,000 users) through the sandbox with 20 ms
 * latency per call, at 1× and 10× the data. The sandbox runs in a child process so its data does not
 * count towards this process's heap: what is measured is the client streaming pages.
 */

const PAGE_SIZE = 200;
const LATENCY_MS = 20;
const BOOKS = 40;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface SandboxInfo {
  origin: string;
  baseUrl: string;
}

/** The sandbox's control API (`/_sandbox/...`): seeding and request statistics. */
function control<T>(origin: string, method: string, route: string, body?: unknown): Promise<T> {
  return requestJson<T>(`${origin}/_sandbox/${route}`, method, body);
}

async function fullSync(sandbox: SandboxInfo, scale: number): Promise<BenchResult> {
  const assignments = 10_000 * scale;
  const users = 5_000 * scale;
  const { token } = await control<{ token: string }>(sandbox.origin, 'POST', 'seed', { orgName: `Bench ×${scale}`, books: BOOKS, users, assignments });
  await control(sandbox.origin, 'POST', 'stats/reset');
  const client = new AppleBooksClient({ baseUrl: sandbox.baseUrl, token: new Secret(token) });

  gc();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  const sampler = setInterval(sample, 5);
  const started = Date.now();
  const counts = { assets: 0, assignments: 0, users: 0 };
  // The service config is cached per Apple URL across clients: read it afresh so each scale counts it once.
  await client.getServiceConfig({ refresh: true });
  for await (const page of client.assetPages()) {
    counts.assets += page.assets.length;
    sample();
  }
  for await (const page of client.assignmentPages()) {
    counts.assignments += page.assignments.length;
    sample();
  }
  for await (const page of client.userPages()) {
    counts.users += page.users.length;
    sample();
  }
  const wallMs = Date.now() - started;
  clearInterval(sampler);
  // What the sync still holds once garbage is gone: near zero when pages are streamed, not kept.
  gc();
  const retained = process.memoryUsage().heapUsed - baseline;
  const stats = await control<{ requests: number; maxRequestsPerSecond: number; maxInFlight: number }>(sandbox.origin, 'GET', 'stats');
  const minimum = 1 + Math.ceil(BOOKS / PAGE_SIZE) + Math.ceil(assignments / PAGE_SIZE) + Math.ceil(users / PAGE_SIZE);
  const ok = counts.assignments === assignments && counts.users === users && stats.requests === minimum && stats.maxRequestsPerSecond <= 15;
  return {
    name: `apple: full sync read ${assignments.toLocaleString('en')} assignments / ${users.toLocaleString('en')} users (${scale}×, ${LATENCY_MS} ms latency, page ${PAGE_SIZE})`,
    metrics: {
      'wall s': (wallMs / 1000).toFixed(1),
      requests: stats.requests,
      'minimum requests': minimum,
      'max requests/s': stats.maxRequestsPerSecond,
      'max in flight': stats.maxInFlight,
      'peak heap growth MB': ((peak - baseline) / 2 ** 20).toFixed(1),
      'retained heap MB': (retained / 2 ** 20).toFixed(1),
    },
    target: 'requests = pages + 1; ≤ 15 requests/s; heap flat from 1× to 10×',
    met: ok,
  };
}

const benchmark: Benchmark = {
  title: 'Apple sync read through the sandbox',
  async run() {
    const cli = path.join(__dirname, '..', 'local', 'appleSandbox', 'cli.ts');
    const { child, info: sandbox } = await spawnServer<SandboxInfo>(cli, ['--no-demo', '--page-size', String(PAGE_SIZE), '--latency-ms', String(LATENCY_MS)]);
    try {
      const one = await fullSync(sandbox, 1);
      const ten = await fullSync(sandbox, 10);
      const heap = (r: BenchResult): number => Number(r.metrics['peak heap growth MB']);
      // Flat: ten times the data keeps nothing after the sync and peaks well under ten times the 1× peak
      // (the peak is mostly young garbage from parsed pages, collected as the sync goes).
      const flat = Number(ten.metrics['retained heap MB']) < 2 && heap(ten) < 2 * Math.max(heap(one), 4);
      ten.metrics['heap vs 1× MB'] = (heap(ten) - heap(one)).toFixed(1);
      ten.met = (ten.met ?? false) && flat;
      return [one, ten];
    } finally {
      await stopServer(child);
    }
  },
};

export default benchmark;
