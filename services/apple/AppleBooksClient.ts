import type { z } from 'zod';
import type { Logger } from '../logging/logger';
import type { Secret } from '../secrets/Secret';
import { VppError, describeVppErrorNumber } from './VppError';
import { VppTransport, type FetchFn } from './VppTransport';
import type { RetrySettings } from './retry';
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
  /** How long /service/config is trusted before it is read again. */
  serviceConfigTtlMs?: number;
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

export const DEFAULT_LIMITS: Limits = { maxAssets: 25, maxClientUserIds: 1000, maxUsers: 100, maxRequestPerSecond: 15 };

/** Who holds the token, from `mdmInfo` in /client/config. */
export type TokenOwnership =
  | { state: 'unclaimed' }
  | { state: 'ours'; mdmInfo: MdmInfo }
  | { state: 'otherMdm'; mdmInfo: MdmInfo; mdmName: string };

export interface AssignmentQuery {
  adamId?: string;
  clientUserId?: string;
  sinceVersionId?: string;
}

export interface UserQuery {
  sinceVersionId?: string;
  /** Full reads leave out retired users unless asked; incremental reads always include them. */
  includeRetired?: boolean;
}

/** All items of a paged read and the versionId to pass as `sinceVersionId` next time. */
export interface FullRead<T> {
  items: T[];
  versionId: string | undefined;
}

export interface FailureDetail extends EventFailure {
  /** Admin text for `errorNumber`. */
  message: string;
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
  #serviceConfig: { value: ServiceConfig; readAt: number } | undefined;

  constructor(options: AppleBooksClientOptions) {
    this.#transport = new VppTransport(options);
    this.#pollIntervalMs = options.pollIntervalMs ?? 30_000;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? 10 * 60_000;
    this.#configTtlMs = options.serviceConfigTtlMs ?? 60 * 60_000;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#now = options.now ?? (() => new Date());
    this.#rateOverridden = options.rateLimit?.maxRequestsPerSecond !== undefined;
  }

  // ---- service and client configuration ----

