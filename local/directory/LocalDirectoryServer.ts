import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../../services/logging/logger';
import { DirectoryState, type LocalDevice, type LocalGroup, type LocalUser } from './DirectoryState';
import { seedDirectoryDemoData } from './demoData';
import { idsInFilter } from './usersById';
import { GraphHttpError, project, resourceNotFound, serializeObject, userListView } from './graphObjects';
import { groupDelta } from './groupDelta';

export interface LocalDirectoryOptions {
  port?: number;
  host?: string;
  /** Most objects per page whatever `$top` asks for; small by default so paging is exercised. */
  pageSize?: number;
  /** False starts empty; otherwise the demo tenant is loaded first. */
  seedDemoData?: boolean;
  /** Demo students; 5,000 by default. */
  studentCount?: number;
  users?: LocalUser[];
  devices?: LocalDevice[];
  groups?: LocalGroup[];
  logger?: Logger;
  /** Most membership changes kept for groups/delta; a delta token older than the oldest kept change is refused. */
  membershipLogLimit?: number;
  /** How long a delta token stays usable (seven days, as Graph's). */
  deltaTokenLifetimeMs?: number;
  /** The clock delta tokens are dated with. */
  now?: () => number;
}

/** A canned answer for the next matching requests: 429 with Retry-After, 403, 503… */
interface DirectoryFault {
  status: number;
  /** Only requests whose path contains this. */
  pathIncludes?: string;
  /** How many requests get it; 1 by default. */
  times?: number;
  retryAfter?: string;
  body?: unknown;
}

interface RecordedRequest {
  method: string;
  path: string;
  /** The query string, `?` included ('' for none). */
  search: string;
  authorization: string | undefined;
  consistencyLevel: string | undefined;
}

