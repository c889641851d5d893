import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../../local/appleSandbox/demoData';
import { SandboxState } from '../../local/appleSandbox/SandboxState';

/** Shorter values (test fixtures like "abc") would match by accident; real tokens are far longer. */
const MIN_SECRET_LENGTH = 16;

export interface Leak {
  source: string;
  /** The first characters of the secret only: the report must not become a leak itself. */
  secretPrefix: string;
}

/**
 * Everything the test suite saw leave the bot (log lines, chat replies, stored documents and audit
 * events) and every token value the suite knew about. `findLeaks()` says which output held which
 * token; test/secretsScan.test.ts fails the run if any did.
 */
export class SecretsLedger {
  private readonly secrets = new Set<string>();
  private readonly outputs: Array<{ source: string; text: string }> = [];

  /** A token value (a whole .vpptoken file, or the inner token) that must never be output. */
  registerSecret(value: string | undefined): void {
    const trimmed = value?.trim();
    if (!trimmed || trimmed.length < MIN_SECRET_LENGTH) return;
    this.secrets.add(trimmed);
    // A .vpptoken file is Base64 of JSON carrying the inner token: that one is a secret too.
    try {
      const inner = (JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8')) as { token?: unknown }).token;
      if (typeof inner === 'string' && inner.length >= MIN_SECRET_LENGTH) this.secrets.add(inner);
    } catch {
      // not a token file: the value itself is what was registered
    }
  }

  /** One output: a log line, a reply activity, a stored document (serialised). */
  record(source: string, output: unknown): void {
    this.outputs.push({ source, text: typeof output === 'string' ? output : JSON.stringify(output) });
  }

  get secretCount(): number {
    return this.secrets.size;
  }

  get outputCount(): number {
    return this.outputs.length;
  }

  findLeaks(): Leak[] {
    const leaks: Leak[] = [];
    for (const { source, text } of this.outputs) {
      for (const secret of this.secrets) {
        if (text.includes(secret)) leaks.push({ source, secretPrefix: `${secret.slice(0, 6)}…` });
      }
    }
    return leaks;
  }
}

/** The suite's one ledger: mocha runs every test file in this process. */
export const secretsLedger = new SecretsLedger();

for (const file of Object.values(DEMO_TOKEN_FILES)) secretsLedger.registerSecret(file);
for (const demo of Object.values(DEMO_TOKENS)) secretsLedger.registerSecret(demo.token);

// Tokens the sandbox mints or registers during tests are secrets as well. SandboxState is the one place
// they come from, so the ledger listens there rather than asking every test to report them.
const originalMint = SandboxState.prototype.mintToken;
SandboxState.prototype.mintToken = function (this: SandboxState, ...args: Parameters<SandboxState['mintToken']>): string {
  const bearer = originalMint.apply(this, args);
  secretsLedger.registerSecret(bearer);
  return bearer;
};
const originalRegister = SandboxState.prototype.registerToken;
SandboxState.prototype.registerToken = function (this: SandboxState, ...args: Parameters<SandboxState['registerToken']>): void {
  secretsLedger.registerSecret(args[0]);
  originalRegister.apply(this, args);
};
