import type { z } from 'zod';
import { escapeMarkdown } from '../common/chatText';
import type { Logger } from '../logging/logger';
import type { Secret } from '../secrets/Secret';
import { VppError, describeVppErrorNumber } from './VppError';
import { VppTransport, type FetchFn } from './VppTransport';
import type { RetrySettings } from '../common/retry';
import { lowerRate, type RateLimitSettings } from './tokenThrottle';
import {
  assetsPageSchema,
  assignmentsPageSchema,
  clientConfigSchema,
  eventResponseSchema,
  eventStatusSchema,
  serviceConfigSchema,
  usersPageSchema,
  type Asset,
  type AssetRef,
  type AssetsPage,
  type Assignment,
  type AssignmentsPage,
  type ClientConfig,
  type EventFailure,
  type EventStatus,
  type MdmInfo,
  type ServiceConfig,
  type UserRequest,
  type UsersPage,
  type VppUser,
} from './schemas';

export interface AppleBooksClientOptions {
  /** e.g. https://vpp.itunes.apple.com/mdm/v2, or the sandbox's baseUrl. */
  baseUrl: string;
  /** The whole Base64 content of the .vpptoken file. */
  token: Secret;
  logger?: Logger;
  fetch?: FetchFn;
  /** Time between /status polls; Apple asks for at least 30 s in production. */
  pollIntervalMs?: number;
  /** After this long a PENDING event is reported as timed out with a re-submit hint. */
  pollTimeoutMs?: number;
  /** How long /service/config is trusted before it is read again (Apple: at most 5 minutes). */
  serviceConfigTtlMs?: number;
  /**
   * This bot's MDM id. Every answer's `mdmInfo` is checked against it: once one names another MDM, the
   * client sends no more requests that spend licenses or create users (`VppError` kind 'ownership').
   */
  mdmId?: string;
  /** Overrides Apple's 15 requests/s and 5 in flight; an explicit rate also ignores /service/config's. */
  rateLimit?: Partial<RateLimitSettings>;
  retry?: Partial<RetrySettings>;
  requestTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

export interface Limits {
  maxAssets: number;
  maxClientUserIds: number;
  maxUsers: number;
  maxRequestPerSecond: number;
}

const DEFAULT_LIMITS: Limits = { maxAssets: 25, maxClientUserIds: 1000, maxUsers: 100, maxRequestPerSecond: 15 };

/** Who holds the token, from `mdmInfo` in /client/config. */
export type TokenOwnership =
  | { state: 'unclaimed' }
  | { state: 'ours'; mdmInfo: MdmInfo }
  | { state: 'otherMdm'; mdmInfo: MdmInfo; mdmName: string };

export interface AssignmentQuery {
  adamId?: string;
  pricingParam?: string;
  clientUserId?: string;
  sinceVersionId?: string;
}

export interface UserQuery {
  sinceVersionId?: string;
  /** Leave out retired users (Apple returns them by default). Incremental reads keep them: a retirement is a change. */
  activeOnly?: boolean;
}

export interface PageReadOptions {
  /**
   * Called when a read starts again from its first page: Apple's versionId changed between two pages
   * of a full read, or Apple refused the `sinceVersionId` (9721) and the read continues in full.
   * Whatever the caller gathered from earlier pages is to be dropped.
   */
  onRestart?: (reason: 'versionChanged' | 'versionRejected') => void;
}

/** All items of a paged read and the versionId to pass as `sinceVersionId` next time. */
export interface FullRead<T> {
  items: T[];
  versionId: string | undefined;
}

type FailureDetail = EventFailure & {
  /** Admin text for `errorNumber`. */
  message: string;
};

/** Users Apple refused before any event started (e.g. 9717 invalid e-mail), and the batches' events. */
export interface UserBatchesResult {
  eventIds: string[];
  rejected: FailureDetail[];
}

/** The combined outcome of one or more Apple events (one per request batch). */
export interface AsyncOperationResult {
  eventIds: string[];
  /** COMPLETE when every event completed, FAILED when any failed. */
  status: 'COMPLETE' | 'FAILED';
  numRequested: number;
  numCompleted: number;
  failures: FailureDetail[];
}

export interface WaitOptions {
  intervalMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Apple asks clients to re-read /service/config at least every five minutes. */
const MAX_SERVICE_CONFIG_TTL_MS = 5 * 60_000;
/** A full read whose versionId keeps changing is started again at most this many times. */
const MAX_READ_RESTARTS = 3;
const VERSION_REJECTED = 9721;
const PAGE_OUT_OF_RANGE = 9650;
const INVALID_EMAIL = 9717;
/**
 * GET /users returns retired users unless told otherwise. `activeOnly` is the v2 parameter (Get Users,
 * Managing users); `includeRetired`, which one v2 page still mentions, belongs to the v1 API.
 */
const ACTIVE_ONLY: Record<string, string> = { activeOnly: 'true' };

/** /service/config is the same for every token: one cache per Apple base URL. */
const serviceConfigCache = new Map<string, { value: ServiceConfig; readAt: number }>();

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Client for Apple's Apps and Books for Organizations API (v2), books only. One instance per token;
 * every instance for the same token shares one rate limiter.
 */
export class AppleBooksClient {
  readonly #transport: VppTransport;
  readonly #pollIntervalMs: number;
  readonly #pollTimeoutMs: number;
  readonly #configTtlMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => Date;
  readonly #rateOverridden: boolean;
  readonly #baseUrl: string;
  readonly #mdmId: string | undefined;
  #foreignMdm: MdmInfo | undefined;

