import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Where benchmark processes run. The server under test gets a core of its own and the load generator
 * (and the database, a separate machine in production) share the others, so a bot's turns per second
 * measure the bot and not how the scheduler split two cores among four busy processes. Linux with
 * taskset and at least two cores; elsewhere nothing is pinned and the numbers say so.
 */
export interface CpuPlan {
  /** Core list (taskset syntax) for the server under test. */
  server: string;
  /** Core list for everything else: the load generator, the database process. */
  others: string;
}

export function cpuPlan(): CpuPlan | undefined {
  const cores = os.cpus().length;
  if (process.platform !== 'linux' || cores < 2 || !existsSync('/usr/bin/taskset')) return undefined;
  return { server: String(cores - 1), others: cores === 2 ? '0' : `0-${cores - 2}` };
}

/** Moves every thread of a running process (this one by default) onto `cpus`. */
export function pinProcess(cpus: string, pid: number = process.pid): void {
  execFileSync('/usr/bin/taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Command and arguments that start `command` on `cpus` (or unchanged without a plan). */
export function onCpus(cpus: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  return cpus ? ['/usr/bin/taskset', ['-c', cpus, command, ...args]] : [command, [...args]];
}

/** CPU time (user + system, all threads) a Linux process has used so far, in microseconds; undefined elsewhere. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    // Fields after the command name: utime is the 12th, stime the 13th, in clock ticks (100 per second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ');
    if (!fields) return undefined;
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}
