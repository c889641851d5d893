import type { ChildProcess } from 'node:child_process';
import { LOAD_ADMINS, loadAdminId } from './support/loadAdmins';
import { spawnServer, stopServer } from './support/childServer';
import { cpuPlan, pinProcess, processCpuMicros, type CpuPlan } from './support/cpuPinning';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PLAYGROUND_TENANT_ID } from '../services/config/config';
import type { Benchmark, BenchResult } from './types';

/**
 * 50 concurrent admins chatting with the bot over HTTP on loopback (help, tokens, unknown text: turns
 * that never call Apple), against a plain botbuilder echo bot measured the same way in the same run.
 * Each bot runs in its own process (bench/support/loadServer.ts); this process only generates load.
 * On Linux the bot gets a core of its own and this process and the database share the rest
 * (bench/support/cpuPinning.ts), so the comparison is of the bots' work, not of CPU contention; the bot
 * process's CPU time per turn is reported beside the throughput. BENCH_LOAD_SECONDS sets the measured
 * duration per bot (default 60), measured in alternating 10-s windows.
 */

const ADMINS = LOAD_ADMINS;
const TEXTS = ['help', 'tokens', 'what can you do with my books?'];
const TARGET_RATIO = 1.5;
const MODES = ['echo', 'vpp'] as const;
/** Length of one measured window; the bots alternate window by window. */
const WINDOW_SECONDS = 10;

interface Stats {
  replies: number;
  memory: NodeJS.MemoryUsage;
}

interface RunningBot {
  child: ChildProcess;
  url: string;
  sinkUrl: string;
}

/** What one bot did over all of its measured windows. */
interface Tally {
  latencies: number[];
  errors: number;
  seconds: number;
  /** CPU time of the bot's process (all threads) in the measured windows; undefined where the OS does not tell. */
  cpuMicros: number | undefined;
  peakRss: number;
  heapUsed: number;
  replies: number;
}

const emptyTally = (): Tally => ({ latencies: [], errors: 0, seconds: 0, cpuMicros: 0, peakRss: 0, heapUsed: 0, replies: 0 });

async function startBot(mode: 'vpp' | 'echo', plan: CpuPlan | undefined): Promise<RunningBot> {
  const { child, info } = await spawnServer<{ url: string; sinkUrl: string }>(path.join(__dirname, 'support', 'loadServer.ts'), plan ? [mode, plan.others] : [mode], {
    cpus: plan?.server,
  });
  return { child, ...info };
}

async function stats(bot: RunningBot): Promise<Stats> {
  return (await (await fetch(`${bot.sinkUrl}bench/stats`)).json()) as Stats;
}

function activity(sinkUrl: string, admin: number, turn: number): string {
  return JSON.stringify({
    type: 'message',
    id: `load-${admin}-${turn}`,
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: sinkUrl,
    text: TEXTS[(admin + turn) % TEXTS.length],
    from: { id: `user-${admin}`, name: `Admin ${admin}`, aadObjectId: loadAdminId(admin) },
    recipient: { id: 'bot-id', name: 'VPP Books' },
    // Its own conversation per admin: dialog state is per conversation, as in Teams.
    conversation: { id: `load-conversation-${admin}`, conversationType: 'personal', tenantId: PLAYGROUND_TENANT_ID },
    channelData: { tenant: { id: PLAYGROUND_TENANT_ID } },
  });
}

/**
 * One POST over a keep-alive connection. node:http rather than fetch: fetch costs this process several
 * times the CPU per request, and a load generator that saturates first measures itself, not the bot.
 */
