import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as CosmosServer from '@vercel/cosmosdb-server';
import { TurnContext } from 'botbuilder';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../../local/appleSandbox/demoData';
import { SandboxState } from '../../local/appleSandbox/SandboxState';

/** Shorter values (test fixtures like "abc") would match by accident; real tokens are far longer. */
const MIN_SECRET_LENGTH = 16;

/** Where a token could leave the bot; each is fed to the ledger by a hook below or by a test helper. */
export type OutputPlace = 'log line' | 'chat reply' | 'HTTP answer' | 'stored document' | 'bot process output';

interface Leak {
  source: string;
  /** The first characters of the secret only: the report must not become a leak itself. */
  secretPrefix: string;
}

interface Pattern {
  value: string;
  /** A secret is a leak wherever it is found; a probe only says which places were looked at. */
  secret: boolean;
  seenIn: Set<OutputPlace>;
}

// Rabin-Karp over the first MIN_SECRET_LENGTH characters of every pattern: the suite's outputs are scanned
// once each, whatever the number of tokens, instead of once per token. Integer arithmetic modulo 2^32 and a
// bitmap of the hashes in use keep it to a few nanoseconds a character.
const BASE = 257;
let HIGH = 1;
for (let i = 1; i < MIN_SECRET_LENGTH; i++) HIGH = Math.imul(HIGH, BASE);
const FILTER_BITS = 1 << 20;

function prefixHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < MIN_SECRET_LENGTH; i++) hash = (Math.imul(hash, BASE) + text.charCodeAt(i)) | 0;
  return hash;
}

function serialise(output: unknown): string {
  if (typeof output === 'string') return output;
  try {
    return JSON.stringify(output) ?? String(output);
  } catch {
    return String(output);
  }
}

/**
 * Everything the test process saw leave the bot (log lines, chat replies and invoke answers, HTTP answers
 * of /api/messages and /api/exports such as exported CSVs, every document written to an embedded Cosmos
 * server, audit events included, and the output of bot processes tests start) and every token value the
 * suite knew about. Each output is scanned when it is recorded (a token is registered when it is minted,
 * before it can be output), so nothing is kept but the leaks; test/secretsScan.test.ts fails the run if any.
 */
export class SecretsLedger {
  private readonly patterns = new Map<number, Pattern[]>();
  private readonly filter = new Uint8Array(FILTER_BITS / 8);
  private readonly known = new Map<string, Pattern>();
  private readonly leaks: Leak[] = [];
  private readonly counts = new Map<OutputPlace, number>();
  private secrets = 0;

