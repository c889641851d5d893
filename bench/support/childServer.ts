import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { onCpus } from './cpuPinning';

/**
 * Benchmarks run servers in processes of their own so their CPU and memory are measured apart. A child
 * server follows services/common/announceAndServe.ts: one JSON line saying where it is, and it stops
 * when its stdin closes (or on SIGTERM).
 */

/**
 * Parent side: runs a TypeScript server script (on the given cores, when set) and waits for the line it
 * announces. BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the servers;
 * `nodeArgs` are Node options the server itself needs (a larger heap, say).
 */
export async function spawnServer<T>(script: string, args: readonly string[] = [], options: { cpus?: string | undefined; nodeArgs?: readonly string[] } = {}): Promise<{ child: ChildProcess; info: T }> {
  const extra = [...(options.nodeArgs ?? []), ...(process.env.BENCH_CHILD_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  const [command, commandArgs] = onCpus(options.cpus, process.execPath, [...extra, '--import', 'tsx', script, ...args]);
  const child = spawn(command, commandArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${script} exited before it was ready (${String(code)})`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  lines.close();
  return { child, info: JSON.parse(line) as T };
}

/** Closes the child's stdin and waits for it to exit, killing it if it takes longer than 10 s. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