function post(agent: http.Agent, url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Drives `bot` with every admin for `seconds` and adds what happened to `tally` (when given). */
async function drive(bot: RunningBot, seconds: number, tally?: Tally): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: ADMINS });
  const sampler = setInterval(() => {
    void stats(bot).then(
      (s) => tally && (tally.peakRss = Math.max(tally.peakRss, s.memory.rss)),
      () => undefined,
    );
  }, 500);
  const cpuBefore = bot.child.pid === undefined ? undefined : processCpuMicros(bot.child.pid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: ADMINS }, async (_, admin) => {
      for (let turn = 0; performance.now() < deadline; turn++) {
        const sent = performance.now();
        try {
          const status = await post(agent, `${bot.url}/api/messages`, activity(bot.sinkUrl, admin, turn));
          if (status !== 200) {
            if (tally) tally.errors += 1;
          } else tally?.latencies.push(performance.now() - sent);
        } catch {
          if (tally) tally.errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = bot.child.pid === undefined ? undefined : processCpuMicros(bot.child.pid);
  clearInterval(sampler);
  agent.destroy();
  if (!tally) return;
  tally.seconds += elapsed;
  tally.cpuMicros = tally.cpuMicros !== undefined && cpuBefore !== undefined && cpuAfter !== undefined ? tally.cpuMicros + (cpuAfter - cpuBefore) : undefined;
  const final = await stats(bot);
  tally.peakRss = Math.max(tally.peakRss, final.memory.rss);
  tally.heapUsed = final.memory.heapUsed;
  tally.replies = final.replies;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Both bots run side by side and take turns in short windows, so a neighbour that slows the machine
 * for a while slows both alike instead of whichever bot happened to be measured then.
 */
async function measureBoth(seconds: number, plan: CpuPlan | undefined): Promise<Record<'echo' | 'vpp', Tally>> {
  const bots = { echo: await startBot('echo', plan), vpp: await startBot('vpp', plan) };
  try {
    const tallies = { echo: emptyTally(), vpp: emptyTally() };
    // Warm-up: JIT, connection pools, the 50 conversations' first state documents.
    for (const mode of MODES) await drive(bots[mode], Math.min(5, Math.max(1, seconds / 10)));
    const windows = Math.max(1, Math.round(seconds / WINDOW_SECONDS));
    for (let w = 0; w < windows; w++) for (const mode of MODES) await drive(bots[mode], seconds / windows, tallies[mode]);
    return tallies;
  } finally {
    await Promise.all(MODES.map((mode) => stopServer(bots[mode].child)));
  }
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

const bench: Benchmark = {
  title: 'load: 50 concurrent admins over HTTP, our bot vs a botbuilder echo bot',
  async run(): Promise<BenchResult[]> {
    const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? '60');
    if (!Number.isFinite(seconds) || seconds <= 0) throw new Error('BENCH_LOAD_SECONDS must be a positive number');
    const results: Record<'echo' | 'vpp', { result: Tally; tps: number; p50: number; p99: number; cpuPerTurn: number | undefined }> = {} as never;
    const plan = cpuPlan();
    if (plan) pinProcess(plan.others);
    try {
      const tallies = await measureBoth(seconds, plan);
      for (const mode of MODES) {
        const result = tallies[mode];
        const sorted = [...result.latencies].sort((a, b) => a - b);
        const turns = result.latencies.length;
        results[mode] = {
          result,
          tps: turns / result.seconds,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          cpuPerTurn: result.cpuMicros !== undefined && turns > 0 ? result.cpuMicros / turns : undefined,
        };
      }
    } finally {
      // The benchmarks after this one get the whole machine back.
      if (plan) pinProcess(`0-${os.cpus().length - 1}`);
    }
    const where = plan ? `bot on core ${plan.server}, load generator and database on ${plan.others}` : 'processes not pinned';
    const rows: BenchResult[] = MODES.map((mode) => {
      const { result, tps, p50, p99, cpuPerTurn } = results[mode];
      return {
        name:
          mode === 'echo'
            ? `load: botbuilder echo bot, ${ADMINS} admins, ${seconds} s (${where})`
            : `load: VPP Books bot (local mode, non-Apple turns), ${ADMINS} admins, ${seconds} s (${where})`,
        metrics: {
          'turns/s': round(tps),
          'bot CPU µs/turn': cpuPerTurn === undefined ? 'n/a' : round(cpuPerTurn, 0),
          'p50 ms': round(p50),
          'p99 ms': round(p99),
          turns: result.latencies.length,
          errors: result.errors,
          'replies received': result.replies,
          'peak RSS MB': round(result.peakRss / 2 ** 20),
          'heap used MB': round(result.heapUsed / 2 ** 20),
        },
        target: 'errors: 0',
        met: result.errors === 0,
      };
    });
    const { echo, vpp } = results;
    const ratios = { throughput: echo.tps / vpp.tps, p50: vpp.p50 / echo.p50, p99: vpp.p99 / echo.p99 };
    const cpuRatio = echo.cpuPerTurn && vpp.cpuPerTurn ? vpp.cpuPerTurn / echo.cpuPerTurn : undefined;
    rows.push({
      name: 'load: VPP Books bot ÷ echo bot (same machine, same run)',
      metrics: {
        'throughput ×': round(ratios.throughput, 2),
        'p50 latency ×': round(ratios.p50, 2),
        'p99 latency ×': round(ratios.p99, 2),
        'bot CPU per turn ×': cpuRatio === undefined ? 'n/a' : round(cpuRatio, 2),
      },
      target: `within ${TARGET_RATIO}× of the echo bot (throughput and latency)`,
      met: Object.values(ratios).every((r) => r <= TARGET_RATIO),
    });
    return rows;
  },
};

export default bench;