  /** Apple's limits, URLs and error codes; cached for `serviceConfigTtlMs`. */
  async getServiceConfig(options: { refresh?: boolean } = {}): Promise<ServiceConfig> {
    const now = this.#now().getTime();
    if (!options.refresh && this.#serviceConfig && now - this.#serviceConfig.readAt < this.#configTtlMs) {
      return this.#serviceConfig.value;
    }
    const value = await this.#transport.request({
      method: 'GET',
      path: '/service/config',
      authenticated: false,
      schema: serviceConfigSchema,
    });
    this.#serviceConfig = { value, readAt: now };
    // An explicit override (tests, a support case) wins over what Apple announces.
    if (value.limits.maxRequestPerSecond !== undefined && !this.#rateOverridden) {
      lowerRate(this.#transport.throttle, value.limits.maxRequestPerSecond);
    }
    return value;
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
    return this.#transport.request({ method: 'POST', path: '/client/config', body: { mdmInfo }, schema: clientConfigSchema });
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
  assetPages(): AsyncGenerator<AssetsPage> {
    return this.#pages('/assets', { productType: 'Book' }, assetsPageSchema);
  }

  async listAssets(): Promise<FullRead<Asset>> {
    return collect(this.assetPages(), (page) => page.assets);
  }

  /**
   * Assignments page by page. Store the versionId of the FIRST page as the next `sinceVersionId`:
   * anything that changes while later pages are read is then read again next time (reads are idempotent).
   */
  assignmentPages(query: AssignmentQuery = {}): AsyncGenerator<AssignmentsPage> {
    return this.#pages('/assignments', { ...query }, assignmentsPageSchema);
  }

  async listAssignments(query: AssignmentQuery = {}): Promise<FullRead<Assignment>> {
    return collect(this.assignmentPages(query), (page) => page.assignments);
  }

  /** VPP users page by page; the same versionId rule as assignments applies. */
  userPages(query: UserQuery = {}): AsyncGenerator<UsersPage> {
    return this.#pages(
      '/users',
      { sinceVersionId: query.sinceVersionId, includeRetired: query.includeRetired ? 'true' : undefined },
      usersPageSchema,
    );
  }

  async listUsers(query: UserQuery = {}): Promise<FullRead<VppUser>> {
    return collect(this.userPages(query), (page) => page.users);
  }

  async *#pages<S extends z.ZodType<{ nextPageIndex?: number | undefined }>>(
    path: string,
    query: Record<string, string | undefined>,
    schema: S,
  ): AsyncGenerator<z.infer<S>> {
    let pageIndex: number | undefined = 0;
    const seen = new Set<number>();
    while (pageIndex !== undefined) {
      // A server that points back to a page it already served would otherwise loop for ever.
      if (seen.has(pageIndex)) throw new VppError({ operation: `GET ${path}`, kind: 'response', message: `Apple's paging for GET ${path} went in a circle; the sync stopped. Try again later.` });
      seen.add(pageIndex);
      const page: z.infer<S> = await this.#transport.request({ method: 'GET', path, query: { ...query, pageIndex }, schema });
      yield page;
      pageIndex = page.nextPageIndex;
    }
  }

  // ---- writes (asynchronous on Apple's side: each returns an eventId) ----

  /** Creates VPP users in batches of `maxUsers`; returns one eventId per batch. */
  async createUsers(users: readonly UserRequest[]): Promise<string[]> {
    return this.#userBatches('/users/create', users);
  }

  async updateUsers(users: readonly UserRequest[]): Promise<string[]> {
    return this.#userBatches('/users/update', users);
  }

  async retireUsers(clientUserIds: readonly string[]): Promise<string[]> {
    return this.#userBatches(
      '/users/retire',
      clientUserIds.map((clientUserId) => ({ clientUserId })),
    );
  }

  async #userBatches(path: string, users: readonly UserRequest[]): Promise<string[]> {
    const { maxUsers } = await this.getLimits();
    const eventIds: string[] = [];
    for (const batch of chunk(users, maxUsers)) {
      const { eventId } = await this.#transport.request({ method: 'POST', path, body: { users: batch }, schema: eventResponseSchema });
      eventIds.push(eventId);
    }
    return eventIds;
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

  /** Present for completeness: Apple refuses it for books (9706, licenses are irrevocable). */
  async disassociateAssets(assets: readonly AssetRef[], clientUserIds: readonly string[]): Promise<string> {
    const { eventId } = await this.#transport.request({
      method: 'POST',
      path: '/assets/disassociate',
      body: { assets, clientUserIds },
      schema: eventResponseSchema,
    });
    return eventId;
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
    const deadline = Date.now() + (options.timeoutMs ?? this.#pollTimeoutMs);
    for (;;) {
      options.signal?.throwIfAborted();
      const status = await this.getEventStatus(eventId);
      if (status.eventStatus !== 'PENDING') return status;
      if (Date.now() + interval > deadline) {
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

  async associateAssetsAndWait(assets: readonly AssetRef[], clientUserIds: readonly string[], options?: WaitOptions): Promise<AsyncOperationResult> {
    return this.waitForEvents(await this.associateAssets(assets, clientUserIds), options);
  }

  async createUsersAndWait(users: readonly UserRequest[], options?: WaitOptions): Promise<AsyncOperationResult> {
    return this.waitForEvents(await this.createUsers(users), options);
  }

  async retireUsersAndWait(clientUserIds: readonly string[], options?: WaitOptions): Promise<AsyncOperationResult> {
    return this.waitForEvents(await this.retireUsers(clientUserIds), options);
  }
}

async function collect<P extends { versionId?: string | undefined }, T>(
  pages: AsyncIterable<P>,
  items: (page: P) => T[],
): Promise<FullRead<T>> {
  const all: T[] = [];
  let versionId: string | undefined;
  let first = true;
  for await (const page of pages) {
    if (first) versionId = page.versionId;
    first = false;
    all.push(...items(page));
  }
  return { items: all, versionId };
}

export type { Asset, AssetRef, Assignment, ClientConfig, EventFailure, EventStatus, MdmInfo, ServiceConfig, UserRequest, VppUser };
export type { AssetsPage, AssignmentsPage, UsersPage } from './schemas';