  constructor(options: AppleBooksClientOptions) {
    const now = options.now;
    this.#transport = new VppTransport({
      ...options,
      now: now ? () => now().getTime() : undefined,
      onMdmInfo: (mdmInfo) => this.#observeMdmInfo(mdmInfo),
    });
    this.#baseUrl = this.#transport.baseUrl;
    this.#mdmId = options.mdmId;
    this.#pollIntervalMs = options.pollIntervalMs ?? 30_000;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? 10 * 60_000;
    this.#configTtlMs = Math.min(options.serviceConfigTtlMs ?? MAX_SERVICE_CONFIG_TTL_MS, MAX_SERVICE_CONFIG_TTL_MS);
    this.#sleep = options.sleep ?? defaultSleep;
    this.#now = options.now ?? (() => new Date());
    this.#rateOverridden = options.rateLimit?.maxRequestsPerSecond !== undefined;
  }

  // ---- service and client configuration ----

  /** Apple's limits, URLs and error codes; cached for `serviceConfigTtlMs`. */
  async getServiceConfig(options: { refresh?: boolean } = {}): Promise<ServiceConfig> {
    const now = this.#now().getTime();
    const cached = serviceConfigCache.get(this.#baseUrl);
    if (!options.refresh && cached && now - cached.readAt < this.#configTtlMs && now >= cached.readAt) {
      this.#applyRate(cached.value);
      return cached.value;
    }
    const value = await this.#transport.request({
      method: 'GET',
      path: '/service/config',
      authenticated: false,
      schema: serviceConfigSchema,
    });
    serviceConfigCache.set(this.#baseUrl, { value, readAt: now });
    this.#applyRate(value);
    return value;
  }

  #applyRate(value: ServiceConfig): void {
    // An explicit override (tests, a support case) wins over what Apple announces.
    if (value.limits.maxRequestPerSecond !== undefined && !this.#rateOverridden) {
      lowerRate(this.#transport.throttle, value.limits.maxRequestPerSecond);
    }
  }

  async getLimits(): Promise<Limits> {
    const { limits } = await this.getServiceConfig();
    return {
      maxAssets: limits.maxAssets ?? DEFAULT_LIMITS.maxAssets,
      maxClientUserIds: limits.maxClientUserIds ?? DEFAULT_LIMITS.maxClientUserIds,
      maxUsers: limits.maxUsers ?? DEFAULT_LIMITS.maxUsers,
      maxRequestPerSecond: limits.maxRequestPerSecond ?? DEFAULT_LIMITS.maxRequestPerSecond,
    };
  }

  /**
   * The link a user opens to join the organisation's VPP account: Apple's `invitationEmail` template
   * with its `%inviteCode%` placeholder (URL-encoded as `%25inviteCode%25`) filled in.
   */
  async invitationUrl(inviteCode: string): Promise<string | undefined> {
    const template = (await this.getServiceConfig()).urls.invitationEmail;
    if (!template) return undefined;
    const code = encodeURIComponent(inviteCode);
    return template.split('%25inviteCode%25').join(code).split('%inviteCode%').join(code);
  }

  async getClientConfig(): Promise<ClientConfig> {
    return this.#transport.request({ method: 'GET', path: '/client/config', schema: clientConfigSchema });
  }

