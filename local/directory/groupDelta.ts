import { z } from 'zod';
import type { DirectoryState } from './DirectoryState';
import { GraphHttpError, ODATA_TYPE, serializeObject } from './graphObjects';

/**
 * `GET /groups/delta` as Microsoft Graph v1.0 documents it (group-delta, delta-query-groups,
 * delta-query-overview): an initial round lists the groups with their direct members in `members@delta`,
 * a large group spread over several pages (`@odata.nextLink` with `$skiptoken`), and ends with an
 * `@odata.deltaLink` (`$deltatoken`); a round from that link lists only groups whose members changed,
 * leavers marked `@removed`. Tokens are opaque to clients; here they are base64url JSON naming a
 * membership-log sequence number, so no membership is copied per token.
 */

/** group-delta: "There is a limit of 50 filtered objects." */
export const MAX_DELTA_FILTER_IDS = 50;

/** Group properties a delta query may select here; `members` tracks membership. */
const SELECTABLE = new Set(['id', 'displayName', 'description', 'groupTypes', 'membershipRule', 'membershipRuleProcessingState', 'securityEnabled', 'mailEnabled', 'members']);

/** delta-query-overview: for users and groups $top, $orderby (and $expand beyond members) are not supported; group-delta: no $search. */
const UNSUPPORTED = ['$top', '$skip', '$orderby', '$search', '$count'];

const EXPIRED_MESSAGE = 'The sync state generation is not found. The delta token is expired and data must be synchronized again.';
const INVALID_MESSAGE = 'The delta token is no longer valid, and the app must reset the sync state.';

const querySchema = z.object({
  /** Which state made the token: a token from another run is unknown here. */
  i: z.string().max(64),
  /** Filtered group ids; null tracks every group. */
  f: z.array(z.string().max(128)).max(MAX_DELTA_FILTER_IDS).nullable(),
  /** $select; null returns the default properties and members. */
  p: z.array(z.string().max(64)).max(SELECTABLE.size).nullable(),
});
const deltaTokenSchema = querySchema.extend({ s: z.number().int().min(0), t: z.number().int().min(0) });
const skipTokenSchema = querySchema.extend({
  /** Changes since this sequence number; null for an initial round. */
  from: z.number().int().min(0).nullable(),
  to: z.number().int().min(0),
  /** Where the next page starts: group index and member offset within it. */
  g: z.number().int().min(0),
  m: z.number().int().min(0),
});
type Query = z.infer<typeof querySchema>;
type Round = Query & { from: number | null; to: number };

export interface GroupDeltaContext {
  state: DirectoryState;
  origin: string;
  /** Members (or member-less groups) per page. */
  pageSize: number;
}

interface MemberEntry {
  id: string;
  removed: boolean;
}

/** Query parameter names are matched as Graph does here: `$deltaToken` and `$deltatoken` alike. */
function param(url: URL, name: string): string | null {
  for (const [key, value] of url.searchParams) if (key.toLowerCase() === name.toLowerCase()) return value;
  return null;
}

function encodeToken(token: object): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

function decodeToken<T extends z.ZodType>(text: string, schema: T, state: DirectoryState): z.infer<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success || (result.data as Query).i !== state.instanceId) throw new GraphHttpError(400, 'resyncRequired', INVALID_MESSAGE);
  return result.data;
}

