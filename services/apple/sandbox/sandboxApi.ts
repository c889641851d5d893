import { z } from 'zod';
import type { EventFailure } from '../schemas';
import { availableCount, type SandboxOrganisation, type SandboxState, type SandboxToken } from './SandboxState';

/** Apple's v2 endpoints over the sandbox state: each handler returns a status and a JSON body. */

export interface SandboxLimits {
  maxAssets: number;
  maxClientUserIds: number;
  maxUsers: number;
  maxSerialNumbers: number;
  maxRequestPerSecond: number;
}

export const SANDBOX_DEFAULT_LIMITS: SandboxLimits = { maxAssets: 25, maxClientUserIds: 1000, maxUsers: 100, maxSerialNumbers: 1000, maxRequestPerSecond: 15 };

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

export const appleError = (status: number, errorNumber: number, errorMessage: string): ApiResult => ({
  status,
  body: { errorNumber, errorMessage },
});

const common = (ctx: ApiContext): { tokenExpirationDate: string; uId: string } => ({
  tokenExpirationDate: ctx.state.tokenExpirationDate(ctx.token),
  uId: ctx.org.uId,
});

class ApiRefusal extends Error {
  constructor(readonly result: ApiResult) {
    super(String((result.body as { errorMessage?: string }).errorMessage ?? 'refused'));
  }
}

function refuse(status: number, errorNumber: number, message: string): never {
  throw new ApiRefusal(appleError(status, errorNumber, message));
}

function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) refuse(400, 9602, `Invalid argument: ${name}`);
  return Number(raw);
}

function page<T>(ctx: ApiContext, items: readonly T[]): { items: T[]; currentPageIndex: number; size: number; totalPages: number; nextPageIndex?: number } {
  const pageIndex = intParam(ctx.query, 'pageIndex', 0);
  const size = ctx.state.pageSize;
  const totalPages = Math.ceil(items.length / size);
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
  if (!parsed.success) refuse(400, 9602, `Invalid argument: ${parsed.error.issues[0]?.path.join('.') || 'body'}`);
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
      defaultPlatform: 'volumestore',
      ...(ctx.org.mdmInfo ? { mdmInfo: ctx.org.mdmInfo } : {}),
    },
  };
}

const claimSchema = z.object({ mdmInfo: z.object({ id: z.string().min(1), name: z.string().min(1), metadata: z.string().optional() }) });

export function claimClientConfig(ctx: ApiContext): ApiResult {
  const { mdmInfo } = parseBody(claimSchema, ctx.body);
  ctx.org.mdmInfo = mdmInfo;
  return clientConfig(ctx);
}

/** Apple's paged list answer: one page of `all` under `key`, the paging fields and the organisation's version. */
function pagedList<T>(ctx: ApiContext, all: readonly T[], key: string, toJson: (item: T) => unknown): ApiResult {
  const { items, ...paging } = page(ctx, all);
  return { status: 200, body: { ...common(ctx), ...paging, versionId: String(ctx.org.version), [key]: items.map(toJson) } };
}

export function listAssets(ctx: ApiContext): ApiResult {
  const productType = ctx.query.get('productType');
  const pricingParam = ctx.query.get('pricingParam');
  const books = productType && productType !== 'Book' ? [] : [...ctx.org.books.values()].filter((b) => !pricingParam || b.pricingParam === pricingParam);
  return pagedList(ctx, books, 'assets', (b) => ({
    adamId: b.adamId,
    pricingParam: b.pricingParam,
    productType: 'Book',
    assignedCount: b.assignedCount,
    availableCount: availableCount(b),
    retiredCount: b.retiredCount,
    totalCount: b.totalCount,
    deviceAssignable: false,
    revocable: false,
    supportedPlatforms: ['iOS', 'macOS'],
  }));
}

export function listAssignments(ctx: ApiContext): ApiResult {
  const since = intParam(ctx.query, 'sinceVersionId', 0);
  const adamId = ctx.query.get('adamId');
  const clientUserId = ctx.query.get('clientUserId');
  const selected = [...ctx.org.assignments.values()].filter(
    (a) => a.versionId > since && (!adamId || a.adamId === adamId) && (!clientUserId || a.clientUserId === clientUserId),
  );
  return pagedList(ctx, selected, 'assignments', ({ adamId: a, pricingParam, clientUserId: c }) => ({ adamId: a, pricingParam, clientUserId: c }));
}