  /** Claims the token for this MDM. Only call after checking ownership and, if needed, the admin's consent. */
  async claimToken(mdmInfo: MdmInfo): Promise<ClientConfig> {
    const config = await this.#transport.request({ method: 'POST', path: '/client/config', body: { mdmInfo }, schema: clientConfigSchema });
    // An explicit take-over: what earlier answers said about the previous holder no longer holds.
    if (config.mdmInfo?.id === mdmInfo.id) this.#foreignMdm = undefined;
    return config;
  }

  /** The other MDM an answer named since this client was made (or last claimed the token), if any. */
  get foreignMdm(): MdmInfo | undefined {
    return this.#foreignMdm;
  }

  #observeMdmInfo(mdmInfo: MdmInfo): void {
    if (this.#mdmId === undefined || mdmInfo.id === '' || mdmInfo.id === this.#mdmId) return;
    this.#foreignMdm ??= mdmInfo;
  }

  /** No license is spent and no user created once Apple says another MDM holds the token. */
  #assertStillOurs(operation: string): void {
    const other = this.#foreignMdm;
    if (!other) return;
    throw new VppError({
      kind: 'ownership',
      operation,
      message: `Apple says ${other.name ? escapeMarkdown(other.name) : 'another MDM'} now manages this token, so the bot stopped before spending licenses or creating users. To manage it here again, upload the token (type **upload token**) and confirm taking control.`,
    });
  }

  /** Tells whether the token is unclaimed, ours, or held by another MDM (and which one). */
  async checkOwnership(ourMdmId: string): Promise<TokenOwnership> {
    const { mdmInfo } = await this.getClientConfig();
    if (!mdmInfo || mdmInfo.id === '') return { state: 'unclaimed' };
    if (mdmInfo.id === ourMdmId) return { state: 'ours', mdmInfo };
    return { state: 'otherMdm', mdmInfo, mdmName: mdmInfo.name || 'another MDM' };
  }

  // ---- paged reads ----

  /** Book assets, one page at a time, so callers can stream without holding everything. */
  assetPages(options: PageReadOptions = {}): AsyncGenerator<AssetsPage> {
    return this.#pages('/assets', { productType: 'Book' }, assetsPageSchema, options);
  }

  async listAssets(): Promise<FullRead<Asset>> {
    return collect((options) => this.assetPages(options), (page) => page.assets);
  }

  /** Book assets of one adamId: fresh license counts for a single book. */
  async getAsset(ref: AssetRef): Promise<Asset | undefined> {
    const read = await collect((options) => this.#pages('/assets', { adamId: ref.adamId, pricingParam: ref.pricingParam }, assetsPageSchema, options), (page) => page.assets);
    return read.items.find((a) => a.adamId === ref.adamId && a.pricingParam === ref.pricingParam);
  }

  /**
   * Assignments page by page. Store the versionId of the FIRST page as the next `sinceVersionId`:
   * anything that changes while later pages are read is then read again next time (reads are idempotent).
   */
  assignmentPages(query: AssignmentQuery = {}, options: PageReadOptions = {}): AsyncGenerator<AssignmentsPage> {
    return this.#pages('/assignments', { ...query }, assignmentsPageSchema, options);
  }

  async listAssignments(query: AssignmentQuery = {}): Promise<FullRead<Assignment>> {
    return collect((options) => this.assignmentPages(query, options), (page) => page.assignments);
  }

  /** VPP users page by page; the same versionId rule as assignments applies. */
  userPages(query: UserQuery = {}, options: PageReadOptions = {}): AsyncGenerator<UsersPage> {
    // An incremental read must see retirements: they are changes too.
    const activeOnly = query.activeOnly === true && query.sinceVersionId === undefined;
    return this.#pages('/users', { sinceVersionId: query.sinceVersionId, ...(activeOnly ? ACTIVE_ONLY : {}) }, usersPageSchema, options);
  }

  async listUsers(query: UserQuery = {}): Promise<FullRead<VppUser>> {
    return collect((options) => this.userPages(query, options), (page) => page.users);
  }

  /**
   * Every page of a read. The first request carries no pageIndex (Apple's first page); later ones the
   * `nextPageIndex` Apple gave. A full read whose versionId changes between pages starts again (items
   * may have moved between pages); a `sinceVersionId` Apple refuses (9721) turns into a full read.
   */
  async *#pages<S extends z.ZodType<{ nextPageIndex?: number | undefined; versionId?: string | undefined }>>(
    path: string,
    query: Record<string, string | undefined>,
    schema: S,
    options: PageReadOptions,
  ): AsyncGenerator<z.infer<S>> {
    let currentQuery = query;
    for (let restarts = 0; ; restarts++) {
      const incremental = currentQuery.sinceVersionId !== undefined;
      let pageIndex: number | undefined;
      let versionId: string | undefined;
      let first = true;
      let shifted = false;
      const seen = new Set<number>();
      try {
        while (first || pageIndex !== undefined) {
          if (pageIndex !== undefined) {
            // A server that points back to a page it already served would otherwise loop for ever.
            if (seen.has(pageIndex)) throw new VppError({ operation: `GET ${path}`, kind: 'response', message: `Apple's paging for GET ${path} went in a circle; the sync stopped. Try again later.` });
            seen.add(pageIndex);
          }
          let page: z.infer<S>;
          try {
            page = await this.#transport.request({ method: 'GET', path, query: { ...currentQuery, pageIndex }, schema });
          } catch (err) {
            // A page past the end after the first one: the list shrank while it was read, as when the version changes.
            if (!first && err instanceof VppError && err.errorNumber === PAGE_OUT_OF_RANGE) {
              shifted = true;
              break;
            }
            throw err;
          }
          if (first) versionId = page.versionId;
          else if (!incremental && page.versionId !== versionId) {
            shifted = true;
            break;
          }
          first = false;
          yield page;
          pageIndex = page.nextPageIndex;
        }
      } catch (err) {
        if (!(first && incremental && err instanceof VppError && err.errorNumber === VERSION_REJECTED)) throw err;
        // Apple no longer knows the version this read started from: read everything instead.
        const { sinceVersionId: _dropped, ...rest } = currentQuery;
        currentQuery = rest;
        options.onRestart?.('versionRejected');
        restarts--;
        continue;
      }
      if (!shifted) return;
      if (restarts + 1 >= MAX_READ_RESTARTS) {
        throw new VppError({
          operation: `GET ${path}`,
          kind: 'unavailable',
          message: `Apple's data kept changing while the bot read it (GET ${path}), so nothing was changed. The bot tries again at the next sync.`,
        });
      }
      options.onRestart?.('versionChanged');
    }
  }

  // ---- writes (asynchronous on Apple's side: each returns an eventId) ----

  /**
   * Creates VPP users in batches of `maxUsers`; one eventId per batch. Users whose e-mail Apple refuses
   * (9717, naming them) are left out and the batch sent again, so one bad address fails only its user.
   */
  async createUsers(users: readonly UserRequest[]): Promise<UserBatchesResult> {
    return this.#userBatches('/users/create', users);
  }

  async #userBatches(path: string, users: readonly UserRequest[]): Promise<UserBatchesResult> {
    const { maxUsers } = await this.getLimits();
    const result: UserBatchesResult = { eventIds: [], rejected: [] };
    for (const batch of chunk(users, maxUsers)) await this.#sendUsers(path, batch, result);
    return result;
  }

  /**
   * Sends one batch. A 9717 (invalid e-mail address) refuses the whole request: the users Apple names
   * in `errorInfo` are set aside and the rest sent again; if Apple names nobody, the batch is split in
   * halves until the refused users are found, so one bad address costs only its own user.
   */
  async #sendUsers(path: string, batch: readonly UserRequest[], result: UserBatchesResult): Promise<void> {
    let pending = [...batch];
    while (pending.length > 0) {
      this.#assertStillOurs(`POST ${path}`);
      try {
        const { eventId } = await this.#transport.request({ method: 'POST', path, body: { users: pending }, schema: eventResponseSchema });
        result.eventIds.push(eventId);
        return;
      } catch (err) {
        if (!(err instanceof VppError) || err.errorNumber !== INVALID_EMAIL) throw err;
        const named = new Set(err.errorInfo?.clientUserIds ?? []);
        const refused = pending.filter((u) => named.has(u.clientUserId));
        if (refused.length === 0 && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          await this.#sendUsers(path, pending.slice(0, half), result);
          await this.#sendUsers(path, pending.slice(half), result);
          return;
        }
        const rejected = refused.length > 0 ? refused : pending;
        result.rejected.push({
          errorNumber: INVALID_EMAIL,
          errorMessage: err.appleMessage,
          clientUserIds: rejected.map((u) => u.clientUserId),
          assets: [],
          serialNumbers: [],
          message: describeVppErrorNumber(INVALID_EMAIL),
        });
        pending = pending.filter((u) => !rejected.includes(u));
      }
    }
  }

  /**
   * Assigns every asset to every user, split into Apple's batches (25 assets × 1000 users by
   * default). Returns one eventId per batch; licenses are only spent when the events complete.
   */
  async associateAssets(assets: readonly AssetRef[], clientUserIds: readonly string[]): Promise<string[]> {
    const { maxAssets, maxClientUserIds } = await this.getLimits();
    const eventIds: string[] = [];
    for (const assetBatch of chunk(assets, maxAssets)) {
      for (const userBatch of chunk(clientUserIds, maxClientUserIds)) {
        this.#assertStillOurs('POST /assets/associate');
        const { eventId } = await this.#transport.request({
          method: 'POST',
          path: '/assets/associate',
          body: { assets: assetBatch.map(({ adamId, pricingParam }) => ({ adamId, pricingParam })), clientUserIds: userBatch },
          schema: eventResponseSchema,
        });
        eventIds.push(eventId);
      }
    }
    return eventIds;
  }

  // ---- events ----

  async getEventStatus(eventId: string): Promise<EventStatus> {
    return this.#transport.request({ method: 'GET', path: '/status', query: { eventId }, schema: eventStatusSchema });
  }

  /**
   * Polls /status until the event is no longer PENDING. Still PENDING after the timeout throws a
   * VppError of kind 'eventTimeout' telling the admin to submit the request again.
   */
  async waitForEvent(eventId: string, options: WaitOptions = {}): Promise<EventStatus> {
    const interval = options.intervalMs ?? this.#pollIntervalMs;
    const deadline = this.#now().getTime() + (options.timeoutMs ?? this.#pollTimeoutMs);
    for (;;) {
      options.signal?.throwIfAborted();
      const status = await this.getEventStatus(eventId);
      if (status.eventStatus !== 'PENDING') return status;
      if (this.#now().getTime() + interval > deadline) {
        throw new VppError({
          kind: 'eventTimeout',
          eventId,
          operation: 'GET /status',
          message: `Apple is still working on this request (${status.numCompleted} of ${status.numRequested} done) after the bot stopped waiting. Submit it again later; requests already done are not repeated.`,
        });
      }
      await this.#sleep(interval);
    }
  }

  /** Waits for every event and adds their outcomes up, with an admin message on each failure. */
  async waitForEvents(eventIds: readonly string[], options: WaitOptions = {}): Promise<AsyncOperationResult> {
    const result: AsyncOperationResult = { eventIds: [...eventIds], status: 'COMPLETE', numRequested: 0, numCompleted: 0, failures: [] };
    for (const eventId of eventIds) {
      const status = await this.waitForEvent(eventId, options);
      if (status.eventStatus === 'FAILED') result.status = 'FAILED';
      result.numRequested += status.numRequested;
      result.numCompleted += status.numCompleted;
      for (const failure of status.failures) result.failures.push({ ...failure, message: describeVppErrorNumber(failure.errorNumber) });
    }
    return result;
  }

  async createUsersAndWait(users: readonly UserRequest[], options?: WaitOptions): Promise<AsyncOperationResult> {
    return withRejected(await this.createUsers(users), (ids) => this.waitForEvents(ids, options));
  }
}