export interface RunningLocalDirectory {
  /** What GRAPH_BASE_URL points at (the client adds /v1.0). */
  baseUrl: string;
  state: DirectoryState;
  /** Queue a fault for upcoming requests. */
  fail(fault: DirectoryFault): void;
  /** Drop every queued fault. */
  clearFaults(): void;
  /** Requests seen, newest last (bounded). */
  requests: RecordedRequest[];
  /** Teams apps installed per user through `POST /users/{id}/teamwork/installedApps` (catalog app ids). */
  installedApps: Map<string, Set<string>>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_RECORDED = 2_000;
const DEFAULT_PAGE_SIZE = 100;
const SEARCH_NEEDS_HEADER = "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'";
/**
 * Graph's refusal of a `$count` segment without `ConsistencyLevel: eventual`, word for word from
 * https://learn.microsoft.com/en-us/graph/aad-advanced-queries ("Error handling for advanced queries on directory objects").
 */
const COUNT_NEEDS_HEADER = '$count is not currently supported.';
/** Graph's refusal of $orderby with $search or $filter outside an advanced query (aad-advanced-queries). */
const SORT_NEEDS_ADVANCED = 'Sorting not supported for current query.';

type RouteResult = { status: number; json?: unknown; text?: string };

const checkMemberGroupsBody = z.object({ groupIds: z.array(z.string().min(1).max(128)).min(1).max(20) });

/**
 * Serves the slice of Microsoft Graph v1.0 the bot uses, in Graph's shape: group search ($search with
 * ConsistencyLevel, $filter startswith), members and transitive members with type casts, $count,
 * @odata.nextLink paging, checkMemberGroups, groups/delta with members@delta and users by `$filter=id in (…)`. Tests change
 * the directory through `state`. Accepts any or no Authorization header.
 */
export async function startLocalDirectory(options: LocalDirectoryOptions = {}): Promise<RunningLocalDirectory> {
  const state = new DirectoryState({ membershipLogLimit: options.membershipLogLimit, deltaTokenLifetimeMs: options.deltaTokenLifetimeMs, now: options.now });
  if (options.seedDemoData !== false) seedDirectoryDemoData(state, { studentCount: options.studentCount });
  for (const u of options.users ?? []) state.addUser(u);
  for (const d of options.devices ?? []) state.addDevice(d);
  for (const g of options.groups ?? []) state.addGroup(g);
  const maxPage = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const faults: Array<DirectoryFault & { remaining: number }> = [];
  const requests: RecordedRequest[] = [];
  let origin = '';

  const serialize = (id: string): Record<string, unknown> | undefined => serializeObject(state, id);

  /** One page of `ids` with a nextLink carrying the offset, as Graph's opaque $skiptoken; `view` shows one object. */
  function page(
    url: URL,
    ids: string[],
    extra: Record<string, unknown> = {},
    view: (id: string, select: string | null) => Record<string, unknown> = (id, select) => project(serialize(id) ?? {}, select),
  ): Record<string, unknown> {
    const topParam = url.searchParams.get('$top');
    const top = topParam === null ? DEFAULT_PAGE_SIZE : Number(topParam);
    if (!Number.isInteger(top) || top < 1 || top > 999) throw new GraphHttpError(400, 'Request_BadRequest', `Invalid page size specified: '${topParam ?? ''}'. Must be between 1 and 999 inclusive.`);
    const size = Math.min(top, maxPage);
    const skipToken = url.searchParams.get('$skiptoken');
    const offset = skipToken === null ? 0 : Number(Buffer.from(skipToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0) throw new GraphHttpError(400, 'Directory_ExpiredPageToken', 'The specified page token value has expired and can no longer be included in your request.');
    const select = url.searchParams.get('$select');
    const value = ids.slice(offset, offset + size).map((id) => view(id, select));
    const body: Record<string, unknown> = { '@odata.context': `${origin}/v1.0/$metadata`, ...extra, value };
    if (offset + size < ids.length) {
      const next = new URL(`${origin}${url.pathname}${url.search}`);
      next.searchParams.set('$skiptoken', Buffer.from(String(offset + size)).toString('base64url'));
      body['@odata.nextLink'] = next.toString();
    }
    return body;
  }

  function matchesSearch(group: LocalGroup, search: string): boolean {
    const clauses = [...search.matchAll(/"(\w+):([^"]*)"/g)];
    if (clauses.length === 0) throw new GraphHttpError(400, 'Request_UnsupportedQuery', 'Syntax error: the $search value must be "property:text" in double quotes.');
    return clauses.some(([, property, text]) => {
      const value = property === 'description' ? group.description : property === 'displayName' ? group.displayName : undefined;
      return value !== undefined && value.toLowerCase().includes((text ?? '').trim().toLowerCase());
    });
  }

  function matchesFilter(group: LocalGroup, filter: string): boolean {
    const match = /^startswith\(displayName,\s*'((?:[^']|'')*)'\)$/i.exec(filter.trim());
    if (!match) throw new GraphHttpError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: ${filter}`);
    return group.displayName.toLowerCase().startsWith((match[1] ?? '').replace(/''/g, "'").toLowerCase());
  }

  function listGroups(url: URL, eventual: boolean): Record<string, unknown> {
    const search = url.searchParams.get('$search');
    const filter = url.searchParams.get('$filter');
    const orderBy = url.searchParams.get('$orderby');
    if (search !== null && !eventual) throw new GraphHttpError(400, 'Request_UnsupportedQuery', SEARCH_NEEDS_HEADER);
    // aad-advanced-queries: without ConsistencyLevel Graph "silently ignores the `$count` query parameter (`?$count=true`)".
    const withCount = eventual && url.searchParams.get('$count') === 'true';
    if (orderBy !== null && !/^displayName(?: asc)?$/.test(orderBy.trim())) throw new GraphHttpError(400, 'Request_UnsupportedQuery', `Unsupported sort property '${orderBy}'. The local directory sorts groups by displayName only.`);
    // aad-advanced-queries (https://learn.microsoft.com/en-us/graph/aad-advanced-queries): $orderby together with
    // $search or $filter is an advanced query, refused as "Sorting not supported for current query." without
    // ConsistencyLevel eventual and $count=true.
    if (orderBy !== null && (search !== null || filter !== null) && !withCount) throw new GraphHttpError(400, 'Request_UnsupportedQuery', SORT_NEEDS_ADVANCED);
    const matching = [...state.groups.values()].filter((g) => (search === null || matchesSearch(g, search)) && (filter === null || matchesFilter(g, filter)));
    // Without $orderby Graph promises no order: here, the order the groups were created in.
    const groups = orderBy === null ? matching : matching.sort((a, b) => a.displayName.localeCompare(b.displayName));
    return page(url, groups.map((g) => g.id), withCount ? { '@odata.count': groups.length } : {});
  }

  /** `GET /users?$filter=id in (…)`: the users among the ids, unknown ones left out, as the users collection lists them. */
  function listUsersById(url: URL): Record<string, unknown> {
    const filter = url.searchParams.get('$filter');
    if (filter === null) throw new GraphHttpError(400, 'Request_UnsupportedQuery', "The local directory lists users only with $filter=id in ('…').");
    // Object ids are GUIDs, which Graph compares without regard to case.
    const ids = [...new Set(idsInFilter(filter).map((id) => (state.users.has(id) ? id : id.toLowerCase())))].filter((id) => state.users.has(id));
    return page(url, ids, { '@odata.context': `${origin}/v1.0/$metadata#users` }, (id, select) => userListView(state.users.get(id) as LocalUser, select));
  }

