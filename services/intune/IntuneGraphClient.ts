import { formatCount } from '../common/format';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { z } from 'zod';
import { ConfigError } from '../errors';
import { escapeMarkdown, looksLikeToken } from '../common/chatText';
import { parseRetryAfter, type RetrySettings } from '../common/retry';
import { truncate } from '../common/truncate';
import type { Logger } from '../logging/logger';
import { GraphCallFailure, GraphTransport, type GraphCall, type GraphCredentialOptions, credentialsOf } from '../graph/GraphTransport';
import {
  IntuneRetryAfterError,
  type DeviceInstallState,
  type EBookAssignment,
  type EBookInstallSummary,
  type IntuneAccountType,
  type IntuneApi,
  type IntuneEBook,
  type IntuneVppToken,
  type UserInstallStateSummary,
  type VppTokenWrite,
} from './IntuneApi';
import type { Secret } from '../secrets/Secret';
import {
  IntuneAuthError,
  IntuneError,
  type IntuneErrorInit,
  IntuneNotFoundError,
  IntunePermissionError,
  IntuneRefusedError,
  IntuneResponseError,
  IntuneUnavailableError,
} from './IntuneError';
import {
  deviceInstallStateSchema,
  eBookAssignmentSchema,
  eBookInstallSummarySchema,
  entitySchema,
  intuneErrorDocumentSchema,
  managedEBookSchema,
  userInstallStateSummarySchema,
  vppTokenSchema,
} from './schemas';

const GRAPH_ORIGIN = 'https://graph.microsoft.com';

/**
 * Which Graph version each resource is called on ("Microsoft supports Intune /beta APIs, but they are subject
 * to more frequent change. Microsoft recommends using version v1.0 when possible", the beta pages):
 * - vppTokens on **beta**: only beta has the `duplicateLocationId` state (issue #20 must notice it), `displayName`,
 *   `locationName`, `claimTokenManagementFromExternalMdm` and `tokenActionResults` (how Intune's actions on the
 *   token went, with a failure reason where Intune gives one); the token a write or sync returns is read the same way.
 * - a book's assignments and `assign` on **beta**: only beta's targets carry the assignment filter an Intune admin
 *   may set (`deviceAndAppManagementAssignmentFilterId`/`…Type`; v1.0's deviceAndAppManagementAssignmentTarget has
 *   no properties). `assign` replaces the whole list, so a list read on v1.0 and sent back would drop every filter.
 * - managedEBooks and the install states on **v1.0**: everything the bot reads of them is there (iosVppEBook's
 *   vppTokenId and license counts included).
 */
const TOKENS = '/beta/deviceAppManagement/vppTokens';
const BOOKS = '/v1.0/deviceAppManagement/managedEBooks';
const BETA_BOOKS = '/beta/deviceAppManagement/managedEBooks';

/**
 * The least privileged application permission each call documents: the first one of its Learn page's table
 * (v1.0 and beta alike, read 2026). For the vppToken calls the current pages put DeviceManagementApps.* first
 * and DeviceManagementServiceConfig.* second, while older revisions named only the latter (and the oldest said
 * "Application: Not supported"): a 403 names both, so an admin whose tenant follows the older rule is not stuck.
 * DeviceManagementApps.ReadWrite.All alone covers every call.
 */
const PERMISSION = {
  tokenRead: { permission: 'DeviceManagementApps.Read.All', alternative: 'DeviceManagementServiceConfig.Read.All' },
  tokenWrite: { permission: 'DeviceManagementApps.ReadWrite.All', alternative: 'DeviceManagementServiceConfig.ReadWrite.All' },
  bookRead: { permission: 'DeviceManagementApps.Read.All' },
  bookWrite: { permission: 'DeviceManagementApps.ReadWrite.All' },
} as const;

type Permission = { readonly permission: string; readonly alternative?: string };

/**
 * Graph allows an app 1,000 Intune requests (100 writes) per 20 seconds per tenant (throttling-limits, Intune
 * books and enrollment services) and asks for seconds of Retry-After beyond: a call keeps trying for a minute,
 * whatever the number of tries, then says so. Retry-After is waited in full, never shortened: one longer than
 * `maxRetryAfterMs` ends the call at once with an IntuneRetryAfterError saying when to try again.
 */
const DEFAULT_INTUNE_RETRY: RetrySettings = { maxAttempts: Number.POSITIVE_INFINITY, deadlineMs: 60_000, baseDelayMs: 1_000, maxDelayMs: 15_000, maxRetryAfterMs: 30_000 };

