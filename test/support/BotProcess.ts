import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { secretsLedger } from './secretsLedger';

const ROOT = path.resolve(__dirname, '..', '..');

export interface BotProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bot/start.ts` exactly as `npm start` does, in its own process, so tests see what an admin sees:
 * start-up output, the ports, and the exit on SIGTERM.
 */
export class BotProcess {
  private child: ChildProcess | undefined;
  stdout = '';
  stderr = '';
  private exited: Promise<BotProcessResult> | undefined;

  constructor(private readonly env: Record<string, string>) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): this {
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.env };
    // The parent's Bot registration must never turn a local test run into production mode.
    for (const key of ['MicrosoftAppId', 'MicrosoftAppPassword', 'MicrosoftAppTenantId']) if (!(key in this.env)) delete env[key];
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bot', 'start.ts')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString()));
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout: this.stdout, stderr: this.stderr })));
    // What the process printed is its log: the secrets scan reads it, once the output has ended, like in-process log lines.
    child.once('close', () => {
      secretsLedger.record('bot process output', this.stdout);
      secretsLedger.record('bot process output', this.stderr);
    });
    return this;
  }

  /** Waits until stdout matches, failing early if the process exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) {
        throw new Error(`bot exited with ${this.child.exitCode} before printing ${pattern}: ${this.stderr.slice(-800)}`);
      }
      if (Date.now() > deadline) throw new Error(`bot did not print ${pattern} in time; stdout: ${this.stdout.slice(-800)} stderr: ${this.stderr.slice(-800)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  wait(): Promise<BotProcessResult> {
    if (!this.exited) throw new Error('not started');
    return this.exited;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<BotProcessResult> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.wait();
  }
}