  const installedApps = new Map<string, Set<string>>();
  const catalogIdOf = (externalId: string): string => `catalog-${externalId}`;

  function route(method: string, url: URL, eventual: boolean, body: unknown): RouteResult {
    const path = url.pathname.replace(/\/+$/, '');
    if (method === 'GET' && path === '/v1.0/groups') return { status: 200, json: listGroups(url, eventual) };
    if (method === 'GET' && path === '/v1.0/users') return { status: 200, json: listUsersById(url) };
    // group-delta: `/delta` is short for `/microsoft.graph.delta`.
    if (method === 'GET' && /^\/v1\.0\/groups\/(?:delta|microsoft\.graph\.delta(?:\(\))?)$/.test(path)) return { status: 200, json: groupDelta(url, { state, origin, pageSize: maxPage }) };
    return readRoute(method, path, url, eventual, body);
  }

  function readRoute(method: string, path: string, url: URL, eventual: boolean, body: unknown): RouteResult {

    // The organisation's app catalog holds the bot under a catalog id of its own; its manifest id is the externalId.
    if (method === 'GET' && path === '/v1.0/appCatalogs/teamsApps') {
      const externalId = /^externalId eq '([^']*)'$/.exec(url.searchParams.get('$filter') ?? '')?.[1];
      if (externalId === undefined) throw new GraphHttpError(400, 'BadRequest', 'Only $filter=externalId eq \'…\' is supported here.');
      return { status: 200, json: { value: [{ id: catalogIdOf(externalId), externalId, displayName: 'VPP Books', distributionMethod: 'organization' }] } };
    }

    const installs = /^\/v1\.0\/users\/([^/]+)\/teamwork\/installedApps$/.exec(path);
    if (installs) {
      const id = decodeURIComponent(installs[1] ?? '');
      if (!state.users.has(id)) throw resourceNotFound(id);
      const apps = installedApps.get(id) ?? new Set<string>();
      if (method === 'GET') return { status: 200, json: { value: [...apps].map((appId) => ({ id: `${id}:${appId}`, teamsApp: { id: appId } })) } };
      if (method === 'POST') {
        const bind = (body as Record<string, unknown> | undefined)?.['teamsApp@odata.bind'];
        const appId = typeof bind === 'string' ? /\/appCatalogs\/teamsApps\/([^/]+)$/.exec(bind)?.[1] : undefined;
        if (!appId) throw new GraphHttpError(400, 'BadRequest', 'teamsApp@odata.bind must name an app of the catalog.');
        // Graph answers 409 Conflict for an app the user has already.
        if (apps.has(decodeURIComponent(appId))) throw new GraphHttpError(409, 'Conflict', 'App is already installed.');
        apps.add(decodeURIComponent(appId));
        installedApps.set(id, apps);
        return { status: 201, text: '' };
      }
    }

    const members = /^\/v1\.0\/groups\/([^/]+)\/(members|transitiveMembers)(?:\/microsoft\.graph\.(user|device|group))?(\/\$count)?$/.exec(path);
    if (method === 'GET' && members) {
      const [, rawId = '', relation, cast, count] = members;
      const id = decodeURIComponent(rawId);
      if (!state.groups.has(id)) throw resourceNotFound(id);
      let ids = relation === 'transitiveMembers' ? state.transitiveMembers(id) : state.directMembers(id);
      if (cast) ids = ids.filter((m) => state.kindOf(m) === cast);
      if (count) {
        // group-list-transitivemembers / group-list-members, "Get only a count": `ConsistencyLevel: eventual`
        // required, answered `200 OK`, `Content-type: text/plain`, the bare number. Without the header the
        // `$count` segment is an error (aad-advanced-queries).
        if (!eventual) throw new GraphHttpError(400, 'Request_BadRequest', COUNT_NEEDS_HEADER);
        return { status: 200, text: String(ids.length) };
      }
      return { status: 200, json: page(url, ids) };
    }

    const group = /^\/v1\.0\/groups\/([^/]+)$/.exec(path);
    if (method === 'GET' && group) {
      const id = decodeURIComponent(group[1] ?? '');
      if (!state.groups.has(id)) throw resourceNotFound(id);
      return { status: 200, json: project(serialize(id) ?? {}, url.searchParams.get('$select')) };
    }

    const user = /^\/v1\.0\/users\/([^/]+)(\/checkMemberGroups)?$/.exec(path);
    if (user) {
      const id = decodeURIComponent(user[1] ?? '');
      if (!state.users.has(id)) throw resourceNotFound(id);
      if (method === 'GET' && !user[2]) return { status: 200, json: project(serialize(id) ?? {}, url.searchParams.get('$select')) };
      if (method === 'POST' && user[2]) {
        const parsed = checkMemberGroupsBody.safeParse(body);
        if (!parsed.success) throw new GraphHttpError(400, 'Request_BadRequest', 'Invalid request body: groupIds must list 1 to 20 group ids.');
        return { status: 200, json: { value: parsed.data.groupIds.filter((g) => state.groups.has(g) && state.transitiveMembers(g).includes(id)) } };
      }
    }
    throw new GraphHttpError(400, 'BadRequest', `Resource not found for the segment '${path.split('/').pop() ?? ''}'.`);
  }

  async function readBody(req: http.IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new GraphHttpError(413, 'Request_EntityTooLarge', 'Request body too large.');
      chunks.push(chunk);
    }
    if (size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new GraphHttpError(400, 'BadRequest', 'Unable to read JSON request payload.');
    }
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      const method = req.method ?? 'GET';
      const consistency = req.headers['consistencylevel'];
      const consistencyLevel = Array.isArray(consistency) ? consistency[0] : consistency;
      requests.push({ method, path: url.pathname, search: url.search, authorization: req.headers.authorization, consistencyLevel });
      if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);
      const send = (status: number, payload: string, type: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': type, ...headers });
        res.end(payload);
      };
      try {
        const fault = faults.find((f) => f.remaining > 0 && (!f.pathIncludes || url.pathname.includes(f.pathIncludes)));
        if (fault) {
          fault.remaining--;
          const body = fault.body ?? { error: { code: fault.status === 429 ? 'TooManyRequests' : 'InjectedFault', message: `Injected ${fault.status}` } };
          send(fault.status, JSON.stringify(body), 'application/json', fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter });
          return;
        }
        const body = await readBody(req);
        const result = route(method, url, consistencyLevel?.toLowerCase() === 'eventual', body);
        if (result.text !== undefined) send(result.status, result.text, 'text/plain');
        else send(result.status, JSON.stringify(result.json), 'application/json;odata.metadata=minimal');
      } catch (err) {
        if (err instanceof GraphHttpError) {
          send(err.status, JSON.stringify({ error: { code: err.code, message: err.message } }), 'application/json');
          return;
        }
        options.logger?.error({ err }, 'local directory request failed');
        send(500, JSON.stringify({ error: { code: 'InternalServerError', message: 'Local directory error.' } }), 'application/json');
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  origin = `http://${options.host ?? '127.0.0.1'}:${address.port}`;
  options.logger?.info({ baseUrl: origin, users: state.users.size, groups: state.groups.size }, 'local directory listening');

  return {
    baseUrl: origin,
    state,
    requests,
    installedApps,
    fail: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
    clearFaults: () => faults.splice(0, faults.length),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