/** A call's last answer that asked to wait: its status, and when (epoch ms) Graph may be called again. */
interface CallState {
  status?: number | undefined;
  retryAfterMs?: number | undefined;
  notBefore?: number | undefined;
}

/** Thrown instead of a wait longer than the client waits within one call; the call gives up with the time. */
class WaitTooLong extends Error {
  constructor(readonly state: CallState) {
    super('Graph asked to wait longer than one call waits');
  }
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How much of Intune's own explanation reaches chat. */
const REASON_MAX = 300;

export interface IntuneGraphClientOptions extends GraphCredentialOptions {
  /**
   * Graph's origin, https://graph.microsoft.com by default (the same setting as the directory's, GRAPH_BASE_URL),
   * or a local fake's; the client adds `/beta` or `/v1.0` per call, so the origin carries no version.
   */
  baseUrl?: string | undefined;
  fetch?: typeof fetch | undefined;
  logger?: Logger | undefined;
  retry?: Partial<RetrySettings> | undefined;
  /** Per attempt. */
  timeoutMs?: number | undefined;
  /** With `now`, lets tests run the retries and their deadline without waiting. */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
}

interface CallSpec {
  /** For a 403: the least privileged application permission the call documents (and the older pages' one). */
  permission: Permission;
  /** What the call was for, after "could not …": "list the VPP tokens". */
  purpose: string;
  /** For a 404: what was missing, in the admin's words. */
  notFound: string;
  /** Values the request carried that must never come back in an error, whatever Graph echoed. */
  secrets?: readonly string[];
  /** False for a create (see GraphCall.idempotent). */
  idempotent?: boolean;
}

const tokenSpec = (tokenId: string, purpose: string, permission: Permission = PERMISSION.tokenWrite): CallSpec => ({
  permission,
  purpose,
  notFound: `The VPP token ${tokenId}`,
});
const bookSpec = (eBookId: string, purpose: string, permission: Permission = PERMISSION.bookRead): CallSpec => ({
  permission,
  purpose,
  notFound: `The book ${eBookId}`,
});

const REDACTED = '[redacted]';

function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((result, secret) => (secret.length > 0 ? result.split(secret).join(REDACTED) : result), text);
}

/**
 * Graph's message for chat: Intune's own `Message` out of the JSON document it serialises into Graph's
 * message, its support ids and internal URL cut off, secrets and anything token-like left out, one
 * escaped line. Undefined when nothing useful is left ("An error has occurred" says nothing).
 */
