import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../../services/logging/logger';
import { SERVICE_CONFIG_ERROR_CODES } from './appleErrors';
import { FaultInjector, type Fault, type FaultRule } from './FaultInjector';
import { SandboxStats } from './SandboxStats';
import { SandboxState, type SandboxOrganisation, type SandboxToken } from './SandboxState';
import { seedDemoData } from './demoData';
import { loadSandboxState, SandboxStateSaver } from './sandboxStateFile';
import * as api from './sandboxApi';

export interface AppleSandboxOptions {
  port?: number;
  host?: string;
  /** Bring your own state (tests); otherwise a new one, seeded with the demo data unless `seedDemoData` is false. */
  state?: SandboxState;
  seedDemoData?: boolean;
  /**
   * Keeps the state in this JSON file across restarts (local mode): restored at start when it exists, written
   * before any answer that shows a change, and on close. Without it the state lives in memory only.
   * Ignored when `state` is given.
   */
  stateFile?: string;
  /** Items per page; small by default so paging is exercised. */
  pageSize?: number;
  /** How long async events (associate, users/*) stay PENDING. */
  eventDelayMs?: number;
  /** Latency added to every API call (ms). */
  latencyMs?: number;
  limits?: Partial<api.SandboxLimits>;
  /** When set, requests above this rate per token get 429 / 9646 with Retry-After: 1, like Apple. */
  enforceRateLimit?: number;
  logger?: Logger;
}

export interface RunningAppleSandbox {
  /** Base URL of the v2 API, e.g. http://127.0.0.1:PORT/mdm/v2 — what APPLE_VPP_BASE_URL points at. */
  baseUrl: string;
  /** Apple-compatible content metadata lookup, what APPLE_METADATA_URL points at. */
  metadataUrl: string;
  origin: string;
  state: SandboxState;
  faults: FaultInjector;
  stats: SandboxStats;
  close(): Promise<void>;
}