export function listUsers(ctx: ApiContext): ApiResult {
  const sinceRaw = ctx.query.get('sinceVersionId');
  const since = intParam(ctx.query, 'sinceVersionId', 0);
  const includeRetired = sinceRaw !== null || ['true', '1'].includes(ctx.query.get('includeRetired') ?? '');
  const selected = [...ctx.org.users.values()].filter((u) => u.versionId > since && (includeRetired || u.status !== 'Retired'));
  return pagedList(ctx, selected, 'users', ({ versionId: _v, ...user }) => user);
}

const usersBodySchema = z.object({
  users: z.array(z.object({ clientUserId: z.string().min(1), email: z.string().optional(), managedAppleId: z.string().optional() })),
});

export function userEvent(ctx: ApiContext, eventType: 'CREATE' | 'UPDATE' | 'RETIRE'): ApiResult {
  const { users } = parseBody(usersBodySchema, ctx.body);
  if (users.length === 0) refuse(400, 9720, 'Missing users');
  if (users.length > ctx.limits.maxUsers) refuse(400, 9703, 'Too many users');
  if (duplicates(users.map((u) => u.clientUserId))) refuse(400, 9705, 'Duplicate clientUserIds');
  const { state, org } = ctx;
  const event = state.createEvent(org, eventType, users.length, () => {
    const failures: EventFailure[] = [];
    for (const user of users) {
      const failure =
        eventType === 'CREATE' ? state.createUser(org, user) : eventType === 'UPDATE' ? state.updateUser(org, user) : state.retireUser(org, user.clientUserId);
      if (failure) failures.push(failure);
    }
    return failures;
  });
  return { status: 200, body: { ...common(ctx), eventId: event.eventId } };
}

const associateSchema = z.object({
  assets: z.array(z.object({ adamId: z.string().min(1), pricingParam: z.string().min(1) })).default([]),
  clientUserIds: z.array(z.string().min(1)).default([]),
  serialNumbers: z.array(z.string()).default([]),
});

export function associate(ctx: ApiContext): ApiResult {
  const { assets, clientUserIds, serialNumbers } = parseBody(associateSchema, ctx.body);
  if (serialNumbers.length > 0) refuse(400, 9707, 'Books are not device assignable');
  if (assets.length === 0) refuse(400, 9718, 'Missing assets');
  if (clientUserIds.length === 0) refuse(400, 9719, 'Missing clientUserIds');
  if (assets.length > ctx.limits.maxAssets) refuse(400, 9700, 'Too many assets');
  if (clientUserIds.length > ctx.limits.maxClientUserIds) refuse(400, 9701, 'Too many clientUserIds');
  if (duplicates(assets.map((a) => `${a.adamId}|${a.pricingParam}`))) refuse(400, 9704, 'Duplicate assets');
  if (duplicates(clientUserIds)) refuse(400, 9705, 'Duplicate clientUserIds');
  const { state, org } = ctx;
  if (assets.some((a) => !state.findBook(org, a.adamId, a.pricingParam))) refuse(400, 9718, 'Assets not found');
  const event = state.createEvent(org, 'ASSOCIATE', assets.length * clientUserIds.length, () => {
    const failures: EventFailure[] = [];
    for (const asset of assets) {
      for (const clientUserId of clientUserIds) {
        const failure = state.assign(org, asset.adamId, asset.pricingParam, clientUserId);
        if (failure) failures.push(failure);
      }
    }
    return failures;
  });
  return { status: 200, body: { ...common(ctx), eventId: event.eventId } };
}

export function disassociate(ctx: ApiContext): ApiResult {
  parseBody(associateSchema, ctx.body);
  return appleError(400, 9706, 'License is not revocable');
}

export function eventStatus(ctx: ApiContext): ApiResult {
  const eventId = ctx.query.get('eventId');
  if (!eventId) refuse(400, 9602, 'Invalid argument: eventId');
  ctx.state.settle(ctx.org);
  const event = ctx.state.events.get(eventId);
  if (!event || event.orgId !== ctx.org.id) refuse(400, 9708, 'Event not found');
  const eventStatus = !event.done ? 'PENDING' : event.numRequested > 0 && event.numCompleted === 0 ? 'FAILED' : 'COMPLETE';
  return {
    status: 200,
    body: {
      ...common(ctx),
      eventId,
      eventStatus,
      eventType: event.eventType,
      numRequested: event.numRequested,
      numCompleted: event.done ? event.numCompleted : 0,
      failures: event.done ? event.failures : [],
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
