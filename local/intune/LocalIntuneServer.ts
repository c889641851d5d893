import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../../services/logging/logger';
import { UserFacingError } from '../../services/errors';
import { parseAppleDate, parseVppTokenFile, type VppTokenFile } from '../../services/apple/VppTokenFile';
import { AppleLink, AppleRefusal, type AppleClientConfig, type MdmIdentity } from './appleLink';
import { DirectoryLink } from './directoryLink';
import { GraphError, badRequest, graphErrorBody, graphErrorDate, intuneBadRequest, notFound, type RequestIds } from './graphErrors';
import { readAssignBody, readAssignment, readVppTokenBody, type VppTokenWrite } from './graphBodies';
import { eBookFilter, readQuery, skipToken, type QueryOptions } from './graphQuery';
import { assignmentView, deviceStateView, eBookView, installSummaryView, project, userStateView, vppTokenView, type GraphVersion } from './graphViews';
import { IntuneFaults, faultBody } from './IntuneFaults';
import { IntuneState, type IntuneEBook, type IntuneVppToken, type TargetUser, type VppTokenState } from './IntuneState';
import { loadIntuneState, type IntuneStateSaver } from './intuneStateFile';

export interface LocalIntuneOptions {
  /** The Apple Apps and Books API Intune checks tokens with and reads books from (the sandbox's baseUrl, …/mdm/v2). */
  appleBaseUrl: string;
  /** The Graph origin the directory answers on (the local directory's baseUrl); group members are read from its /v1.0. */
  directoryBaseUrl: string;
  port?: number;
  host?: string;
  /** Bring your own state (tests); a new, empty one otherwise. */
  state?: IntuneState;
  /**
   * Keeps the state in this JSON file (local mode: `<LOCAL_DATA_DIR>/intune.json`): read on start (replacing what
   * `state` holds), written after every change, the tokens encrypted under a key in a sibling `.key` file.
   * In memory only without it.
   */
  stateFile?: string;
  /** Items per page when the request has no `$top`; small by default so paging is exercised. */
  pageSize?: number;
  /** Most items per page whatever `$top` asks for (Graph caps page sizes per API; nothing is documented for Intune's). */
  maxPageSize?: number;
  /** How long a syncLicenses stays `inProgress` before it talks to Apple; 0 runs it at once. */
  syncDelayMs?: number;
  /** Devices check in this often (Required books install or fail); 0, the default, only on syncs and `tick()`. */
  installProgressMs?: number;
  /**
   * How a single entity is sent: `odata` (the default) as Graph does, the entity at the top with `@odata.context`;
   * `value` inside `{"value": {…}}` as the Intune get / syncLicenses / installSummary examples show it
   * (test/fixtures/intune/NOTES.md, "Single-entity envelope"), to check a client copes with both.
   */
  entityEnvelope?: 'odata' | 'value';
  /** Fetch each new book's cover from the metadata lookup's artwork; true by default. */
  fetchCovers?: boolean;
  /** The tenant Intune serves: names Intune at Apple when it claims a token (mdmInfo). */
  tenantId?: string;
  logger?: Logger;
}

/** The name Intune gives itself in Apple's mdmInfo, which Apple shows to the organisation. */
export const INTUNE_MDM_NAME = 'Microsoft Intune';
const DEFAULT_TENANT_ID = '72f988bf-0000-4000-8000-00000000a11e';
const DEFAULT_PAGE_SIZE = 25;
const DEFAULT_MAX_PAGE_SIZE = 1000;
const DEFAULT_SYNC_DELAY_MS = 250;
const MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const SYNC_ACTION = 'syncLicenses';

const COLLECTION_OPTIONS = new Set(['$top', '$skiptoken', '$select', '$count']);
const EBOOK_COLLECTION_OPTIONS = new Set([...COLLECTION_OPTIONS, '$filter', '$expand']);
const ENTITY_OPTIONS = new Set(['$select']);
const EBOOK_ENTITY_OPTIONS = new Set(['$select', '$expand']);

interface Ctx {
  method: string;
  version: GraphVersion;
  /** The path after the version, e.g. /deviceAppManagement/vppTokens. */
  path: string;
  url: URL;
  body: unknown;
}

type Answer = { status: number; json?: unknown; headers?: Record<string, string> };

type Route = {
  pattern: RegExp;
  methods: Record<string, (ctx: Ctx, ...ids: string[]) => Answer | Promise<Answer>>;
};

