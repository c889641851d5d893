import { z } from 'zod';
import { APPLE_ERRORS, type AppleErrorNumber } from './appleErrors';
import { UNLIMITED_TOTAL_COUNT, availableCount, type SandboxOrganisation, type SandboxState, type SandboxToken } from './SandboxState';

/** Apple's v2 endpoints over the sandbox state: each handler returns a status and a JSON body. */

/** /service/config `limits`, as Apple lists them (service-config page). */
export interface SandboxLimits {
  maxAssets: number;
  maxClientUserIds: number;
  maxUsers: number;
  maxSerialNumbers: number;
  maxMdmIdLength: number;
  maxMdmNameLength: number;
  maxMdmMetadataLength: number;
  /** Not in Apple's list; announced only when a test sets it, to show the client slows down to it. */
  maxRequestPerSecond?: number;
}

export const SANDBOX_DEFAULT_LIMITS: SandboxLimits = {
  maxAssets: 25,
  maxClientUserIds: 1000,
  maxUsers: 100,
  maxSerialNumbers: 1000,
  maxMdmIdLength: 100,
  maxMdmNameLength: 100,
  maxMdmMetadataLength: 255,
};

export interface ApiResult {
  status: number;
  body: unknown;
}

export interface ApiContext {
  state: SandboxState;
  org: SandboxOrganisation;
  token: SandboxToken;
  limits: SandboxLimits;
  query: URLSearchParams;
  body: unknown;
}

/** Apple's ErrorResponse with the catalogue's status and text; `errorInfo` names who it is about. */
export function appleError(errorNumber: AppleErrorNumber, errorInfo?: { clientUserIds?: string[] }): ApiResult {
  const { status, message } = APPLE_ERRORS[errorNumber];
  return { status: status ?? 400, body: { errorNumber, errorMessage: message, ...(errorInfo ? { errorInfo } : {}) } };
}

/** Fields on every answer: the token's expiry, the location, and `mdmInfo` once an MDM has set it. */
const common = (ctx: ApiContext): Record<string, unknown> => ({
  tokenExpirationDate: ctx.state.tokenExpirationDate(ctx.token),
  uId: ctx.org.uId,
  ...(ctx.org.mdmInfo ? { mdmInfo: { ...ctx.org.mdmInfo } } : {}),
});

class ApiRefusal extends Error {
  constructor(readonly result: ApiResult) {
    super(String((result.body as { errorMessage?: string }).errorMessage ?? 'refused'));
  }
}

function refuse(errorNumber: AppleErrorNumber, errorInfo?: { clientUserIds?: string[] }): never {
  throw new ApiRefusal(appleError(errorNumber, errorInfo));
}

function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) refuse(9602);
  return Number(raw);
}

function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (raw !== 'true' && raw !== 'false') refuse(9602);
  return raw === 'true';
}

/** The change number a `sinceVersionId` stands for; 0 without one. An id Apple never gave out is 9721. */
function sinceParam(ctx: ApiContext): number {
  const raw = ctx.query.get('sinceVersionId');
  if (raw === null || raw === '') return 0;
  const number = ctx.state.versionNumber(ctx.org, raw);
  if (number === undefined) refuse(9721);
  return number;
}

/** Using paginated endpoints: no pageIndex is page 0; past the last page is 9650. */
function page<T>(ctx: ApiContext, items: readonly T[]): { items: T[]; currentPageIndex: number; size: number; totalPages: number; nextPageIndex?: number } {
  const pageIndex = intParam(ctx.query, 'pageIndex', 0);
  const size = ctx.state.pageSize;
  const totalPages = Math.ceil(items.length / size);
  if (pageIndex > 0 && pageIndex >= totalPages) refuse(9650);
  const slice = items.slice(pageIndex * size, (pageIndex + 1) * size);
  return {
    items: slice,
    currentPageIndex: pageIndex,
    size,
    totalPages,
    ...(pageIndex + 1 < totalPages ? { nextPageIndex: pageIndex + 1 } : {}),
  };
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) refuse(9602);
  return parsed.data;
}

function duplicates(values: readonly string[]): boolean {
  return new Set(values).size !== values.length;
}

export function clientConfig(ctx: ApiContext): ApiResult {
  return {
    status: 200,
    body: {
      ...common(ctx),
      locationName: ctx.org.locationName,
      countryISO2ACode: ctx.org.countryISO2ACode,
      defaultPlatform: ctx.org.defaultPlatform,
      websiteURL: 'https://school.apple.com',
    },
  };
}