/** The events' outcome, with the users Apple refused up front counted as requested and failed. */
async function withRejected(batches: UserBatchesResult, wait: (eventIds: string[]) => Promise<AsyncOperationResult>): Promise<AsyncOperationResult> {
  const result = await wait(batches.eventIds);
  if (batches.rejected.length === 0) return result;
  const refused = batches.rejected.reduce((n, f) => n + f.clientUserIds.length, 0);
  return { ...result, status: 'FAILED', numRequested: result.numRequested + refused, failures: [...batches.rejected, ...result.failures] };
}

async function collect<P extends { versionId?: string | undefined }, T>(
  open: (options: PageReadOptions) => AsyncIterable<P>,
  items: (page: P) => T[],
): Promise<FullRead<T>> {
  let all: T[] = [];
  let versionId: string | undefined;
  let first = true;
  const restart = (): void => {
    all = [];
    first = true;
  };
  for await (const page of open({ onRestart: restart })) {
    if (first) versionId = page.versionId;
    first = false;
    all.push(...items(page));
  }
  return { items: all, versionId };
}

export type { Asset, AssetRef, Assignment, ClientConfig, EventStatus, MdmInfo, ServiceConfig, UserRequest, VppUser };
export type { AssetsPage, AssignmentsPage, UsersPage } from './schemas';
