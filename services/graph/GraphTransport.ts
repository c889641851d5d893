import { ClientSecretCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { z } from 'zod';
import { ConfigError } from '../errors';
import type { Logger } from '../logging/logger';
import { backoffDelay, parseRetryAfter, type RetrySettings } from '../common/retry';
import { scrubSecrets } from '../secrets/Secret';
import { collectionSchema, graphErrorSchema } from './schemas';

/** App-only: the permissions granted to the app registration (or managed identity), not a user's. */
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** How long Graph's own words may be in a log line: Intune's serialised error documents run to kilobytes. */
const DETAIL_MESSAGE_MAX = 500;

/** A collection that never ends is a broken server, not a big tenant. */
const MAX_PAGES = 100_000;

/** Who the bot is to Graph: its app registration's secret, its managed identity, or a credential of the caller's. */
export interface GraphCredentialOptions {
  tenantId?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /**
   * Client id of the user-assigned managed identity the bot runs as (MicrosoftAppType=UserAssignedMSI):
   * Graph is then called as that identity, so no client secret exists to leak or expire.
   */
  managedIdentityClientId?: string | undefined;
  /** Overrides the others (tests). */
  credential?: TokenCredential | undefined;
}

/** Only the sign-in settings of a client's options, to hand to the transport. */
export function credentialsOf(options: GraphCredentialOptions): GraphCredentialOptions {
  const { tenantId, clientId, clientSecret, managedIdentityClientId, credential } = options;
  return { tenantId, clientId, clientSecret, managedIdentityClientId, credential };
}

export interface GraphTransportOptions extends GraphCredentialOptions {
  /** Graph's origin (https://graph.microsoft.com), or a local fake's; request paths start with the version. */
  baseUrl: string;
  retry: RetrySettings;
  /** Per attempt; Graph calls that hang would otherwise hold a dialog turn forever. */
  timeoutMs: number;
  fetch?: typeof fetch | undefined;
  logger?: Logger | undefined;
  /** With `now`, lets tests run the retries and their deadline without waiting. */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
}

export interface GraphCall {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * False for a create: after a 504 or a dropped connection Graph may have done it already, so only 429 and
   * 503 (refused before any work) are tried again. Reads, PATCHes, deletes and replacing actions are safe to repeat.
   */
  idempotent?: boolean;
}

/**
 * Why a call failed, before any client has put it in its admin's words:
 * - `auth`: no access token could be had (wrong tenant, client id or secret, or an expired secret);
 * - `network`: no answer (connection refused or dropped, timeout), after the retries;
 * - `status`: Graph answered non-2xx (for 429/503/504, after the retries);
 * - `response`: an answer that is not what Graph documents (not JSON, wrong shape, a nextLink to elsewhere).
 */
type GraphFailureKind = 'auth' | 'network' | 'status' | 'response';

interface GraphFailureInfo {
  status?: number | undefined;
  /** `error.code` of Graph's envelope. */
  graphCode?: string | undefined;
  /** `error.message`, scrubbed of known secrets; Graph's words, not the admin's. */
  graphMessage?: string | undefined;
  /** Graph's `request-id` (header, or `innerError`): what Microsoft support asks for. Logs only. */
  requestId?: string | undefined;
  /** The path without its query, for logs. */
  path: string;
  attempts: number;
}

/**
 * A failed Graph call in Graph's terms. Clients turn it into their own UserFacing errors (DirectoryError,
 * IntuneError), each with the permission and purpose of the call that failed. `message` is the technical
 * detail for the log: status, Graph's code and message, path; never a request body or header.
 */
export class GraphCallFailure extends Error {
  override readonly name = 'GraphCallFailure';

  constructor(
    readonly kind: GraphFailureKind,
    readonly detail: string,
    readonly info: GraphFailureInfo,
  ) {
    super(detail);
  }
}

/**
 * The credential Graph is called with. A loopback base URL is a local fake and takes none; the real Graph
 * without credentials is a configuration mistake, refused at start-up.
 */
function graphCredential(options: GraphCredentialOptions, baseUrl: URL): TokenCredential | undefined {
  if (options.credential) return options.credential;
  if (options.managedIdentityClientId) return new ManagedIdentityCredential({ clientId: options.managedIdentityClientId });
  if (options.tenantId && options.clientId && options.clientSecret) return new ClientSecretCredential(options.tenantId, options.clientId, options.clientSecret);
  if (LOOPBACK.has(baseUrl.hostname)) return undefined;
  throw new ConfigError(
    'Microsoft Graph needs the tenant id, client id and client secret of the bot\'s app registration, or a managed identity (MicrosoftAppType=UserAssignedMSI).',
  );
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One line of Graph's message for a log: whitespace folded, known secrets scrubbed, cut short. */
function oneLine(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const line = scrubSecrets(text).replace(/\s+/g, ' ').trim();
  return line.length > DETAIL_MESSAGE_MAX ? `${line.slice(0, DETAIL_MESSAGE_MAX)}…` : line;
}

/**
 * What every Graph client of the bot shares: app-only credentials, a timeout per attempt, bounded retries
 * of 429/503/504 and dropped connections honouring Retry-After (up to `retry.maxAttempts` and, when set,
 * `retry.deadlineMs` from the first try), Graph's error envelope read once, answers validated by the
 * caller's schema, and `@odata.nextLink` followed only on the base URL so the bearer token never leaves Graph.
 * It logs status, path and Graph's code, never a body or a header.
 */
export class GraphTransport {
  readonly baseUrl: string;
  private readonly credential: TokenCredential | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly retry: RetrySettings;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(options: GraphTransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.credential = graphCredential(options, new URL(this.baseUrl));
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.retry = options.retry;
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** The answer's body, validated by `schema`; an empty body (a 204) reaches the schema as undefined. */
  async json<T extends z.ZodType>(pathOrUrl: string, schema: T, call: GraphCall = {}): Promise<z.infer<T>> {
    const text = await this.text(pathOrUrl, call);
    const path = this.describe(pathOrUrl);
    let body: unknown;
    try {
      body = text.trim() === '' ? undefined : JSON.parse(text);
    } catch {
      throw new GraphCallFailure('response', `not JSON from ${path}`, { path, attempts: 1 });
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
      throw new GraphCallFailure('response', `unexpected shape from ${path}${where}: ${oneLine(issue?.message) ?? ''}`, { path, attempts: 1 });
    }
    return parsed.data;
  }

  /**
   * Every page of a collection, one at a time, following `@odata.nextLink` (only on the base URL) until a page
   * comes without one (learn.microsoft.com/graph/paging).
   */
  async *pages<T extends z.ZodType>(firstPathOrUrl: string, item: T, call: GraphCall = {}): AsyncGenerator<Array<z.infer<T>>, void, undefined> {
    const schema = collectionSchema(item);
    let next: string | undefined = firstPathOrUrl;
    for (let pages = 0; next !== undefined; pages++) {
      if (pages >= MAX_PAGES) throw new GraphCallFailure('response', `no last page within ${MAX_PAGES} pages of ${this.describe(firstPathOrUrl)}`, { path: this.describe(firstPathOrUrl), attempts: 1 });
      const page: z.infer<typeof schema> = await this.json(next, schema, call);
      yield page.value;
      next = page['@odata.nextLink'];
    }
  }

  /** The answer's body as text (empty for a 204), after the retries. */
  async text(pathOrUrl: string, call: GraphCall = {}): Promise<string> {
    const url = this.resolve(pathOrUrl);
    const path = this.describe(url);
    const deadline = this.retry.deadlineMs === undefined ? Number.POSITIVE_INFINITY : this.now() + this.retry.deadlineMs;
    const mayRetry = (attempt: number, delay: number) => attempt < this.retry.maxAttempts && this.now() + delay <= deadline;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
      if (call.body !== undefined) headers['content-type'] = 'application/json';
      const token = await this.accessToken(path);
      if (token) headers['authorization'] = `Bearer ${token}`;
      let response: Response;
      let body: string;
      try {
        response = await this.fetchImpl(url, {
          method: call.method ?? 'GET',
          headers,
          body: call.body === undefined ? undefined : JSON.stringify(call.body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        body = await response.text();
      } catch (err) {
        const detail = `${path}: ${oneLine((err as Error).message) ?? ''}`;
        const delay = backoffDelay(attempt, this.retry, undefined, this.random);
        // A create that may have reached Graph is not sent twice.
        if (call.idempotent === false || !mayRetry(attempt, delay)) throw new GraphCallFailure('network', detail, { path, attempts: attempt });
        this.logger?.warn({ attempt, delayMs: delay, path }, 'Microsoft Graph did not answer; retrying');
        await this.sleep(delay);
        continue;
      }
      if (response.ok) return body;
      const status = response.status;
      if (status === 429 || status === 503 || (status === 504 && call.idempotent !== false)) {
        const delay = backoffDelay(attempt, this.retry, parseRetryAfter(response.headers.get('retry-after'), this.now()), this.random);
        if (mayRetry(attempt, delay)) {
          this.logger?.warn({ status, attempt, delayMs: delay, path }, 'Microsoft Graph throttled a request; retrying');
          await this.sleep(delay);
          continue;
        }
      }
      throw this.statusFailure(status, body, response.headers, path, attempt);
    }
  }

  /** A path for logs: no origin and no query string (it can hold search text). */
  describe(url: string): string {
    return url.replace(this.baseUrl, '').split('?')[0] ?? '';
  }

  private statusFailure(status: number, body: string, headers: Headers, path: string, attempts: number): GraphCallFailure {
    let envelope: z.infer<typeof graphErrorSchema>['error'] | undefined;
    try {
      envelope = graphErrorSchema.safeParse(JSON.parse(body)).data?.error;
    } catch {
      envelope = undefined;
    }
    const graphMessage = oneLine(envelope?.message);
    const requestId = headers.get('request-id') ?? envelope?.innerError?.['request-id'];
    const detail = `${status} ${envelope?.code ?? ''} ${graphMessage ?? ''} at ${path}`.replace(/\s+/g, ' ').trim();
    return new GraphCallFailure('status', detail, { status, graphCode: envelope?.code, graphMessage, requestId, path, attempts });
  }

  private async accessToken(path: string): Promise<string | undefined> {
    if (!this.credential) return undefined;
    try {
      const token = await this.credential.getToken(GRAPH_SCOPE);
      if (!token) throw new Error('no token returned');
      return token.token;
    } catch (err) {
      throw new GraphCallFailure('auth', oneLine((err as Error).message.split('\n')[0]) ?? '', { path, attempts: 1 });
    }
  }

  /** Paths are relative to baseUrl; absolute nextLinks must stay on it so the token never leaves Graph. */
  private resolve(pathOrUrl: string): string {
    if (pathOrUrl.startsWith('/')) return `${this.baseUrl}${pathOrUrl}`;
    if (pathOrUrl.startsWith(`${this.baseUrl}/`)) return pathOrUrl;
    throw new GraphCallFailure('response', `next page link points outside ${this.baseUrl}`, { path: '', attempts: 0 });
  }
}