const claimSchema = z.object({ mdmInfo: z.object({ id: z.string().optional(), name: z.string().optional(), metadata: z.string().optional() }) });

/** Client Config (POST): an MDM sets its mdmInfo; Apple wants all three fields, within the announced lengths. */
export function claimClientConfig(ctx: ApiContext): ApiResult {
  const { mdmInfo } = parseBody(claimSchema, ctx.body);
  const { id, name, metadata } = mdmInfo;
  if (!id || !name || metadata === undefined) refuse(9723);
  if (id.length > ctx.limits.maxMdmIdLength) refuse(9724);
  if (name.length > ctx.limits.maxMdmNameLength) refuse(9725);
  if (metadata.length > ctx.limits.maxMdmMetadataLength) refuse(9713);
  ctx.state.claim(ctx.org, { id, name, metadata });
  return clientConfig(ctx);
}

/** Apple's paged list answer: one page of `all` under `key`, the paging fields and the endpoint's versionId. */
function pagedList<T>(ctx: ApiContext, all: readonly T[], key: string, endpoint: 'assets' | 'users' | 'assignments', toJson: (item: T) => unknown): ApiResult {
  const { items, ...paging } = page(ctx, all);
  return { status: 200, body: { ...common(ctx), ...paging, versionId: ctx.state.versionId(ctx.org, endpoint), [key]: items.map(toJson) } };
}

/** Get Assets: filters by productType, pricingParam and adamId; free books per the `unlimited` parameter. */
export function listAssets(ctx: ApiContext): ApiResult {
  const productType = ctx.query.get('productType');
  const pricingParam = ctx.query.get('pricingParam');
  const adamId = ctx.query.get('adamId');
  const unlimited = boolParam(ctx.query, 'unlimited');
  const books = productType && productType !== 'Book' ? [] : [...ctx.org.books.values()].filter((b) => (!pricingParam || b.pricingParam === pricingParam) && (!adamId || b.adamId === adamId));
  const isFree = (b: (typeof books)[number]): boolean => b.totalCount === UNLIMITED_TOTAL_COUNT;
  const asset = (b: (typeof books)[number]) => ({
    adamId: b.adamId,
    assignedCount: b.assignedCount,
    deviceAssignable: false,
    pricingParam: b.pricingParam,
    productType: 'Book',
    revocable: false,
    supportedPlatforms: ['iOS', 'macOS'],
  });
  // Omitted: free books are listed with totalCount 2147483647. true: in a separate `unlimitedAssets`, without counts. false: left out.
  const listed = unlimited === undefined ? books : books.filter((b) => !isFree(b));
  const result = pagedList(ctx, listed, 'assets', 'assets', (b) => ({ ...asset(b), availableCount: availableCount(b), retiredCount: b.retiredCount, totalCount: b.totalCount }));
  if (unlimited === true) (result.body as Record<string, unknown>).unlimitedAssets = books.filter(isFree).map(asset);
  return result;
}

/** Get Assignments: changes since a versionId, or one book's or one user's licenses. */
export function listAssignments(ctx: ApiContext): ApiResult {
  const since = sinceParam(ctx);
  const adamId = ctx.query.get('adamId');
  const clientUserId = ctx.query.get('clientUserId');
  const pricingParam = ctx.query.get('pricingParam');
  const selected = [...ctx.org.assignments.values()].filter(
    (a) => a.versionId > since && (!adamId || a.adamId === adamId) && (!clientUserId || a.clientUserId === clientUserId) && (!pricingParam || a.pricingParam === pricingParam),
  );
  return pagedList(ctx, selected, 'assignments', 'assignments', ({ adamId: a, pricingParam: p, clientUserId: c }) => ({ adamId: a, clientUserId: c, pricingParam: p }));
}

/**
 * Get Users: every entry, retired ones included, unless `activeOnly` or `retiredOnly`. A user retired and
 * created again has several entries with the same clientUserId (Managing users).
 */