const API_PREFIX = '/mdm/v2';
const METADATA_PATH = '/WebObjects/MZStorePlatform.woa/wa/lookup';
const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (ctx: api.ApiContext) => api.ApiResult;
const ROUTES: Record<string, Handler> = {
  'GET /client/config': api.clientConfig,
  'POST /client/config': api.claimClientConfig,
  'GET /assets': api.listAssets,
  'GET /assignments': api.listAssignments,
  'GET /users': api.listUsers,
  'POST /users/create': (ctx) => api.userEvent(ctx, 'CREATE'),
  'POST /users/update': (ctx) => api.userEvent(ctx, 'UPDATE'),
  'POST /users/retire': (ctx) => api.userEvent(ctx, 'RETIRE'),
  'POST /assets/associate': api.associate,
  'POST /assets/disassociate': api.disassociate,
  'GET /status': api.eventStatus,
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const faultSchema: z.ZodType<Fault> = z.union([
  z.object({ kind: z.literal('status'), status: z.number().int(), errorNumber: z.number().int().optional(), errorMessage: z.string().optional(), retryAfter: z.union([z.string(), z.number()]).optional() }),
  z.object({ kind: z.literal('drop') }),
  z.object({ kind: z.literal('latency'), ms: z.number().nonnegative() }),
  z.object({ kind: z.literal('garbage') }),
]);
const controlFaultsSchema = z.object({
  latencyMs: z.number().nonnegative().optional(),
  rules: z.array(z.object({ path: z.string().optional(), method: z.string().optional(), times: z.number().positive().optional(), fault: faultSchema })).default([]),
});
const controlSeedSchema = z.object({
  orgName: z.string().min(1).default('Bench Organisation'),
  books: z.number().int().nonnegative().default(40),
  users: z.number().int().nonnegative().default(0),
  assignments: z.number().int().nonnegative().default(0),
});

/**
 * Starts the local Apple sandbox: Apple's Apps and Books v2 API with state, an Apple-compatible
 * metadata lookup, an invitation page, and a control API under /_sandbox for tests in other processes.
 */
export async function startAppleSandbox(options: AppleSandboxOptions = {}): Promise<RunningAppleSandbox> {
  const stateOptions = { pageSize: options.pageSize, eventDelayMs: options.eventDelayMs };
  const saved = options.stateFile && !options.state ? await loadSandboxState(options.stateFile, stateOptions, options.logger) : undefined;
  const state = options.state ?? saved?.state ?? new SandboxState(stateOptions);
  if (options.state) {
    if (options.pageSize !== undefined) state.pageSize = options.pageSize;
    if (options.eventDelayMs !== undefined) state.eventDelayMs = options.eventDelayMs;
  }
  if (!options.state && !saved?.state && options.seedDemoData !== false) seedDemoData(state);
  const saver = options.stateFile && saved?.canSave ? new SandboxStateSaver(state, options.stateFile, options.logger) : undefined;
  if (saved?.state) saver?.markSaved();
  /**
   * Before an answer goes out, the change it shows is on disk: a client stores only what the sandbox
   * would still know after being killed.
   */
  const persisted = async (): Promise<void> => {
    await saver?.save();
  };
  const faults = new FaultInjector();
  faults.latencyMs = options.latencyMs ?? 0;
  const stats = new SandboxStats();
  const limits: api.SandboxLimits = { ...api.SANDBOX_DEFAULT_LIMITS, ...options.limits };
  const recentByToken = new Map<string, number[]>();
  let origin = '';

  function authenticate(header: string | undefined): { org: SandboxOrganisation; token: SandboxToken } | api.ApiResult {
    const match = /^Bearer (\S+)$/.exec(header ?? '');
    if (!match?.[1]) return api.appleError(9722);
    const token = state.findToken(match[1]);
    if (!token) return api.appleError(9622);
    if (token.revoked) return api.appleError(9625);
    if (token.expiresAt.getTime() <= state.now().getTime()) return api.appleError(9621);
    const org = state.organisations.get(token.orgId);
    if (!org) return api.appleError(9622);
    return { org, token };
  }

  function overRate(bearer: string): boolean {
    if (options.enforceRateLimit === undefined) return false;
    const now = Date.now();
    const recent = (recentByToken.get(bearer) ?? []).filter((t) => now - t < 1000);
    recent.push(now);
    recentByToken.set(bearer, recent);
    return recent.length > options.enforceRateLimit;
  }

  async function applyFault(fault: Fault | undefined, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    if (!fault) return false;
    switch (fault.kind) {
      case 'latency':
        await sleep(fault.ms);
        return false;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>not json</html>');
        return true;
      case 'status': {
        const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
        const body = fault.errorNumber === undefined ? { message: 'Injected failure' } : { errorNumber: fault.errorNumber, errorMessage: fault.errorMessage ?? 'Injected failure' };
        send(res, fault.status, body, headers);
        return true;
      }
    }
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string, url: URL): Promise<void> {
    stats.begin(method, path, Date.now());
    try {
      if (faults.latencyMs > 0) await sleep(faults.latencyMs);
      if (await applyFault(faults.take(method, path), req, res)) return;
      if (method === 'GET' && path === '/service/config') {
        send(res, 200, serviceConfig());
        return;
      }
      const route = ROUTES[`${method} ${path}`];
      if (!route) {
        const known = Object.keys(ROUTES).some((key) => key.endsWith(` ${path}`)) || path === '/service/config';
        if (known) {
          const refusal = api.appleError(9726);
          send(res, refusal.status, refusal.body);
        } else send(res, 404, { errorNumber: 9602, errorMessage: 'Invalid argument.' });
        return;
      }
      if (method === 'POST' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        const refusal = api.appleError(9727);
        send(res, refusal.status, refusal.body);
        return;
      }
      const auth = authenticate(req.headers.authorization);
      if ('status' in auth) {
        send(res, auth.status, auth.body);
        return;
      }
      if (overRate(auth.token.bearer)) {
        const refusal = api.appleError(9646);
        send(res, refusal.status, refusal.body, { 'retry-after': '1' });
        return;
      }
      let body: unknown;
      if (method === 'POST') {
        const text = await readBody(req);
        try {
          body = text === undefined ? undefined : text === '' ? {} : JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (body === undefined) {
          const refusal = api.appleError(9602);
          send(res, refusal.status, refusal.body);
          return;
        }
      }
      state.settle(auth.org);
      const result = api.runApi(route, { state, org: auth.org, token: auth.token, limits, query: url.searchParams, body });
      await persisted();
      send(res, result.status, result.body);
    } finally {
      stats.end();
    }
  }

  /** Shaped like Apple's example (service-config page); the URLs point at this sandbox. */
  function serviceConfig(): unknown {
    const api = `${origin}${API_PREFIX}`;
    return {
      errorCodes: SERVICE_CONFIG_ERROR_CODES,
      limits: { ...limits, maxNotificationLength: 512, maxRevokeClientUserIds: 100, maxRevokeSerialNumbers: 100, maxSubscriptions: 25, maxSubscriptionClientUserIds: 1000 },
      notificationTypes: ['ASSET_MANAGEMENT', 'USER_MANAGEMENT', 'USER_ASSOCIATED', 'ASSET_COUNT'],
      urls: {
        invitationEmail: `${origin}/invitation?inviteCode=%25inviteCode%25&mt=8`,
        clientConfig: `${api}/client/config`,
        createUsers: `${api}/users/create`,
        getAssignments: `${api}/assignments`,
        contentMetadataLookup: `${origin}${METADATA_PATH}`,
        getUsers: `${api}/users`,
        eventStatus: `${api}/status`,
        associateAssets: `${api}/assets/associate`,
        disassociateAssets: `${api}/assets/disassociate`,
        updateUsers: `${api}/users/update`,
        getAssets: `${api}/assets`,
        retireUsers: `${api}/users/retire`,
      },
    };
  }

  /**
   * Apple's content metadata lookup ("Getting app and book information (Legacy)"). With the `itvt` cookie
   * Apple answers as in its authenticated example (string ids, `artwork` an object with a `{w}x{h}bb.{f}`
   * template, version 2); without it, as in its public example (numeric ids, `artwork` an array of sizes,
   * version 1). Apple does not refuse a lookup without the cookie: it only hides custom apps.
   */
  function handleMetadata(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const authenticated = /(?:^|;\s*)itvt=[^;\s]+/.test(req.headers.cookie ?? '');
    const ids = (url.searchParams.get('id') ?? '').split(',').filter((id) => id.length > 0);
    const results: Record<string, unknown> = {};
    for (const org of state.organisations.values()) {
      for (const book of org.books.values()) {
        if (!ids.includes(book.adamId) || results[book.adamId]) continue;
        const artwork = authenticated
          ? { url: `${origin}/artwork/${book.adamId}/{w}x{h}bb.{f}`, width: 400, height: 600, hasAlpha: false }
          : [100, 200, 400].map((width) => ({ width, height: width * 1.5, url: `${origin}/artwork/${book.adamId}/${width}x${width * 1.5}bb.png` }));
        results[book.adamId] = {
          id: authenticated ? book.adamId : Number(book.adamId),
          name: book.title,
          artistName: book.author,
          artwork,
          url: `${origin}/book/${book.adamId}`,
        };
      }
    }
    const cc = url.searchParams.get('cc') ?? 'us';
    send(res, 200, { results, version: authenticated ? 2 : 1, isAuthenticated: false, meta: { storefront: { cc: cc.toUpperCase() }, language: { tag: 'en-us' } } });
  }

  function handleArtwork(res: http.ServerResponse, adamId: string): void {
    const book = [...state.organisations.values()].map((o) => [...o.books.values()].find((b) => b.adamId === adamId)).find((b) => b);
    const hue = Number(adamId.slice(-3)) % 360;
    const title = (book?.title ?? `Book ${adamId}`).replace(/[<>&"]/g, '');
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=3600' });
    res.end(
      `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="600"><rect width="400" height="600" fill="hsl(${hue},45%,35%)"/>` +
        `<text x="200" y="300" font-family="Georgia,serif" font-size="28" fill="#fff" text-anchor="middle">${title}</text></svg>`,
    );
  }

  /** The invitation link a Registered user opens: in the sandbox, opening it accepts the invitation. */
  async function handleInvitation(res: http.ServerResponse, url: URL): Promise<void> {
    const code = url.searchParams.get('inviteCode') ?? '';
    for (const org of state.organisations.values()) {
      const user = [...org.users.values()].find((u) => u.inviteCode && u.inviteCode === code && u.status === 'Registered');
      if (user) {
        state.putUser(org, { ...user, status: 'Associated', inviteCode: undefined, idHash: user.idHash ?? code.slice(0, 12) });
        await persisted();
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<h1>Sandbox: invitation accepted</h1><p>${org.orgName} can now assign books to this user.</p>`);
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<h1>Sandbox: unknown or already used invitation</h1>');
  }

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string): Promise<void> {
    const text = method === 'POST' ? ((await readBody(req)) ?? '') : '';
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      send(res, 400, { error: 'invalid JSON' });
      return;
    }
    if (method === 'GET' && path === '/_sandbox/stats') return send(res, 200, stats.toJSON());
    if (method === 'POST' && path === '/_sandbox/stats/reset') {
      stats.reset();
      return send(res, 200, {});
    }
    if (method === 'POST' && path === '/_sandbox/faults') {
      const parsed = controlFaultsSchema.safeParse(body);
      if (!parsed.success) return send(res, 400, { error: parsed.error.message });
      if (parsed.data.latencyMs !== undefined) faults.latencyMs = parsed.data.latencyMs;
      for (const rule of parsed.data.rules) faults.add(rule as FaultRule);
      return send(res, 200, { pendingRules: faults.pendingRules, latencyMs: faults.latencyMs });
    }
    if (method === 'DELETE' && path === '/_sandbox/faults') {
      faults.clear();
      return send(res, 200, {});
    }
    if (method === 'POST' && path === '/_sandbox/seed') {
      const parsed = controlSeedSchema.safeParse(body);
      if (!parsed.success) return send(res, 400, { error: parsed.error.message });
      const { orgName, books, users, assignments } = parsed.data;
      const org = state.addOrganisation({
        orgName,
        books: Array.from({ length: books }, (_, i) => ({ adamId: String(1_600_000_000 + i), title: `Seeded Book ${i + 1}`, author: 'Sandbox Author', totalCount: 10 })),
      });
      const userIds = state.seedUsers(org, users);
      if (assignments > 0) state.seedAssignments(org, userIds, assignments);
      const token = state.mintToken(org);
      await persisted();
      return send(res, 200, { orgId: org.id, token });
    }
    send(res, 404, { error: 'unknown control endpoint' });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = (req.method ?? 'GET').toUpperCase();
    const pathname = url.pathname.replace(/\/+$/, '') || '/';
    let work: Promise<void> | void;
    if (pathname.startsWith(`${API_PREFIX}/`)) work = handleApi(req, res, method, pathname.slice(API_PREFIX.length), url);
    else if (pathname === METADATA_PATH && method === 'GET') work = handleMetadata(req, res, url);
    else if (pathname.startsWith('/artwork/')) work = handleArtwork(res, pathname.split('/')[2] ?? '');
    else if (pathname === '/invitation') work = handleInvitation(res, url);
    else if (pathname.startsWith('/_sandbox/')) work = handleControl(req, res, method, pathname);
    else work = send(res, 404, { error: 'not found' });
    Promise.resolve(work).catch((error: unknown) => {
      options.logger?.error({ err: error, path: pathname }, 'Apple sandbox: request failed');
      send(res, 500, { errorNumber: 9603, errorMessage: 'Internal error' });
    });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    baseUrl: `${origin}${API_PREFIX}`,
    metadataUrl: `${origin}${METADATA_PATH}`,
    origin,
    state,
    faults,
    stats,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await saver?.save({ force: true });
    },
  };
}