const controlFaultSchema = z.object({
  pathIncludes: z.string().optional(),
  method: z.string().optional(),
  times: z.number().positive().optional(),
  status: z.number().int().min(400).max(599).default(429),
  retryAfter: z.union([z.number().nonnegative(), z.string()]).optional(),
  code: z.string().optional(),
});

/**
 * A local stand-in for Microsoft Intune's `deviceAppManagement` VPP token and ebook resources, in Graph's shapes
 * (under /beta and /v1.0): tokens checked and claimed at Apple (the local sandbox, over HTTP), books read from it on
 * syncLicenses, assignments replaced whole by `assign`, and simulated devices installing Required books for the
 * users of the target groups (read from the local directory over HTTP). Follows the Graph pages quoted in
 * test/fixtures/intune/NOTES.md, not the bot's client. Accepts any or no Authorization header.
 */
export class LocalIntuneServer {
  readonly state: IntuneState;
  readonly faults = new IntuneFaults();
  #origin = '';
  #server: http.Server | undefined;
  readonly #apple: AppleLink;
  readonly #directory: DirectoryLink;
  readonly #mdm: MdmIdentity;
  readonly #jobs = new Set<Promise<void>>();
  /** Pending sync delays, cut short by stop(). */
  readonly #delays = new Map<NodeJS.Timeout, () => void>();
  #progressTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #saver: IntuneStateSaver | undefined;
  readonly #routes: Route[];

  constructor(private readonly options: LocalIntuneOptions) {
    this.state = options.state ?? new IntuneState();
    this.#apple = new AppleLink(options.appleBaseUrl.replace(/\/+$/, ''), { fetchCovers: options.fetchCovers });
    this.#directory = new DirectoryLink(options.directoryBaseUrl.replace(/\/+$/, ''));
    const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
    this.#mdm = { id: `intune-${tenantId}`, name: INTUNE_MDM_NAME, metadata: tenantId };
    this.#routes = this.#buildRoutes();
  }

  /** The origin, e.g. http://127.0.0.1:PORT; Graph clients add /beta (or /v1.0). */
  get baseUrl(): string {
    return this.#origin;
  }

  async start(): Promise<string> {
    if (this.options.stateFile) this.#saver = await loadIntuneState(this.options.stateFile, this.state, this.options.logger);
    const server = http.createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    const host = this.options.host && this.options.host !== '0.0.0.0' && this.options.host !== '::' ? this.options.host : '127.0.0.1';
    this.#origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    if ((this.options.installProgressMs ?? 0) > 0) {
      this.#progressTimer = setInterval(() => this.#track(this.tick()), this.options.installProgressMs);
      this.#progressTimer.unref();
    }
    this.options.logger?.info({ baseUrl: this.#origin }, 'local Intune listening');
    this.#resumeSyncs();
    return this.#origin;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#progressTimer) clearInterval(this.#progressTimer);
    for (const [timer, resolve] of this.#delays) {
      clearTimeout(timer);
      resolve();
    }
    this.#delays.clear();
    const server = this.#server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    }
    await this.idle();
    await this.#saver?.save();
  }

  /**
   * A sync the last run accepted (syncLicenses answered `inProgress`) but stopped before finishing is run now.
   * Intune queues the work a syncLicenses accepts: an outage delays it, it does not drop it or fail it, so after
   * a restart the token ends `completed` or `failed` as the sync with Apple goes, never `inProgress` for good.
   */
  #resumeSyncs(): void {
    for (const token of this.state.tokens.values()) {
      if (token.lastSyncStatus !== 'inProgress') continue;
      this.options.logger?.info({ tokenId: token.id }, 'local Intune: resuming a sync the last run did not finish');
      this.#track(this.#runSync(token.id));
    }
  }