export function listUsers(ctx: ApiContext): ApiResult {
  const since = sinceParam(ctx);
  const activeOnly = boolParam(ctx.query, 'activeOnly') === true;
  const retiredOnly = boolParam(ctx.query, 'retiredOnly') === true;
  const clientUserId = ctx.query.get('clientUserId');
  const selected = [...ctx.org.users.values()].filter(
    (u) => u.versionId > since && (!activeOnly || u.status !== 'Retired') && (!retiredOnly || u.status === 'Retired') && (!clientUserId || u.clientUserId === clientUserId),
  );
  return pagedList(ctx, selected, 'users', 'users', (u) => ({
    clientUserId: u.clientUserId,
    ...(u.email ? { email: u.email } : {}),
    ...(u.idHash ? { idHash: u.idHash } : {}),
    ...(u.inviteCode ? { inviteCode: u.inviteCode } : {}),
    status: u.status,
  }));
}

const usersBodySchema = z.object({
  users: z.array(z.object({ clientUserId: z.string().min(1), email: z.string().optional(), managedAppleId: z.string().optional() })),
});

/** Apple refuses the whole request (9717) when an address is not an e-mail address, naming the users. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function userEvent(ctx: ApiContext, eventType: 'CREATE' | 'UPDATE' | 'RETIRE'): ApiResult {
  const { users } = parseBody(usersBodySchema, ctx.body);
  if (users.length === 0) refuse(9720);
  if (users.length > ctx.limits.maxUsers) refuse(9714);
  if (duplicates(users.map((u) => u.clientUserId))) refuse(9715);
  const badEmail = users.filter((u) => u.email !== undefined && !EMAIL.test(u.email)).map((u) => u.clientUserId);
  if (badEmail.length > 0) refuse(9717, { clientUserIds: badEmail });
  const event = ctx.state.createEvent(ctx.org, eventType, users.length, { kind: 'users', eventType, users });
  return { status: 200, body: { ...common(ctx), eventId: event.eventId } };
}

const associateSchema = z.object({
  assets: z.array(z.object({ adamId: z.string().min(1), pricingParam: z.string().min(1) })).default([]),
  clientUserIds: z.array(z.string().min(1)).default([]),
  serialNumbers: z.array(z.string()).default([]),
});

export function associate(ctx: ApiContext): ApiResult {
  const { assets, clientUserIds, serialNumbers } = parseBody(associateSchema, ctx.body);
  if (assets.length === 0) refuse(9718);
  if (clientUserIds.length === 0 && serialNumbers.length === 0) refuse(9719);
  if (assets.length > ctx.limits.maxAssets) refuse(9700);
  if (clientUserIds.length > ctx.limits.maxClientUserIds) refuse(9701);
  if (serialNumbers.length > ctx.limits.maxSerialNumbers) refuse(9702);
  if (duplicates(assets.map((a) => `${a.adamId}|${a.pricingParam}`))) refuse(9703);
  if (duplicates(clientUserIds)) refuse(9704);
  if (duplicates(serialNumbers)) refuse(9705);
  // Books are licensed to users only.
  if (serialNumbers.length > 0) refuse(9707);
  const { state, org } = ctx;
  if (assets.some((a) => !state.findBook(org, a.adamId, a.pricingParam))) refuse(9602);
  const event = state.createEvent(org, 'ASSOCIATE', assets.length * clientUserIds.length, { kind: 'associate', assets, clientUserIds });
  return { status: 200, body: { ...common(ctx), eventId: event.eventId } };
}

export function disassociate(ctx: ApiContext): ApiResult {
  parseBody(associateSchema, ctx.body);
  return appleError(9706);
}

export function eventStatus(ctx: ApiContext): ApiResult {
  const eventId = ctx.query.get('eventId');
  if (!eventId) refuse(9602);
  ctx.state.settle(ctx.org);
  const event = ctx.state.events.get(eventId);
  if (!event || event.orgId !== ctx.org.id) refuse(9708);
  // Managing assets: an event where anything failed is FAILED, even with most of it done (14 of 16).
  const eventStatus = !event.done ? 'PENDING' : event.failures.length > 0 ? 'FAILED' : 'COMPLETE';
  return {
    status: 200,
    body: {
      ...common(ctx),
      eventStatus,
      eventType: event.eventType,
      numCompleted: event.done ? event.numCompleted : 0,
      numRequested: event.numRequested,
      ...(event.failures.length > 0 ? { failures: event.failures } : {}),
    },
  };
}

/** Runs a handler and turns a refusal into Apple's error body. */
export function runApi(handler: (ctx: ApiContext) => ApiResult, ctx: ApiContext): ApiResult {
  try {
    return handler(ctx);
  } catch (error) {
    if (error instanceof ApiRefusal) return error.result;
    throw error;
  }
}