function safeReason(message: string | undefined, secrets: readonly string[]): string | undefined {
  if (!message) return undefined;
  let reason = message;
  try {
    const document = intuneErrorDocumentSchema.safeParse(JSON.parse(message));
    if (document.success) reason = document.data.Message;
  } catch {
    // Not Intune's document: Graph's own sentence.
  }
  reason = redact(reason, secrets)
    .split(/\s+-\s+(?:Operation ID|Activity ID|Url:|CustomApiErrorPhrase)/i)[0]!
    .replace(/https?:\/\/\S+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (reason === '' || looksLikeToken(reason) || /^an? (internal server )?error has occurred\.?$/i.test(reason)) return undefined;
  return escapeMarkdown(truncate(reason, REASON_MAX, '…'));
}

/** The vppToken body of a create or update: only what was given, as Graph names it. */
function tokenBody(input: VppTokenWrite): { body: Record<string, unknown>; secrets: string[] } {
  const body: Record<string, unknown> = { '@odata.type': '#microsoft.graph.vppToken' };
  const secrets: string[] = [];
  if (input.token !== undefined) {
    // The whole .vpptoken file content (its Base64 text), "the token string downloaded from" Apple.
    const token = input.token.reveal();
    body['token'] = token;
    secrets.push(token);
  }
  if (input.appleId !== undefined) body['appleId'] = input.appleId;
  if (input.accountType !== undefined) body['vppTokenAccountType'] = input.accountType;
  if (input.displayName !== undefined) body['displayName'] = input.displayName;
  if (input.claimFromExternalMdm !== undefined) body['claimTokenManagementFromExternalMdm'] = input.claimFromExternalMdm;
  return { body, secrets };
}

/**
 * IntuneApi over Microsoft Graph, app-only (the bot's app registration or managed identity, as for the
 * directory). Every answer is validated into the IntuneApi types; every failure is an IntuneError whose
 * `userMessage` an admin can act on, with the permission a 403 needs. Collections are followed across
 * `@odata.nextLink` on the base URL only; 429/503/504 are retried, honouring Retry-After, up to a deadline.
 * No token (a `.vpptoken`'s content) is kept, logged or put in an error.
 */
export class IntuneGraphClient implements IntuneApi {
  readonly baseUrl: string;
  private readonly transport: GraphTransport;
  private readonly logger: Logger | undefined;
  private readonly maxRetryAfterMs: number;
  private readonly now: () => number;
  /** Each call's last answer asking to wait, for the transport's fetch and sleep within that call. */
  private readonly calls = new AsyncLocalStorage<CallState>();

  constructor(options: IntuneGraphClientOptions = {}) {
    const baseUrl = (options.baseUrl ?? GRAPH_ORIGIN).replace(/\/+$/, '');
    if (/\/(beta|v1\.0)$/i.test(baseUrl)) {
      throw new ConfigError(
        `The Microsoft Graph address for Intune is ${baseUrl}: give the origin only (such as ${GRAPH_ORIGIN}); I add /beta or /v1.0 to each call myself.`,
      );
    }
    const retry = { ...DEFAULT_INTUNE_RETRY, ...options.retry };
    this.maxRetryAfterMs = retry.maxRetryAfterMs;
    this.now = options.now ?? Date.now;
    const fetchImpl = options.fetch ?? ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => fetch(input, init));
    const sleep = options.sleep ?? realSleep;
    this.transport = new GraphTransport({
      ...credentialsOf(options),
      baseUrl,
      retry,
      timeoutMs: options.timeoutMs ?? 30_000,
      fetch: async (input, init) => {
        const response = await fetchImpl(input, init);
        this.noteAnswer(response);
        return response;
      },
      logger: options.logger,
      // The transport would shorten a Retry-After beyond the cap to the cap and try early: the call ends instead.
      sleep: async (ms) => {
        const state = this.calls.getStore();
        if (state?.retryAfterMs !== undefined && state.retryAfterMs > this.maxRetryAfterMs) throw new WaitTooLong({ ...state });
        await sleep(ms);
      },
      now: options.now,
      random: options.random,
    });
    this.baseUrl = this.transport.baseUrl;
    this.logger = options.logger;
  }

  async listVppTokens(): Promise<IntuneVppToken[]> {
    return this.all(TOKENS, vppTokenSchema, { permission: PERMISSION.tokenRead, purpose: 'list the VPP tokens', notFound: 'The VPP tokens list' });
  }

  async getVppToken(id: string): Promise<IntuneVppToken | undefined> {
    return this.orUndefined(this.json(`${TOKENS}/${encodeURIComponent(id)}`, entitySchema(vppTokenSchema), tokenSpec(id, 'read the VPP token', PERMISSION.tokenRead)));
  }

  /**
   * Sent once: after a dropped connection or a 504 Intune may have taken the token already, so only a 429 or
   * 503 is tried again (IntuneUnavailableError says the outcome is unknown otherwise).
   */
  async createVppToken(input: VppTokenWrite & { token: Secret; appleId: string; accountType: IntuneAccountType }): Promise<IntuneVppToken> {
    const { body, secrets } = tokenBody(input);
    const spec: CallSpec = { permission: PERMISSION.tokenWrite, purpose: 'add the VPP token', notFound: 'The VPP tokens list', secrets, idempotent: false };
    return this.json(TOKENS, entitySchema(vppTokenSchema), spec, { method: 'POST', body });
  }

  /** Graph documents 200 with the token; a 204 (as many Graph PATCHes answer) is followed by a read. */
  async updateVppToken(id: string, input: VppTokenWrite): Promise<IntuneVppToken> {
    const { body, secrets } = tokenBody(input);
    const spec: CallSpec = { ...tokenSpec(id, 'update the VPP token'), secrets };
    const answer = await this.json(`${TOKENS}/${encodeURIComponent(id)}`, entitySchema(vppTokenSchema).optional(), spec, { method: 'PATCH', body });
    return answer ?? this.mustGetVppToken(id);
  }

  /** A token Intune no longer has counts as deleted: a retried delete finds it gone. */
  async deleteVppToken(id: string): Promise<void> {
    await this.orUndefined(this.send(`${TOKENS}/${encodeURIComponent(id)}`, tokenSpec(id, 'remove the VPP token'), { method: 'DELETE' }));
  }

  /** Documented as 200 with the token (inside `value`); an empty answer is followed by a read. */
  async syncLicenses(id: string): Promise<IntuneVppToken> {
    const answer = await this.json(`${TOKENS}/${encodeURIComponent(id)}/syncLicenses`, entitySchema(vppTokenSchema).optional(), tokenSpec(id, 'start a sync of the VPP token'), {
      method: 'POST',
    });
    return answer ?? this.mustGetVppToken(id);
  }

  /** Every page Graph gives, with the books that are not iosVppEBooks left out (a page may then be empty). */
  async *eBookPages(): AsyncGenerator<IntuneEBook[], void, undefined> {
    const spec: CallSpec = { permission: PERMISSION.bookRead, purpose: 'list the books', notFound: 'The books list' };
    for await (const page of this.pages(BOOKS, managedEBookSchema, spec)) {
      yield page.filter((book): book is IntuneEBook => book !== undefined);
    }
  }

  /** Undefined as well for a managedEBook that is not an iosVppEBook. */
  async getEBook(id: string): Promise<IntuneEBook | undefined> {
    return this.orUndefined(this.json(`${BOOKS}/${encodeURIComponent(id)}`, entitySchema(managedEBookSchema), bookSpec(id, 'read the book')));
  }

  /** On beta, whose targets carry their assignment filter (see BETA_BOOKS). */
  async listAssignments(eBookId: string): Promise<EBookAssignment[]> {
    return this.all(`${BETA_BOOKS}/${encodeURIComponent(eBookId)}/assignments`, eBookAssignmentSchema, bookSpec(eBookId, "read the book's assignments"));
  }

  /**
   * `{ managedEBookAssignments }`, each an `#microsoft.graph.iosVppEBookAssignment` with its target as given
   * (filters and unknown properties as read), on beta like the list it came from; Graph answers 204. Repeating
   * it is harmless (it sets the whole list), so it is retried like a read.
   */
  async assign(eBookId: string, assignments: readonly EBookAssignment[]): Promise<void> {
    const body = {
      managedEBookAssignments: assignments.map((a) => ({
        '@odata.type': '#microsoft.graph.iosVppEBookAssignment',
        ...(a.id ? { id: a.id } : {}),
        target: a.target,
        installIntent: a.installIntent,
      })),
    };
    await this.send(`${BETA_BOOKS}/${encodeURIComponent(eBookId)}/assign`, bookSpec(eBookId, 'assign the book', PERMISSION.bookWrite), { method: 'POST', body });
  }

  async installSummary(eBookId: string): Promise<EBookInstallSummary> {
    return this.json(`${BOOKS}/${encodeURIComponent(eBookId)}/installSummary`, entitySchema(eBookInstallSummarySchema), bookSpec(eBookId, "read the book's install summary"));
  }

  async *deviceStatePages(eBookId: string): AsyncGenerator<DeviceInstallState[], void, undefined> {
    yield* this.pages(`${BOOKS}/${encodeURIComponent(eBookId)}/deviceStates`, deviceInstallStateSchema, bookSpec(eBookId, "read the book's device install states"));
  }

  async userStateSummaries(eBookId: string): Promise<UserInstallStateSummary[]> {
    return this.all(`${BOOKS}/${encodeURIComponent(eBookId)}/userStateSummary`, userInstallStateSummarySchema, bookSpec(eBookId, "read the book's user install states"));
  }

  private async mustGetVppToken(id: string): Promise<IntuneVppToken> {
    const token = await this.getVppToken(id);
    if (!token) throw new IntuneNotFoundError(`The VPP token ${id}`);
    return token;
  }

  /** A 404 as undefined: the thing is not in Intune. */
  private async orUndefined<T>(pending: Promise<T>): Promise<T | undefined> {
    try {
      return await pending;
    } catch (err) {
      if (err instanceof IntuneNotFoundError) return undefined;
      throw err;
    }
  }

  /** The answer validated by `schema`; an empty body (204) is given to the schema as undefined. */
  private async json<T extends z.ZodType>(path: string, schema: T, spec: CallSpec, call: GraphCall = {}): Promise<z.infer<T>> {
    const state: CallState = {};
    try {
      return await this.calls.run(state, () => this.transport.json(path, schema, this.call(spec, call)));
    } catch (err) {
      throw this.errorFor(err, spec, state);
    }
  }

  private async send(path: string, spec: CallSpec, call: GraphCall = {}): Promise<string> {
    const state: CallState = {};
    try {
      return await this.calls.run(state, () => this.transport.text(path, this.call(spec, call)));
    } catch (err) {
      throw this.errorFor(err, spec, state);
    }
  }

  /** Remembers, for the call under way, whether Graph asked to wait and for how long. */
  private noteAnswer(response: Response): void {
    const state = this.calls.getStore();
    if (!state) return;
    const waiting = response.status === 429 || response.status === 503 || response.status === 504;
    const retryAfterMs = waiting ? parseRetryAfter(response.headers.get('retry-after'), this.now()) : undefined;
    state.status = response.status;
    state.retryAfterMs = retryAfterMs;
    state.notBefore = retryAfterMs === undefined ? undefined : this.now() + retryAfterMs;
  }

  private call(spec: CallSpec, call: GraphCall): GraphCall {
    return spec.idempotent === false ? { ...call, idempotent: false } : call;
  }

  private async *pages<T extends z.ZodType>(first: string, item: T, spec: CallSpec): AsyncGenerator<Array<z.infer<T>>, void, undefined> {
    const state: CallState = {};
    const pages = this.transport.pages(first, item);
    try {
      // Each page is fetched inside the call's state, whoever iterates.
      for (;;) {
        const next = await this.calls.run(state, () => pages.next());
        if (next.done) return;
        yield next.value;
      }
    } catch (err) {
      throw this.errorFor(err, spec, state);
    } finally {
      await pages.return(undefined);
    }
  }

  private async all<T extends z.ZodType>(first: string, item: T, spec: CallSpec): Promise<Array<z.infer<T>>> {
    const items: Array<z.infer<T>> = [];
    for await (const page of this.pages(first, item, spec)) items.push(...page);
    return items;
  }

  /** The transport's failure in the admin's words, for the call `spec` describes (`state`: its last answer). */
  private errorFor(err: unknown, spec: CallSpec, state: CallState): unknown {
    // Graph asked to wait longer than a call waits: the time it gave goes with the error, nothing is tried early.
    const asked = err instanceof WaitTooLong ? err.state : state;
    const tooLong = asked.retryAfterMs !== undefined && asked.retryAfterMs > this.maxRetryAfterMs && asked.notBefore !== undefined;
    if (tooLong && (err instanceof WaitTooLong || (err instanceof GraphCallFailure && err.kind === 'status' && err.info.status === asked.status))) {
      const info = err instanceof GraphCallFailure ? err.info : undefined;
      const error = new IntuneRetryAfterError(spec.purpose, new Date(asked.notBefore ?? this.now()).toISOString(), {
        status: asked.status,
        graphCode: info?.graphCode,
        requestId: info?.requestId,
        detail: info ? redact(err instanceof GraphCallFailure ? err.detail : '', spec.secrets ?? []) : `${asked.status ?? ''} with Retry-After ${formatCount(Math.round((asked.retryAfterMs ?? 0) / 1000))} s`,
      });
      this.logger?.warn({ status: asked.status, code: error.code, retryAfter: error.retryAfter, requestId: info?.requestId }, 'Microsoft Graph asked to wait longer than a call waits; the call stops until then');
      return error;
    }
    if (!(err instanceof GraphCallFailure)) return err;
    const secrets = spec.secrets ?? [];
    const { status, graphCode, requestId, path } = err.info;
    const init = { status, graphCode, requestId, detail: redact(err.detail, secrets) };
    let error: IntuneError;
    switch (err.kind) {
      case 'auth':
        error = new IntuneAuthError(init);
        break;
      case 'network':
        error = new IntuneUnavailableError(spec.purpose, { ...init, outcomeUnknown: spec.idempotent === false });
        break;
      case 'response':
        error = new IntuneResponseError(spec.purpose, init);
        break;
      case 'status':
        error = this.statusError(status ?? 0, err.info.graphMessage, spec, init);
        break;
    }
    // A 404 is an answer (the token or book is gone), not a fault.
    const level = error.kind === 'notFound' ? 'debug' : 'warn';
    this.logger?.[level]({ status, code: error.code, graphCode, requestId, path, attempts: err.info.attempts }, 'Intune request through Microsoft Graph failed');
    return error;
  }

  private statusError(status: number, graphMessage: string | undefined, spec: CallSpec, init: IntuneErrorInit): IntuneError {
    if (status === 401) return new IntuneAuthError(init);
    if (status === 403) return new IntunePermissionError(spec.permission.permission, spec.purpose, { ...init, alternative: spec.permission.alternative });
    if (status === 404) return new IntuneNotFoundError(spec.notFound, init);
    // A 504 on a create was not retried: it may have been done.
    if (status === 429 || status >= 500) return new IntuneUnavailableError(spec.purpose, { ...init, outcomeUnknown: status === 504 && spec.idempotent === false });
    return new IntuneRefusedError(spec.purpose, safeReason(graphMessage, spec.secrets ?? []), init);
  }
}