  /** Resolves once every sync and device update started so far has finished (tests wait on it). */
  async idle(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs]);
  }

  /**
   * A device check-in across the tenant: devices waiting for a Required book install it (or fail), then each
   * book's Required groups are read again, so newcomers get licenses and devices and leavers lose theirs.
   */
  async tick(): Promise<void> {
    await this.#refreshBooks([...this.state.books.values()], true);
    await this.#saver?.save();
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        resolve();
      }, ms);
      this.#delays.set(timer, resolve);
    });
  }

  #track(job: Promise<void>): void {
    const tracked = job.catch((err: unknown) => this.options.logger?.warn({ err }, 'local Intune background job failed')).then(() => this.#saver?.save());
    this.#jobs.add(tracked);
    void tracked.finally(() => this.#jobs.delete(tracked));
  }

  // ---- HTTP ----

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://intune.local');
    const method = (req.method ?? 'GET').toUpperCase();
    const clientRequestId = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : undefined;
    const ids: RequestIds = { requestId: randomUUID(), clientRequestId: clientRequestId ?? '' };
    ids.clientRequestId ||= ids.requestId;
    // Before an answer goes out, the change it shows is on disk: the bot keeps only ids Intune would still know
    // after being killed. Reads change nothing worth a write (an expiry Intune notices is noticed again).
    const changes = method !== 'GET' && method !== 'HEAD';
    const send = async (status: number, json: unknown, headers: Record<string, string> = {}): Promise<void> => {
      if (changes) await this.#saver?.save();
      if (res.headersSent || res.destroyed) return;
      const common = { 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId, ...headers };
      if (json === undefined) {
        res.writeHead(status, common);
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': CONTENT_TYPE, 'odata-version': '4.0', ...common });
      res.end(JSON.stringify(json));
    };
    try {
      if (url.pathname.startsWith('/_intune/')) {
        const answer = await this.#control(method, url.pathname, await readJson(req));
        await send(answer.status, answer.json);
        return;
      }
      const match = /^\/(v1\.0|beta)(\/.*)?$/.exec(url.pathname.replace(/\/+$/, ''));
      if (!match) throw new GraphError(400, 'BadRequest', `Invalid version: ${url.pathname.split('/')[1] ?? ''}`);
      const version = match[1] as GraphVersion;
      const path = match[2] ?? '/';
      const fault = this.faults.take(method, path);
      if (fault) {
        await send(fault.status, faultBody(fault, ids, graphErrorDate(this.state.now())), fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) });
        return;
      }
      const body = method === 'POST' || method === 'PATCH' ? await readJson(req) : undefined;
      const answer = await this.#route({ method, version, path, url, body });
      await send(answer.status, answer.json, answer.headers);
    } catch (err) {
      if (err instanceof GraphError) {
        await send(err.status, graphErrorBody(err, ids, this.state.now()), err.options.headers);
        return;
      }
      this.options.logger?.error({ err, path: url.pathname }, 'local Intune request failed');
      await send(500, graphErrorBody(new GraphError(500, 'InternalError', 'An internal error occurred in the local Intune.', { intune: true }), ids, this.state.now()));
    }
  }

  async #route(ctx: Ctx): Promise<Answer> {
    for (const route of this.#routes) {
      const match = route.pattern.exec(ctx.path);
      if (!match) continue;
      const handler = route.methods[ctx.method];
      if (!handler) {
        const allow = Object.keys(route.methods).join(', ');
        throw new GraphError(405, 'MethodNotAllowed', `The HTTP method '${ctx.method}' is not allowed on this resource; it allows ${allow}.`, { headers: { allow } });
      }
      return handler(ctx, ...match.slice(1).map((id) => decodeURIComponent(id ?? '')));
    }
    const segment = ctx.path.split('/').filter(Boolean).pop() ?? '';
    throw badRequest(`Resource not found for the segment '${segment}'.`);
  }

  #buildRoutes(): Route[] {
    const id = '([^/()]+)';
    const tokens = '/deviceAppManagement/vppTokens';
    const books = '/deviceAppManagement/managedEBooks';
    return [
      { pattern: new RegExp(`^${tokens}$`), methods: { GET: (ctx) => this.#listTokens(ctx), POST: (ctx) => this.#createToken(ctx) } },
      { pattern: new RegExp(`^${tokens}/${id}/syncLicenses$`), methods: { POST: (ctx, tokenId) => this.#syncLicenses(ctx, tokenId) } },
      {
        pattern: new RegExp(`^${tokens}/${id}$`),
        methods: { GET: (ctx, tokenId) => this.#getToken(ctx, tokenId), PATCH: (ctx, tokenId) => this.#updateToken(ctx, tokenId), DELETE: (_ctx, tokenId) => this.#deleteToken(tokenId) },
      },
      { pattern: new RegExp(`^${books}$`), methods: { GET: (ctx) => this.#listBooks(ctx) } },
      { pattern: new RegExp(`^${books}/${id}$`), methods: { GET: (ctx, bookId) => this.#getBook(ctx, bookId) } },
      { pattern: new RegExp(`^${books}/${id}/assign$`), methods: { POST: (ctx, bookId) => this.#assign(ctx, bookId) } },
      {
        pattern: new RegExp(`^${books}/${id}/assignments$`),
        methods: { GET: (ctx, bookId) => this.#listAssignments(ctx, bookId), POST: (ctx, bookId) => this.#createAssignment(ctx, bookId) },
      },
      {
        pattern: new RegExp(`^${books}/${id}/assignments/${id}$`),
        methods: { GET: (ctx, bookId, assignmentId) => this.#getAssignment(ctx, bookId, assignmentId), DELETE: (_ctx, bookId, assignmentId) => this.#deleteAssignment(bookId, assignmentId) },
      },
      { pattern: new RegExp(`^${books}/${id}/installSummary$`), methods: { GET: (ctx, bookId) => this.#installSummary(ctx, bookId) } },
      { pattern: new RegExp(`^${books}/${id}/deviceStates$`), methods: { GET: (ctx, bookId) => this.#deviceStates(ctx, bookId) } },
      { pattern: new RegExp(`^${books}/${id}/userStateSummary$`), methods: { GET: (ctx, bookId) => this.#userStates(ctx, bookId) } },
      {
        pattern: new RegExp(`^${books}/${id}/userStateSummary/${id}/deviceStates$`),
        methods: { GET: (ctx, bookId, summaryId) => this.#userDeviceStates(ctx, bookId, summaryId) },
      },
    ];
  }

  // ---- answer shapes ----

  #context(ctx: Ctx, fragment: string): string {
    return `${this.#origin}/${ctx.version}/$metadata#${fragment}`;
  }

  /** One entity: at the top with its @odata.context, or in the documented examples' `{"value": …}`. */
  #entity(ctx: Ctx, fragment: string, view: Record<string, unknown>, status = 200): Answer {
    if (this.options.entityEnvelope === 'value') return { status, json: { value: view } };
    return { status, json: { '@odata.context': this.#context(ctx, fragment), ...view } };
  }

  /** A page of a collection: `$top` (capped) items from the `$skiptoken` offset, and a nextLink while more remain. */
  #page<T>(ctx: Ctx, query: QueryOptions, fragment: string, items: readonly T[], view: (item: T) => Record<string, unknown>): Answer {
    const size = Math.min(query.top ?? this.options.pageSize ?? DEFAULT_PAGE_SIZE, this.options.maxPageSize ?? DEFAULT_MAX_PAGE_SIZE);
    const slice = items.slice(query.offset, query.offset + size);
    const json: Record<string, unknown> = { '@odata.context': this.#context(ctx, fragment) };
    if (query.count) json['@odata.count'] = items.length;
    if (size > 0 && query.offset + size < items.length) {
      const next = new URL(`${this.#origin}/${ctx.version}${ctx.path}`);
      for (const [key, value] of ctx.url.searchParams) if (key !== '$skiptoken') next.searchParams.append(key, value);
      next.searchParams.set('$skiptoken', skipToken(query.offset + size));
      json['@odata.nextLink'] = next.toString();
    }
    json.value = slice.map((item) => project(view(item), query.select));
    return { status: 200, json };
  }

  // ---- vppTokens ----

  #token(tokenId: string): IntuneVppToken {
    const token = this.state.token(tokenId);
    if (!token) throw notFound('vppToken', tokenId);
    return token;
  }

  #listTokens(ctx: Ctx): Answer {
    const query = readQuery(ctx.url.searchParams, COLLECTION_OPTIONS);
    return this.#page(ctx, query, 'deviceAppManagement/vppTokens', this.state.listTokens(), (t) => vppTokenView(t, ctx.version));
  }

  #getToken(ctx: Ctx, tokenId: string): Answer {
    const query = readQuery(ctx.url.searchParams, ENTITY_OPTIONS);
    return this.#entity(ctx, 'deviceAppManagement/vppTokens/$entity', project(vppTokenView(this.#token(tokenId), ctx.version), query.select));
  }

  /** Reads the .vpptoken the way Intune does: Apple's Base64 JSON with token, expDate and orgName. */
  #readTokenFile(content: string): VppTokenFile {
    try {
      return parseVppTokenFile(content, { allowExpired: true, now: () => this.state.now() });
    } catch (err) {
      if (err instanceof UserFacingError) throw intuneBadRequest(`The uploaded token is not a valid Apple VPP token (${err.code}).`);
      throw err;
    }
  }

  /**
   * What Apple says about the token, and Intune's resulting state: expired (9621) or invalid (unknown, revoked)
   * tokens, a location another token already has, a location another MDM holds (unless the admin agreed to take
   * it), or valid, with Intune now named as the location's MDM.
   */
  async #checkWithApple(bearer: string, claimFromExternalMdm: boolean, selfId?: string): Promise<{ state: VppTokenState; config?: AppleClientConfig }> {
    let config: AppleClientConfig;
    try {
      config = await this.#apple.clientConfig(bearer);
    } catch (err) {
      if (err instanceof AppleRefusal && err.tokenExpired) return { state: 'expired' };
      if (err instanceof AppleRefusal && err.tokenInvalid) return { state: 'invalid' };
      throw new GraphError(503, 'ServiceUnavailable', "Apple's Apps and Books service could not be reached; try again later.", { intune: true });
    }
    if (config.uId && this.state.tokenForLocation(config.uId, selfId)) return { state: 'duplicateLocationId', config };
    const holder = config.mdmInfo?.id;
    if (holder === this.#mdm.id) return { state: 'valid', config };
    if (holder && !claimFromExternalMdm) return { state: 'assignedToExternalMDM', config };
    try {
      return { state: 'valid', config: await this.#apple.claim(bearer, this.#mdm) };
    } catch {
      throw new GraphError(503, 'ServiceUnavailable', 'Apple did not let Intune take over the token; try again later.', { intune: true });
    }
  }

  async #createToken(ctx: Ctx): Promise<Answer> {
    const write = readVppTokenBody(ctx.body, ctx.version);
    if (!write.token) throw intuneBadRequest('token is required: the content of the .vpptoken file downloaded from Apple.');
    if (!write.appleId) throw intuneBadRequest('appleId is required: the Apple ID (Managed Apple Account) of the token.');
    if (!write.vppTokenAccountType) throw intuneBadRequest('vppTokenAccountType is required: business or education.');
    const file = this.#readTokenFile(write.token);
    const bearer = file.secret.reveal();
    const checked = await this.#checkWithApple(bearer, write.claimTokenManagementFromExternalMdm === true);
    const token = this.state.addToken({
      token: bearer,
      organizationName: file.orgName,
      appleId: write.appleId,
      vppTokenAccountType: write.vppTokenAccountType,
      expirationDateTime: expiry(checked.config, file),
      state: checked.state,
      countryOrRegion: write.countryOrRegion ?? (checked.config?.countryISO2ACode ?? 'us').toLowerCase(),
      locationName: checked.config?.locationName ?? file.orgName,
      locationId: checked.config?.uId,
      displayName: write.displayName,
      automaticallyUpdateApps: write.automaticallyUpdateApps,
      dataSharingConsentGranted: write.dataSharingConsentGranted,
      claimTokenManagementFromExternalMdm: write.claimTokenManagementFromExternalMdm,
      roleScopeTagIds: write.roleScopeTagIds,
    });
    // The create page answers the entity itself, without an envelope, in either mode.
    return { status: 201, json: { '@odata.context': this.#context(ctx, 'deviceAppManagement/vppTokens/$entity'), ...vppTokenView(token, ctx.version) } };
  }

  /**
   * PATCH: a new token file renews the token (it must be for the same Apple location); agreeing to
   * claimTokenManagementFromExternalMdm takes a token back from another MDM; the rest are plain settings.
   */
  async #updateToken(ctx: Ctx, tokenId: string): Promise<Answer> {
    const token = this.#token(tokenId);
    const write = readVppTokenBody(ctx.body, ctx.version);
    applySettings(token, write);
    const claim = token.claimTokenManagementFromExternalMdm;
    if (write.token !== undefined) {
      const file = this.#readTokenFile(write.token);
      const bearer = file.secret.reveal();
      const checked = await this.#checkWithApple(bearer, claim, token.id);
      if (checked.config?.uId && token.locationId && checked.config.uId !== token.locationId) {
        throw intuneBadRequest('The uploaded token is for another Apple location than the one this token serves; upload it as a new token.');
      }
      Object.assign(token, { token: bearer, organizationName: file.orgName, expirationDateTime: expiry(checked.config, file), state: checked.state });
      if (checked.config) applyLocation(token, checked.config);
    } else if (write.claimTokenManagementFromExternalMdm === true && token.state === 'assignedToExternalMDM') {
      const checked = await this.#checkWithApple(token.token, true, token.id);
      token.state = checked.state;
      if (checked.config) applyLocation(token, checked.config);
    }
    this.state.touch(token);
    return { status: 200, json: { '@odata.context': this.#context(ctx, 'deviceAppManagement/vppTokens/$entity'), ...vppTokenView(token, ctx.version) } };
  }

  #deleteToken(tokenId: string): Answer {
    if (!this.state.deleteToken(tokenId)) throw notFound('vppToken', tokenId);
    return { status: 204 };
  }

  /** syncLicenses: answers at once with the token `inProgress`; the sync runs after `syncDelayMs`. */
  #syncLicenses(ctx: Ctx, tokenId: string): Answer {
    const token = this.#token(tokenId);
    if (token.lastSyncStatus !== 'inProgress') {
      token.lastSyncStatus = 'inProgress';
      this.state.noteAction(token, SYNC_ACTION, 'active');
      this.state.touch(token);
      this.#track(this.#runSync(token.id));
    }
    return this.#entity(ctx, 'deviceAppManagement/vppTokens/$entity', vppTokenView(token, ctx.version));
  }

  async #runSync(tokenId: string): Promise<void> {
    await this.#delay(this.options.syncDelayMs ?? DEFAULT_SYNC_DELAY_MS);
    const token = this.state.tokens.get(tokenId);
    if (!token || this.#stopped) return;
    const finish = (status: 'completed' | 'failed'): void => {
      token.lastSyncStatus = status;
      this.state.noteAction(token, SYNC_ACTION, status === 'completed' ? 'done' : 'failed');
      this.state.touch(token);
    };
    try {
      // A second token for a location is never used with Apple while the first one serves it; once that one is
      // gone, the check below finds the location free.
      if (token.state === 'duplicateLocationId' && token.locationId && this.state.tokenForLocation(token.locationId, token.id)) return finish('failed');
      const checked = await this.#checkWithApple(token.token, token.claimTokenManagementFromExternalMdm, token.id);
      token.state = checked.state;
      if (checked.config) applyLocation(token, checked.config);
      if (checked.state !== 'valid' || !checked.config) return finish('failed');
      const books = await this.#apple.books(token.token, checked.config);
      if (!this.state.tokens.has(token.id)) return;
      this.state.applySync(token, books);
      token.lastSyncDateTime = this.state.now();
      finish('completed');
    } catch (err) {
      this.options.logger?.warn({ err, tokenId }, 'local Intune: sync with Apple failed');
      if (err instanceof AppleRefusal && err.tokenExpired) token.state = 'expired';
      else if (err instanceof AppleRefusal && err.tokenInvalid) token.state = 'invalid';
      return finish('failed');
    }
    // Devices check in after a sync, as they do after Intune pushes the new licenses.
    await this.#refreshBooks(this.state.booksOf(token.id), true);
  }

  // ---- managedEBooks ----

  #book(bookId: string): IntuneEBook {
    const book = this.state.books.get(bookId);
    if (!book) throw notFound('managedEBook', bookId);
    return book;
  }

  #expandAssignments(query: QueryOptions): boolean {
    for (const item of query.expand) {
      if (item !== 'assignments') throw badRequest(`Could not find a property named '${item}' on type 'microsoft.graph.managedEBook'.`);
    }
    return query.expand.length > 0;
  }

  #listBooks(ctx: Ctx): Answer {
    const query = readQuery(ctx.url.searchParams, EBOOK_COLLECTION_OPTIONS);
    const expand = this.#expandAssignments(query);
    const matches = eBookFilter(query.filter);
    const books = [...this.state.books.values()].filter(matches);
    return this.#page(ctx, query, 'deviceAppManagement/managedEBooks', books, (b) => eBookView(this.state, b, ctx.version, expand));
  }

  #getBook(ctx: Ctx, bookId: string): Answer {
    const query = readQuery(ctx.url.searchParams, EBOOK_ENTITY_OPTIONS);
    const expand = this.#expandAssignments(query);
    return this.#entity(ctx, 'deviceAppManagement/managedEBooks/$entity', project(eBookView(this.state, this.#book(bookId), ctx.version, expand), query.select));
  }

  /** The assign action: the book's assignments become the list sent (Intune replaces the whole set), 204. */
  #assign(ctx: Ctx, bookId: string): Answer {
    const book = this.#book(bookId);
    const assignments = readAssignBody(ctx.body, ctx.version);
    this.state.replaceAssignments(book, assignments);
    this.#track(this.#refreshBooks([book], false));
    return { status: 204 };
  }

  #listAssignments(ctx: Ctx, bookId: string): Answer {
    const book = this.#book(bookId);
    const query = readQuery(ctx.url.searchParams, COLLECTION_OPTIONS);
    return this.#page(ctx, query, `deviceAppManagement/managedEBooks('${book.id}')/assignments`, book.assignments, (a) => assignmentView(a, ctx.version));
  }

  /** POST …/assignments: one more assignment, the others untouched (the documented per-assignment alternative to assign). */
  #createAssignment(ctx: Ctx, bookId: string): Answer {
    const book = this.#book(bookId);
    const assignment = readAssignment(ctx.body, ctx.version);
    if (assignment.target.groupId && book.assignments.some((a) => a.target.groupId === assignment.target.groupId)) {
      throw intuneBadRequest('A group may be targeted by only one assignment of the book.');
    }
    this.state.replaceAssignments(book, [...book.assignments, { ...assignment, id: undefined }]);
    const created = book.assignments[book.assignments.length - 1];
    if (!created) throw new GraphError(500, 'InternalError', 'The assignment was not kept.', { intune: true });
    this.#track(this.#refreshBooks([book], false));
    return { status: 201, json: { '@odata.context': this.#context(ctx, `deviceAppManagement/managedEBooks('${book.id}')/assignments/$entity`), ...assignmentView(created, ctx.version) } };
  }

  #getAssignment(ctx: Ctx, bookId: string, assignmentId: string): Answer {
    const book = this.#book(bookId);
    const assignment = book.assignments.find((a) => a.id === assignmentId);
    if (!assignment) throw notFound('managedEBookAssignment', assignmentId);
    return this.#entity(ctx, `deviceAppManagement/managedEBooks('${book.id}')/assignments/$entity`, assignmentView(assignment, ctx.version));
  }

  #deleteAssignment(bookId: string, assignmentId: string): Answer {
    const book = this.#book(bookId);
    if (!book.assignments.some((a) => a.id === assignmentId)) throw notFound('managedEBookAssignment', assignmentId);
    this.state.replaceAssignments(
      book,
      book.assignments.filter((a) => a.id !== assignmentId),
    );
    this.#track(this.#refreshBooks([book], false));
    return { status: 204 };
  }

  #installSummary(ctx: Ctx, bookId: string): Answer {
    const book = this.#book(bookId);
    readQuery(ctx.url.searchParams, ENTITY_OPTIONS);
    return this.#entity(ctx, `deviceAppManagement/managedEBooks('${book.id}')/installSummary/$entity`, installSummaryView(book, this.state.installSummary(book)));
  }

  #deviceStates(ctx: Ctx, bookId: string): Answer {
    const book = this.#book(bookId);
    const query = readQuery(ctx.url.searchParams, COLLECTION_OPTIONS);
    return this.#page(ctx, query, `deviceAppManagement/managedEBooks('${book.id}')/deviceStates`, this.state.deviceStates(book), deviceStateView);
  }

  #userStates(ctx: Ctx, bookId: string): Answer {
    const book = this.#book(bookId);
    const query = readQuery(ctx.url.searchParams, COLLECTION_OPTIONS);
    return this.#page(ctx, query, `deviceAppManagement/managedEBooks('${book.id}')/userStateSummary`, this.state.userStateSummaries(book), userStateView);
  }

  #userDeviceStates(ctx: Ctx, bookId: string, summaryId: string): Answer {
    const book = this.#book(bookId);
    const summary = this.state.userStateSummaries(book).find((s) => s.id === summaryId);
    if (!summary) throw notFound('userInstallStateSummary', summaryId);
    const query = readQuery(ctx.url.searchParams, COLLECTION_OPTIONS);
    const fragment = `deviceAppManagement/managedEBooks('${book.id}')/userStateSummary('${summary.id}')/deviceStates`;
    return this.#page(ctx, query, fragment, this.state.deviceStates(book, summary.userId), deviceStateView);
  }

  // ---- simulated devices ----

  /**
   * Reads the Required groups of `books` from the directory (each group once per round) and applies them;
   * with `progress`, devices check in first, so newcomers show as not installed until the next round.
   */
  async #refreshBooks(books: readonly IntuneEBook[], progress: boolean): Promise<void> {
    const groups = new Map<string, Promise<TargetUser[]>>();
    const usersOf = (groupId: string): Promise<TargetUser[]> => {
      let users = groups.get(groupId);
      if (!users) {
        users = this.#directory.groupUsers(groupId);
        groups.set(groupId, users);
      }
      return users;
    };
    for (const book of books) {
      if (progress) this.state.progressInstalls(book);
      const { include, exclude } = this.state.requiredGroups(book);
      if (include.length === 0 && book.devices.size === 0) continue;
      try {
        const excluded = new Set((await Promise.all(exclude.map(usersOf))).flat().map((u) => u.id));
        const reached = new Map<string, TargetUser>();
        for (const user of (await Promise.all(include.map(usersOf))).flat()) if (!excluded.has(user.id)) reached.set(user.id, user);
        if (this.state.books.has(book.id)) this.state.applyTargets(book, [...reached.values()]);
      } catch (err) {
        // Devices keep their states until the directory answers again.
        this.options.logger?.warn({ err, bookId: book.id }, 'local Intune: could not read an assignment group');
      }
    }
  }

  // ---- control API, for tests in another process ----

  async #control(method: string, path: string, body: unknown): Promise<Answer> {
    if (method === 'POST' && path === '/_intune/faults') {
      const parsed = controlFaultSchema.safeParse(body ?? {});
      if (!parsed.success) return { status: 400, json: { error: parsed.error.message } };
      const { pathIncludes, method: onlyMethod, times, ...fault } = parsed.data;
      this.faults.add({ pathIncludes, method: onlyMethod, times, fault });
      return { status: 200, json: { pending: this.faults.pending } };
    }
    if (method === 'DELETE' && path === '/_intune/faults') {
      this.faults.clear();
      return { status: 200, json: {} };
    }
    if (method === 'POST' && path === '/_intune/tick') {
      await this.tick();
      return { status: 200, json: {} };
    }
    if (method === 'POST' && path === '/_intune/idle') {
      await this.idle();
      return { status: 200, json: {} };
    }
    return { status: 404, json: { error: 'unknown control endpoint' } };
  }
}

/** Apple's expiry when it answered, else the file's. */
function expiry(config: AppleClientConfig | undefined, file: VppTokenFile): Date {
  return (config?.tokenExpirationDate ? parseAppleDate(config.tokenExpirationDate) : undefined) ?? file.expiresAt;
}

function applyLocation(token: IntuneVppToken, config: AppleClientConfig): void {
  if (config.locationName) token.locationName = config.locationName;
  if (config.uId) token.locationId = config.uId;
  const expires = config.tokenExpirationDate ? parseAppleDate(config.tokenExpirationDate) : undefined;
  if (expires) token.expirationDateTime = expires;
}

function applySettings(token: IntuneVppToken, write: VppTokenWrite): void {
  if (write.appleId !== undefined) token.appleId = write.appleId;
  if (write.vppTokenAccountType !== undefined) token.vppTokenAccountType = write.vppTokenAccountType;
  if (write.countryOrRegion !== undefined) token.countryOrRegion = write.countryOrRegion;
  if (write.automaticallyUpdateApps !== undefined) token.automaticallyUpdateApps = write.automaticallyUpdateApps;
  if (write.dataSharingConsentGranted !== undefined) token.dataSharingConsentGranted = write.dataSharingConsentGranted;
  if (write.displayName !== undefined) token.displayName = write.displayName;
  if (write.claimTokenManagementFromExternalMdm !== undefined) token.claimTokenManagementFromExternalMdm = write.claimTokenManagementFromExternalMdm;
  if (write.roleScopeTagIds !== undefined) token.roleScopeTagIds = [...write.roleScopeTagIds];
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new GraphError(413, 'RequestEntityTooLarge', 'The request body is too large.');
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
  }
}

/**
 * Starts the local Intune next to the Apple sandbox and the local directory:
 * `startLocalIntune({ appleBaseUrl: sandbox.baseUrl, directoryBaseUrl: directory.baseUrl })`.
 */
export async function startLocalIntune(options: LocalIntuneOptions): Promise<LocalIntuneServer> {
  const server = new LocalIntuneServer(options);
  await server.start();
  return server;
}
