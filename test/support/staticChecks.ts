/**
 * `npm test`'s first step: the compiler and the linters at the same time. Each is one mostly
 * single-threaded process, so on two cores both finish in about the time of the slower one. Their output
 * is held back and printed whole, one after the other, so it reads as if they had run in turn.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CHECKS = ['typecheck', 'lint'];

function run(script: string): Promise<{ script: string; code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', script], { cwd: ROOT, shell: process.platform === 'win32' });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code, signal) => resolve({ script, code: code ?? (signal ? 1 : 0), output }));
  });
}

/** Runs both, prints their output and answers the first failing exit code, or 0. */
export async function staticChecks(): Promise<number> {
  const results = await Promise.all(CHECKS.map(run));
  for (const { script, code, output } of results) {
    process.stdout.write(`\n> npm run ${script}: ${code === 0 ? 'passed' : `failed (exit ${code})`}\n${output}`);
  }
  return results.find((r) => r.code !== 0)?.code ?? 0;
}

if (require.main === module) void staticChecks().then((code) => process.exit(code));