function parseFilter(filter: string | null): string[] | null {
  if (filter === null) return null;
  const clauses = filter.trim().split(/\s+or\s+/i);
  const ids = clauses.map((clause) => /^id\s+eq\s+'([^']+)'$/i.exec(clause.trim())?.[1]);
  if (ids.some((id) => id === undefined)) throw new GraphHttpError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: ${filter}`);
  const unique = [...new Set(ids as string[])];
  if (unique.length > MAX_DELTA_FILTER_IDS) throw new GraphHttpError(400, 'Request_BadRequest', `The $filter clause names ${unique.length} objects; delta query can track at most ${MAX_DELTA_FILTER_IDS}.`);
  return unique;
}

function parseSelect(select: string | null): string[] | null {
  if (select === null) return null;
  const fields = [...new Set(select.split(',').map((f) => f.trim()).filter((f) => f.length > 0))];
  for (const field of fields) {
    if (!SELECTABLE.has(field)) throw new GraphHttpError(400, 'Request_BadRequest', `Could not find a property named '${field}' on type 'microsoft.graph.group'.`);
  }
  return fields;
}

/** The query of a round's first request, checked as Graph checks it. */
function parseQuery(url: URL, state: DirectoryState): Query {
  for (const name of UNSUPPORTED) {
    if (param(url, name) !== null) throw new GraphHttpError(400, 'Request_UnsupportedQuery', `The query parameter '${name}' is not supported with delta query.`);
  }
  const expand = param(url, '$expand');
  if (expand !== null && expand.trim().toLowerCase() !== 'members') throw new GraphHttpError(400, 'Request_UnsupportedQuery', `The query parameter '$expand' is only supported for members with delta query.`);
  const select = parseSelect(param(url, '$select'));
  // delta-query-groups: $expand=members asks for membership changes as $select=members does.
  const withMembers = expand !== null && select !== null && !select.includes('members') ? [...select, 'members'] : select;
  return { i: state.instanceId, f: parseFilter(param(url, '$filter')), p: withMembers };
}

/** Refuses a token the membership log can no longer answer for, as Graph refuses an expired one. */
function checkRetained(seq: number, ctx: GroupDeltaContext): void {
  if (seq > ctx.state.membershipLog.version) throw new GraphHttpError(400, 'resyncRequired', INVALID_MESSAGE);
  if (!ctx.state.membershipLog.covers(seq)) throw new GraphHttpError(400, 'syncStateNotFound', EXPIRED_MESSAGE);
}

const tracksMembers = (round: Query): boolean => round.p === null || round.p.includes('members');

/** The round's groups, sorted by id: those that existed at its end and, for a changes round, whose members moved. */
function roundGroups(round: Round, state: DirectoryState): string[] {
  const candidates = round.f ?? [...state.groups.keys()];
  const present = candidates.filter((id) => state.groups.has(id) && state.existedAt(id, round.to));
  const from = round.from;
  if (from === null) return present.sort();
  return present
    .filter((id) => {
      if (!state.existedAt(id, from)) return true;
      if (!tracksMembers(round) || !state.mayHaveChanged(id, from, round.to)) return false;
      const changes = state.memberChanges(id, from, round.to);
      return changes.added.length + changes.removed.length > 0;
    })
    .sort();
}

function memberEntries(round: Round, groupId: string, state: DirectoryState): MemberEntry[] {
  if (!tracksMembers(round)) return [];
  if (round.from === null) return state.membersAt(groupId, round.to).map((id) => ({ id, removed: false }));
  const { added, removed } = state.memberChanges(groupId, round.from, round.to);
  return [...added.map((id) => ({ id, removed: false })), ...removed.map((id) => ({ id, removed: true }))];
}

function memberDelta(entry: MemberEntry, state: DirectoryState): Record<string, unknown> {
  const kind = state.kindOf(entry.id);
  const type = kind === undefined ? '#microsoft.graph.directoryObject' : ODATA_TYPE[kind];
  // delta-query-groups: a member that left carries `"@removed": { "reason": "deleted" }`.
  return entry.removed ? { '@odata.type': type, id: entry.id, '@removed': { reason: 'deleted' } } : { '@odata.type': type, id: entry.id };
}

/** The group's selected properties, as on every page it appears on. */
function groupObject(groupId: string, round: Query, state: DirectoryState): Record<string, unknown> {
  const { '@odata.type': _type, ...properties } = serializeObject(state, groupId) ?? { id: groupId };
  if (round.p === null) return properties;
  const wanted = new Set(['id', ...round.p]);
  return Object.fromEntries(Object.entries(properties).filter(([key]) => wanted.has(key)));
}

/** One page from (group g, member m): members fill the page; a group bigger than what is left continues on the next. */
function roundPage(round: Round, start: { g: number; m: number }, ctx: GroupDeltaContext): Record<string, unknown> {
  const groups = roundGroups(round, ctx.state);
  const value: Array<Record<string, unknown>> = [];
  let room = ctx.pageSize;
  let { g, m } = start;
  while (g < groups.length && room > 0) {
    const groupId = groups[g] as string;
    const entries = memberEntries(round, groupId, ctx.state);
    const slice = entries.slice(m, m + room);
    const item = groupObject(groupId, round, ctx.state);
    // delta-query-groups: a group without members carries no members@delta.
    if (slice.length > 0) item['members@delta'] = slice.map((entry) => memberDelta(entry, ctx.state));
    value.push(item);
    room -= Math.max(slice.length, 1);
    if (m + slice.length < entries.length) {
      m += slice.length;
      break;
    }
    g++;
    m = 0;
  }
  if (g < groups.length) return deltaPage(ctx, value, { '@odata.nextLink': `${ctx.origin}/v1.0/groups/delta?$skiptoken=${encodeToken({ i: round.i, f: round.f, p: round.p, from: round.from, to: round.to, g, m })}` });
  return deltaPage(ctx, value, { '@odata.deltaLink': deltaLink(round, round.to, ctx) });
}

/** The link for the next round: the query and the sequence number the round ended at, dated now. */
function deltaLink(query: Query, seq: number, ctx: GroupDeltaContext): string {
  return `${ctx.origin}/v1.0/groups/delta?$deltatoken=${encodeToken({ i: query.i, f: query.f, p: query.p, s: seq, t: ctx.state.now() })}`;
}

function deltaPage(ctx: GroupDeltaContext, value: Array<Record<string, unknown>>, link: Record<string, string>): Record<string, unknown> {
  return { '@odata.context': `${ctx.origin}/v1.0/$metadata#groups`, ...link, value };
}

/** Answers one `GET /v1.0/groups/delta` request. */
export function groupDelta(url: URL, ctx: GroupDeltaContext): Record<string, unknown> {
  const state = ctx.state;
  const skipToken = param(url, '$skiptoken');
  if (skipToken !== null) {
    const token = decodeToken(skipToken, skipTokenSchema, state);
    checkRetained(token.from ?? token.to, ctx);
    return roundPage(token, { g: token.g, m: token.m }, ctx);
  }
  const deltaToken = param(url, '$deltatoken');
  // delta-query-overview: `$deltatoken=latest` answers a deltaLink and no resource data ("sync from now").
  if (deltaToken?.toLowerCase() === 'latest') return deltaPage(ctx, [], { '@odata.deltaLink': deltaLink(parseQuery(url, state), state.membershipLog.version, ctx) });
  if (deltaToken !== null) {
    const token = decodeToken(deltaToken, deltaTokenSchema, state);
    if (state.now() - token.t > state.deltaTokenLifetimeMs) throw new GraphHttpError(400, 'syncStateNotFound', EXPIRED_MESSAGE);
    checkRetained(token.s, ctx);
    return roundPage({ i: token.i, f: token.f, p: token.p, from: token.s, to: state.membershipLog.version }, { g: 0, m: 0 }, ctx);
  }
  return roundPage({ ...parseQuery(url, state), from: null, to: state.membershipLog.version }, { g: 0, m: 0 }, ctx);
}
