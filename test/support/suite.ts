/**
 * The whole suite. Most specs run in parallel (they wait on sockets and timers far more than they
 * compute, so more workers than cores pays); the few that start whole bot processes, drive a browser, or
 * interleave two bot instances run one at a time, since their timings assume no other spec of theirs.
 *
 *   node --import tsx test/support/suite.ts                         every spec on this Node
 *   node --import tsx test/support/suite.ts --runtimes              each spec on the runtime that runs its code
 *   node --import tsx test/support/suite.ts --checks --runtimes     what `npm test` runs: the compiler and linters too
 *
 * `--runtimes` splits the suite by who runs the code under test, so that both runtimes are proven and the
 * suite still takes one pass: the services, the bot over HTTP, the store and the budget property run on
 * the production LTS (Node 24); `npm start` as a process, the killed and restarted process, and the
 * Playground in Chromium are what a developer runs, on the machines' Node (20). What no test of a runtime
 * exercises, its API, the compiler checks: `@types/node` is pinned to 20, the oldest runtime supported, so
 * code can use nothing Node 20 lacks. TEST_JOBS sets the number of parallel workers (default 3).
 *
 * With `--runtimes` two lanes run at the same time. The Playground specs mostly wait (on a bot starting, on
 * Chromium drawing the Playground's 9 MB page, on Apple's events): alone with the bot processes they kept two
 * cores a third busy for two minutes. The compiler, the linters, the parallel specs and then the bot processes
 * use what they leave. The Playground's output is held back and printed whole at the end, so it reads as if run alone.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureNode } from './onNode';
import { staticChecks } from './staticChecks';

const ROOT = path.resolve(__dirname, '..', '..');
const MOCHA = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
/** The production runtime (the Bicep's `NODE|24-lts`, the Dockerfile's `node:24`). */
const PRODUCTION_NODE = '24.22.3';

/** The Playground in Chromium: the developer's side, and the specs that mostly wait. */
const PLAYGROUND = ['test/e2e/**/*.test.ts'];
/** `npm start` as a child process, and the process killed and restarted: the developer's side too. */
const BOT_PROCESSES = ['test/faults/processKill.test.ts', 'test/bot/start.test.ts'];
const PROCESS_LEVEL = [...PLAYGROUND, ...BOT_PROCESSES];
/** Interleaves two bot instances on the real stack; its waits assume a machine that isn't busy. */
const BUDGET_PROPERTY = ['test/services/assignments/budgetProperty.test.ts'];
const ONE_AT_A_TIME = [...PROCESS_LEVEL, ...BUDGET_PROPERTY];

/** Runs mocha on `node`; `held` collects its output instead of printing it as it comes. */
function mocha(node: string, args: string[], held?: { output: string }): Promise<number> {
  return new Promise((resolve) => {
    const colour = held && process.stdout.isTTY ? ['--color'] : [];
    const child = spawn(node, [MOCHA, ...colour, ...args], { cwd: ROOT, stdio: held ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    const keep = (chunk: Buffer) => {
      if (held) held.output += chunk.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function banner(node: string, what: string): void {
  process.stdout.write(`\n  ${what} on Node.js ${node === process.execPath ? process.version : `v${PRODUCTION_NODE}`}\n`);
}

async function main(): Promise<void> {
  // Three, not four: alone, as fast (73–80 s against 75–78 s), and about a tenth less CPU (fewer copies of the same
  // modules to load and compile), which the Playground lane beside them needs.
  const jobs = process.env.TEST_JOBS ?? '3';
  const parallel = ['--parallel', '--jobs', jobs, ...ONE_AT_A_TIME.flatMap((spec) => ['--ignore', spec]), 'test/**/*.test.ts'];
  const results: number[] = [];
  if (process.argv.includes('--runtimes')) {
    // First, and alone: a first run downloads Node 24 synchronously, which would stall the held lane's pipes.
    const production = ensureNode(PRODUCTION_NODE);
    // The Playground lane takes longest: it starts at once. The bot processes go after the parallel specs, on
    // the first lane, so that the two lanes end about together (in one lane with the Playground, they made it
    // the last to end by a minute; in a third lane, everything took longer).
    const held = { output: '' };
    const playground = mocha(process.execPath, PLAYGROUND, held);
    if (process.argv.includes('--checks')) results.push(await staticChecks());
    banner(production, 'Services, the bot over HTTP, the store');
    results.push(await mocha(production, parallel));
    results.push(await mocha(production, BUDGET_PROPERTY));
    banner(process.execPath, '`npm start` and the killed process');
    results.push(await mocha(process.execPath, BOT_PROCESSES));
    results.push(await playground);
    banner(process.execPath, 'The Playground in Chromium');
    process.stdout.write(held.output);
  } else {
    if (process.argv.includes('--checks')) results.push(await staticChecks());
    results.push(await mocha(process.execPath, parallel));
    results.push(await mocha(process.execPath, ONE_AT_A_TIME));
  }
  process.exit(results.find((code) => code !== 0) ?? 0);
}

if (require.main === module) void main();
