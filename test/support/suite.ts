/**
 * The whole suite, as `npm test` runs it on each Node version: most specs in parallel (they wait on
 * sockets and timers far more than they compute, so more workers than cores pays), then the few that
 * start whole bot processes and a browser, one at a time, since their timings assume a quiet machine.
 *
 *   node --import tsx test/support/suite.ts          (TEST_JOBS sets the number of workers, default 4)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const MOCHA = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');

/**
 * Specs that run `npm start` as child processes or drive Chromium, and the budget property, which
 * interleaves two bot instances on the real stack and whose waits assume a machine that isn't busy.
 */
const ONE_AT_A_TIME = ['test/e2e/**/*.test.ts', 'test/faults/processKill.test.ts', 'test/bot/start.test.ts', 'test/services/assignments/budgetProperty.test.ts'];

function mocha(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MOCHA, ...args], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<void> {
  const jobs = process.env.TEST_JOBS ?? '4';
  const parallel = await mocha(['--parallel', '--jobs', jobs, ...ONE_AT_A_TIME.flatMap((spec) => ['--ignore', spec]), 'test/**/*.test.ts']);
  const serial = await mocha(ONE_AT_A_TIME);
  process.exit(parallel || serial);
}

void main();