  /** A token value (a whole .vpptoken file, or the inner token) that must never be output. */
  registerSecret(value: string | undefined): void {
    const trimmed = value?.trim();
    if (!trimmed || trimmed.length < MIN_SECRET_LENGTH) return;
    this.add(trimmed, true);
    // A .vpptoken file is Base64 of JSON carrying the inner token: that one is a secret too.
    try {
      const inner = (JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8')) as { token?: unknown }).token;
      if (typeof inner === 'string' && inner.length >= MIN_SECRET_LENGTH) this.add(inner, true);
    } catch {
      // not a token file: the value itself is what was registered
    }
  }

  /**
   * A harmless value (at least 16 characters) to look for like a secret: which places it turned up in shows
   * that those places are really scanned. Never reported as a leak.
   */
  watch(value: string): { seenIn(): ReadonlySet<OutputPlace> } {
    if (value.length < MIN_SECRET_LENGTH) throw new Error(`a watched value needs ${MIN_SECRET_LENGTH} characters or more`);
    const pattern = this.add(value, false);
    return { seenIn: () => pattern.seenIn };
  }

  /** One output of `place`: a log line, a reply activity, a stored document… (serialised when not a string). */
  record(place: OutputPlace, output: unknown, detail?: string): void {
    this.counts.set(place, (this.counts.get(place) ?? 0) + 1);
    const text = serialise(output);
    if (text.length < MIN_SECRET_LENGTH) return;
    const { filter } = this;
    let hash = prefixHash(text);
    for (let i = 0; ; i++) {
      const bit = hash & (FILTER_BITS - 1);
      if (filter[bit >> 3]! & (1 << (bit & 7))) this.match(text, i, hash, place, detail);
      const next = i + MIN_SECRET_LENGTH;
      if (next >= text.length) break;
      hash = (Math.imul(hash - Math.imul(text.charCodeAt(i), HIGH), BASE) + text.charCodeAt(next)) | 0;
    }
  }

  get secretCount(): number {
    return this.secrets;
  }

  get outputCount(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** How many outputs of `place` were scanned. */
  countOf(place: OutputPlace): number {
    return this.counts.get(place) ?? 0;
  }

  findLeaks(): Leak[] {
    return [...this.leaks];
  }

  private match(text: string, at: number, hash: number, place: OutputPlace, detail: string | undefined): void {
    for (const pattern of this.patterns.get(hash) ?? []) {
      if (!text.startsWith(pattern.value, at)) continue;
      pattern.seenIn.add(place);
      if (pattern.secret) this.leaks.push({ source: detail ? `${place} ${detail}` : place, secretPrefix: `${pattern.value.slice(0, 6)}…` });
    }
  }

  private add(value: string, secret: boolean): Pattern {
    const existing = this.known.get(value);
    if (existing) {
      if (secret && !existing.secret) throw new Error('a watched value cannot become a secret');
      return existing;
    }
    const pattern: Pattern = { value, secret, seenIn: new Set() };
    this.known.set(value, pattern);
    if (secret) this.secrets++;
    const hash = prefixHash(value);
    this.patterns.set(hash, [...(this.patterns.get(hash) ?? []), pattern]);
    const bit = hash & (FILTER_BITS - 1);
    this.filter[bit >> 3]! |= 1 << (bit & 7);
    return pattern;
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

// Chat: every activity a turn sends or updates, whichever adapter runs it (CloudAdapter over HTTP, the
// TestAdapter of dialog tests, proactive turns), invoke answers included.
const originalSend = TurnContext.prototype.sendActivities;
TurnContext.prototype.sendActivities = function (this: TurnContext, ...args: Parameters<TurnContext['sendActivities']>) {
  for (const activity of args[0]) secretsLedger.record('chat reply', activity);
  return originalSend.apply(this, args);
};
const originalUpdate = TurnContext.prototype.updateActivity;
TurnContext.prototype.updateActivity = function (this: TurnContext, ...args: Parameters<TurnContext['updateActivity']>) {
  secretsLedger.record('chat reply', args[0]);
  return originalUpdate.apply(this, args);
};

// Stored documents: every document an embedded Cosmos server (local/cosmos) accepts, as it answers the write
// with the document it now holds. The server is created through this module export at each start.
const cosmosServer = createRequire(__filename)('@vercel/cosmosdb-server') as typeof CosmosServer;
const originalCreateServer = cosmosServer.createHttpServer;
cosmosServer.createHttpServer = (...args: Parameters<typeof CosmosServer.createHttpServer>) => {
  const server = originalCreateServer(...args);
  server.prependListener('request', recordDocumentWrites);
  return server;
};

function recordDocumentWrites(req: IncomingMessage, res: ServerResponse): void {
  const container = /\/colls\/([^/]+)\/docs/.exec(req.url ?? '')?.[1];
  const query = req.headers['x-ms-documentdb-isquery'] === 'true' || String(req.headers['content-type']).includes('query+json');
  if (!container || query || (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH')) return;
  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    const [chunk] = args;
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) secretsLedger.record('stored document', chunk.toString(), decodeURIComponent(container));
    return Reflect.apply(end, this, args) as ServerResponse;
  } as ServerResponse['end'];
}

// HTTP answers of the bot that tests read: invoke answers on /api/messages and exported CSVs on /api/exports.
const pendingReads = new Set<Promise<void>>();
const originalFetch = globalThis.fetch;
globalThis.fetch = async function (...args: Parameters<typeof fetch>): Promise<Response> {
  const response = await originalFetch(...args);
  const path = URL.canParse(response.url) ? new URL(response.url).pathname : '';
  const route = /^\/api\/(messages|exports)\b/.exec(path)?.[0];
  if (route) {
    // A copy is read, so the test's own reading of the body is untouched; the path is cut to the route, since
    // an export path holds the link's secret.
    const read = response
      .clone()
      .text()
      .then((text) => secretsLedger.record('HTTP answer', text, route))
      .catch(() => undefined)
      .finally(() => pendingReads.delete(read));
    pendingReads.add(read);
  }
  return response;
};

/** Resolves once every HTTP answer read so far has been scanned. */
export async function answersScanned(): Promise<void> {
  while (pendingReads.size > 0) await Promise.allSettled([...pendingReads]);
}
