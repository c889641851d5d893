import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../services/logging/logger';

export interface RunningPlayground {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the Microsoft 365 Agents Playground as a child process pointed at the bot. It is the local
 * Teams client: renders cards, runs Universal Actions and serves a fake connector for proactive sends.
 */
export async function startPlayground(options: { botUrl: string; port: number; logger: Logger; timeoutMs?: number }): Promise<RunningPlayground> {
  let cli: string;
  try {
    cli = require.resolve('@microsoft/m365agentsplayground/cli.js');
  } catch {
    throw new Error('The Agents Playground is not installed (it is a devDependency): run `npm ci` without --omit=dev, or set PLAYGROUND_ENABLED=false.');
  }
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'start', '-e', `${options.botUrl}/api/messages`, '-c', 'msteams', '-p', String(options.port), '--dt'],
    { env: { ...process.env, TEAMSAPPTESTER_BROWSER: 'none', BROWSER: 'none' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The Agents Playground did not start within the time limit')), options.timeoutMs ?? 60_000);
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The playground falls back to a random port when the asked one is taken: read the real one.
      const match = /Listening on (\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => options.logger.debug({ playground: chunk.toString().trim() }, 'playground stderr'));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The Agents Playground exited early (code ${code ?? 'null'}): ${output.trim().slice(-300)}`));
    });
  });

  return {
    url: `http://localhost:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
