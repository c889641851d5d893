import { z } from 'zod';
import { ConfigError } from '../errors';
import { escapeMarkdown } from '../common/chatText';
import { formatCount } from '../common/format';
import { emailSchema } from '../common/email';
import type { Logger } from '../logging/logger';
import type { RetrySettings } from '../common/retry';
import { GraphCallFailure, GraphTransport, type GraphCall, type GraphCredentialOptions, credentialsOf } from '../graph/GraphTransport';
import { collectionSchema } from '../graph/schemas';
import {
  DirectoryAuthError,
  DirectoryError,
  DirectoryNotFoundError,
  DirectoryPermissionError,
  DirectoryResponseError,
  DirectoryUnavailableError,
} from './errors';
import {
  checkMemberGroupsSchema,
  countSchema,
  graphGroupSchema,
  graphUserSchema,
  groupDeltaPageSchema,
  type GraphGroup,
  type GraphMemberDelta,
  type GraphUser,
  type GroupDeltaPage,
} from './schemas';

export const GRAPH_BASE_URL = 'https://graph.microsoft.com';

/** Graph's own limits: 999 objects per page, 20 group ids per checkMemberGroups call. */
const MAX_PAGE_SIZE = 999;
const CHECK_MEMBER_GROUPS_BATCH = 20;
const GROUP_SELECT = 'id,displayName,description,groupTypes,membershipRule,membershipRuleProcessingState,securityEnabled,mailEnabled';
/**
 * Ids per `GET /users?$filter=id in (…)`. Graph known issues, query parameter limitations: "When using the `in`
 * operator, the request is limited to 15 expressions in the filter clause by default".
 */
const USERS_IN_FILTER_BATCH = 15;
/**
 * What may go between the quotes of an `id in (…)` literal: a GUID-like object id, five groups of hex digits
 * (the Agents Playground's ids have a 13-digit last group). No quote can get in, so none can end the literal.
 */
const OBJECT_ID = /^[0-9a-f]{1,16}(?:-[0-9a-f]{1,16}){4}$/i;
/** A round that never reaches its deltaLink is a broken server, not a big group. */
const MAX_DELTA_PAGES = 10_000;
/**
 * How Graph refuses a delta or skip token it no longer honours: 410 Gone ("Synchronization reset"), or a
 * 40X with `syncStateNotFound` (expired, delta-query-overview "Token duration") or `resyncRequired`
 * (errors: "The delta token is no longer valid"). Then the round starts again from nothing.
 */
const DELTA_REFUSAL_CODES = new Set(['syncstatenotfound', 'syncstateinvalid', 'resyncrequired', 'directory_expiredpagetoken']);

const DEFAULT_GRAPH_RETRY: RetrySettings = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 };

export interface GraphDirectoryOptions extends GraphCredentialOptions {
  /** https://graph.microsoft.com by default; the local directory's origin in development and tests. */
  baseUrl?: string;
  fetch?: typeof fetch;
  logger?: Logger;
  /**
   * Where a user's Managed Apple Account lives: `extensionAttribute1`…`extensionAttribute15`
   * (onPremisesExtensionAttributes) or a directory extension such as `extension_<appId>_managedAppleId`.
   * Graph has no such field of its own; without this setting no user has one.
   */
  managedAppleIdAttribute?: string;
  retry?: Partial<RetrySettings>;
  /** Per request; Graph calls that hang would otherwise hold a dialog turn forever. */
  timeoutMs?: number;
}

/** The bot's own sign-in settings (AppConfig.botAuth), as far as Graph needs them. */
export interface BotSignIn {
  appId: string | undefined;
  appPassword: string | undefined;
  tenantId: string | undefined;
  appType: 'SingleTenant' | 'UserAssignedMSI';
}

/**
 * Graph is called app-only with the bot's own identity. For a UserAssignedMSI bot, MicrosoftAppId is the
 * managed identity's client id and there is no secret: the identity itself is the credential.
 */
export function graphSignInFor(bot: BotSignIn): Pick<GraphDirectoryOptions, 'tenantId' | 'clientId' | 'clientSecret' | 'managedIdentityClientId'> {
  if (bot.appType === 'UserAssignedMSI') return { managedIdentityClientId: bot.appId };
  return { tenantId: bot.tenantId, clientId: bot.appId, clientSecret: bot.appPassword };
}

type MembershipType = 'assigned' | 'dynamic';

export interface DirectoryGroup {
  id: string;
  displayName: string;
  description?: string | undefined;
  membershipType: MembershipType;
  membershipRule?: string | undefined;
  /** A dynamic rule over device properties: such a group can only ever hold devices. */
  deviceRule: boolean;
  securityEnabled?: boolean | undefined;
  mailEnabled?: boolean | undefined;
}

/** Who a group holds: only `user` groups may receive books. */
type GroupKind = 'user' | 'device' | 'mixed' | 'empty';

export interface GroupClassification {
  kind: GroupKind;
  /** Transitive user members (Graph's eventual-consistency count). */
  userCount: number;
  /** Transitive device members. */
  deviceCount: number;
  /** One sentence for the admin: why the group counts as what it is. */
  reason: string;
}

export interface DirectoryUser {
  id: string;
  displayName: string;
  userPrincipalName?: string | undefined;
  mail?: string | undefined;
  /** The user's Managed Apple Account, when the directory records one (then VPP skips the invitation). */
  managedAppleId?: string | undefined;
}

/** A direct member of a group as groups/delta names it: its id and what kind of object it is. */
export interface DirectoryMember {
  id: string;
  kind: 'user' | 'group' | 'device' | 'other';
}

/** One round of groups/delta for one group. */
export interface MemberDelta {
  /** Direct members added since the link; on a full round, every direct member. */
  added: DirectoryMember[];
  /** Direct members removed since the link (empty on a full round). */
  removed: DirectoryMember[];
  /** The link for the next round (opaque; store it). */
  deltaLink: string;
  /** True when the round enumerated the whole membership: no link was given, or Graph refused the stored one as expired/invalid (then a full round is made transparently). */
  fullRound: boolean;
}

/** Graph refused a stored delta link (or a page of its round): the caller starts a full round instead. */
class DeltaLinkRefusedError extends DirectoryError {
  override name = 'DeltaLinkRefusedError';

  constructor(status: number, detail: string) {
    super('Microsoft Graph no longer accepts the stored change-tracking link.', 'graph_delta_link_refused', status, detail);
  }
}

const catalogAppsSchema = z.object({ value: z.array(z.object({ id: z.string().min(1) })) });

interface RequestSpec {
  method?: 'GET' | 'POST';
  body?: unknown;
  /** Advanced queries ($search, $count) need eventual consistency. */
  eventual?: boolean;
  /** For a 403: which application permission the call needs and what it was for. */
  permission: string;
  purpose: string;
  /** For a 404: what was missing, in the admin's words. */
  notFound: string;
  /** The URL carries a delta or skip token from an earlier round: Graph's refusal of it is a DeltaLinkRefusedError. */
  resumesDelta?: boolean;
}

const EXTENSION_ATTRIBUTE = /^extensionAttribute([1-9]|1[0-5])$/;
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,119}$/;

function memberKind(odataType: string | undefined): DirectoryMember['kind'] {
  switch (odataType?.toLowerCase()) {
    case '#microsoft.graph.user':
      return 'user';
    case '#microsoft.graph.group':
      return 'group';
    case '#microsoft.graph.device':
      return 'device';
    default:
      return 'other';
  }
}

function ruleTargetsDevices(rule: string | undefined): boolean {
  return rule !== undefined && /\bdevice\./i.test(rule);
}

/** The longest group search text sent to Graph; callers pass what the admin typed and need not cut it. */
const SEARCH_TEXT_MAX = 120;

/** Quotes and backslashes would end Graph's `"displayName:..."` clause early. */
function searchTerm(text: string): string {
  return text.replace(/["\\]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, SEARCH_TEXT_MAX);
}

function toGroup(g: GraphGroup): DirectoryGroup {
  const dynamic = (g.groupTypes ?? []).some((t) => t.toLowerCase() === 'dynamicmembership');
  const rule = g.membershipRule ?? undefined;
  return {
    id: g.id,
    displayName: g.displayName ?? g.id,
    description: g.description ?? undefined,
    membershipType: dynamic ? 'dynamic' : 'assigned',
    membershipRule: rule,
    deviceRule: dynamic && ruleTargetsDevices(rule),
    securityEnabled: g.securityEnabled ?? undefined,
    mailEnabled: g.mailEnabled ?? undefined,
  };
}

/**
 * Reads Entra ID through Microsoft Graph with app-only credentials: group search, user/device group
 * classification, transitive user members page by page, and membership checks. Every answer is
 * validated; every failure is a DirectoryError whose `userMessage` an admin can act on.
 */
export class GraphDirectory {
  readonly baseUrl: string;
  private readonly transport: GraphTransport;
  private readonly userSelect: string;

  constructor(private readonly options: GraphDirectoryOptions = {}) {
    const attribute = options.managedAppleIdAttribute;
    if (attribute !== undefined && !ATTRIBUTE_NAME.test(attribute)) {
      throw new ConfigError(`The managed Apple ID attribute "${attribute}" is not a valid Graph property name.`);
    }
    const extra = attribute === undefined ? [] : [EXTENSION_ATTRIBUTE.test(attribute) ? 'onPremisesExtensionAttributes' : attribute];
    this.userSelect = ['id', 'displayName', 'userPrincipalName', 'mail', ...extra].join(',');
    this.transport = new GraphTransport({
      ...credentialsOf(options),
      baseUrl: options.baseUrl ?? GRAPH_BASE_URL,
      retry: { ...DEFAULT_GRAPH_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 30_000,
      fetch: options.fetch,
      logger: options.logger,
    });
    this.baseUrl = this.transport.baseUrl;
  }

  /**
   * Groups whose display name matches `text` (Graph tokenised search), sorted by name by Graph itself: pages
   * of a typeahead are prefixes of one order, so page 2 never repeats page 1. $orderby with $search or
   * $filter is an advanced query (aad-advanced-queries: ConsistencyLevel eventual and $count=true).
   */
  async searchGroups(text: string, options: { top?: number } = {}): Promise<DirectoryGroup[]> {
    const top = Math.min(Math.max(options.top ?? 25, 1), 100);
    const term = searchTerm(text);
    const search = term ? `$search=${encodeURIComponent(`"displayName:${term}"`)}&` : '';
    const query = `${search}$count=true&$orderby=displayName&$top=${top}&$select=${GROUP_SELECT}`;
    const page = await this.json(`/v1.0/groups?${query}`, collectionSchema(graphGroupSchema), {
      eventual: true,
      permission: 'GroupMember.Read.All',
      purpose: 'search groups',
      notFound: 'The groups list',
    });
    return page.value.map(toGroup);
  }

  /** Groups whose display name starts with `prefix`, sorted by name by Graph (an advanced query, as for searchGroups). */
  async findGroupsByPrefix(prefix: string, options: { top?: number } = {}): Promise<DirectoryGroup[]> {
    const top = Math.min(Math.max(options.top ?? 25, 1), 100);
    const filter = `startswith(displayName,'${prefix.trim().slice(0, SEARCH_TEXT_MAX).replace(/'/g, "''")}')`;
    const page = await this.json(`/v1.0/groups?$filter=${encodeURIComponent(filter)}&$count=true&$orderby=displayName&$top=${top}&$select=${GROUP_SELECT}`, collectionSchema(graphGroupSchema), {
      eventual: true,
      permission: 'GroupMember.Read.All',
      purpose: 'search groups',
      notFound: 'The groups list',
    });
    return page.value.map(toGroup);
  }

  async getGroup(groupId: string): Promise<DirectoryGroup> {
    const group = await this.json(`/v1.0/groups/${encodeURIComponent(groupId)}?$select=${GROUP_SELECT}`, graphGroupSchema, {
      permission: 'GroupMember.Read.All',
      purpose: 'read the group',
      notFound: `The group ${groupId}`,
    });
    return toGroup(group);
  }

  /** Transitive members of one kind, counted by Graph (eventually consistent). */
  async countMembers(groupId: string, kind: 'user' | 'device' | 'group'): Promise<number> {
    const text = await this.text(`/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.${kind}/$count`, {
      eventual: true,
      permission: kind === 'device' ? 'GroupMember.Read.All and Device.Read.All' : kind === 'user' ? 'GroupMember.Read.All and User.Read.All' : 'GroupMember.Read.All',
      purpose: `count the group's ${kind} members`,
      notFound: `The group ${groupId}`,
    });
    const parsed = countSchema.safeParse(text.trim());
    if (!parsed.success) throw new DirectoryResponseError(`count was not a number: ${text.slice(0, 40)}`);
    return parsed.data;
  }

  /**
   * Whether the group holds users, devices, both or nothing. A dynamic rule over device properties
   * decides on its own (its membership may still be processing); otherwise the transitive counts do.
   */
  async classifyGroup(group: string | DirectoryGroup): Promise<DirectoryGroup & { classification: GroupClassification }> {
    const g = typeof group === 'string' ? await this.getGroup(group) : group;
    const [userCount, deviceCount] = await Promise.all([this.countMembers(g.id, 'user'), this.countMembers(g.id, 'device')]);
    let kind: GroupKind;
    let reason: string;
    if (g.deviceRule) {
      kind = 'device';
      reason = `${g.displayName} is a dynamic device group (rule: ${g.membershipRule ?? ''}).`;
    } else if (userCount > 0 && deviceCount > 0) {
      kind = 'mixed';
      reason = `${g.displayName} holds ${formatCount(userCount)} users and ${formatCount(deviceCount)} devices.`;
    } else if (deviceCount > 0) {
      kind = 'device';
      reason = `${g.displayName} is a device group (${formatCount(deviceCount)} devices, no users).`;
    } else if (userCount > 0) {
      kind = 'user';
      reason = `${g.displayName} is a user group (${formatCount(userCount)} users).`;
    } else {
      kind = 'empty';
      reason = `${g.displayName} has no members${g.membershipType === 'dynamic' ? ' yet (dynamic membership may still be processing)' : ''}.`;
    }
    return { ...g, classification: { kind, userCount, deviceCount, reason } };
  }

  /**
   * The group's users, nested groups included, one Graph page at a time, so a 50,000-member group
   * never sits in memory at once. Devices and groups among the members are skipped by Graph's cast.
   */
  async *userMemberPages(groupId: string, options: { pageSize?: number } = {}): AsyncGenerator<DirectoryUser[], void, undefined> {
    const top = Math.min(Math.max(options.pageSize ?? MAX_PAGE_SIZE, 1), MAX_PAGE_SIZE);
    const spec: RequestSpec = {
      permission: 'GroupMember.Read.All and User.Read.All',
      purpose: "list the group's members",
      notFound: `The group ${groupId}`,
    };
    const first = `/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user?$select=${this.userSelect}&$top=${top}`;
    for await (const users of this.pages(first, graphUserSchema, spec)) yield users.map((u) => this.toUser(u));
  }

  /** Which of `groupIds` the user belongs to, directly or through nested groups. */
  async checkMemberGroups(userObjectId: string, groupIds: readonly string[]): Promise<string[]> {
    const member: string[] = [];
    for (let i = 0; i < groupIds.length; i += CHECK_MEMBER_GROUPS_BATCH) {
      const batch = groupIds.slice(i, i + CHECK_MEMBER_GROUPS_BATCH);
      try {
        const result = await this.json(`/v1.0/users/${encodeURIComponent(userObjectId)}/checkMemberGroups`, checkMemberGroupsSchema, {
          method: 'POST',
          body: { groupIds: batch },
          permission: 'GroupMember.Read.All',
          purpose: "check the user's group membership",
          notFound: `The user ${userObjectId}`,
        });
        member.push(...result.value);
      } catch (err) {
        // A user unknown to the directory is in no group.
        if (err instanceof DirectoryNotFoundError) return member;
        throw err;
      }
    }
    return member;
  }

  /**
   * The bot's id in the organisation's Teams app catalog, looked up by its manifest id (externalId):
   * the id Graph's app installation needs. Undefined when the app is not published to the organisation.
   */
  async catalogAppId(manifestId: string): Promise<string | undefined> {
    const filter = encodeURIComponent(`externalId eq '${manifestId.replace(/'/g, "''")}'`);
    const result = await this.json(`/v1.0/appCatalogs/teamsApps?$filter=${filter}&$select=id,externalId`, catalogAppsSchema, {
      permission: 'AppCatalog.Read.All',
      purpose: "find the bot in your organisation's Teams app catalog",
      notFound: 'The Teams app catalog',
    });
    return result.value[0]?.id;
  }

  /**
   * Installs the bot for a user (personal scope), so it can start a chat with them: an approver who never
   * opened the bot still gets the request. Teams answers 409 when the app is installed already.
   */
  async installAppForUser(userId: string, catalogAppId: string): Promise<'installed' | 'alreadyInstalled'> {
    try {
      await this.text(`/v1.0/users/${encodeURIComponent(userId)}/teamwork/installedApps`, {
        method: 'POST',
        body: { 'teamsApp@odata.bind': `${this.baseUrl}/v1.0/appCatalogs/teamsApps/${encodeURIComponent(catalogAppId)}` },
        permission: 'TeamsAppInstallation.ReadWriteSelfForUser.All',
        purpose: 'install the bot for an approver',
        notFound: 'The user or the app',
      });
      return 'installed';
    } catch (err) {
      if (err instanceof DirectoryError && err.status === 409) return 'alreadyInstalled';
      throw err;
    }
  }

  async isMember(userObjectId: string, groupId: string): Promise<boolean> {
    const groups = await this.checkMemberGroups(userObjectId, [groupId]);
    return groups.some((g) => g.toLowerCase() === groupId.toLowerCase());
  }

  /**
   * One round of groups/delta for the group's direct members: from `deltaLink` the changes since it,
   * without one (or when Graph refuses it as expired or invalid, or it is not a groups/delta link on this
   * host) every direct member. Follows nextLinks to the round's deltaLink; an unchanged group costs one
   * request. A group Graph reports deleted, or does not list on a full round, is a DirectoryNotFoundError.
   */
  async groupMemberDelta(groupId: string, deltaLink?: string): Promise<MemberDelta> {
    if (deltaLink !== undefined && this.isGroupDeltaLink(deltaLink)) {
      try {
        return await this.deltaRound(groupId, deltaLink, false);
      } catch (err) {
        if (!(err instanceof DeltaLinkRefusedError)) throw err;
        this.options.logger?.info({ groupId, status: err.status }, 'Microsoft Graph refused the stored delta link; reading the whole membership again');
      }
    }
    const filter = encodeURIComponent(`id eq '${groupId.replace(/'/g, "''")}'`);
    return this.deltaRound(groupId, `/v1.0/groups/delta?$filter=${filter}&$select=members`, true);
  }

  /**
   * The users among `ids`, in the order first named, each once; unknown ids and other objects are left out
   * (Graph's filter does not return them), and so is anything that is not an object id. Reads
   * `GET /users?$filter=id in (…)`, 15 ids a request (User.Read.All; a default query, no ConsistencyLevel).
   */
  async usersByIds(ids: readonly string[]): Promise<DirectoryUser[]> {
    const seen = new Set<string>();
    const wanted: string[] = [];
    let skipped = 0;
    for (const id of ids) {
      const key = id.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      if (OBJECT_ID.test(id)) wanted.push(id);
      else skipped++;
    }
    if (skipped > 0) this.options.logger?.warn({ skipped }, 'left out ids that are not directory object ids');
    const spec: RequestSpec = { permission: 'User.Read.All', purpose: 'look up users by id', notFound: 'The users list' };
    const found = new Map<string, DirectoryUser>();
    for (let i = 0; i < wanted.length; i += USERS_IN_FILTER_BATCH) {
      const filter = `id in (${wanted
        .slice(i, i + USERS_IN_FILTER_BATCH)
        .map((id) => `'${id}'`)
        .join(',')})`;
      for await (const users of this.pages(`/v1.0/users?$filter=${encodeURIComponent(filter)}&$select=${this.userSelect}`, graphUserSchema, spec)) {
        for (const u of users) found.set(u.id.toLowerCase(), this.toUser(u));
      }
    }
    return wanted.flatMap((id) => found.get(id.toLowerCase()) ?? []);
  }

  /** A link this client may follow: a groups/delta link on this host (a link for another host is never sent there). */
  private isGroupDeltaLink(link: string): boolean {
    const prefix = `${this.baseUrl}/v1.0/groups/`;
    return link.startsWith(prefix) && /^(?:delta|microsoft\.graph\.delta(?:\(\))?)\?/.test(link.slice(prefix.length));
  }

  /** Follows one round to its deltaLink, merging the group's members@delta across pages (the last word on a member wins). */
  private async deltaRound(groupId: string, firstUrl: string, fullRound: boolean): Promise<MemberDelta> {
    const spec: RequestSpec = {
      resumesDelta: !fullRound,
      permission: 'GroupMember.Read.All',
      purpose: "read the group's membership changes",
      notFound: `The group ${groupId}`,
    };
    const members = new Map<string, { member: DirectoryMember; present: boolean }>();
    let listed = false;
    let next = firstUrl;
    for (let pages = 0; pages < MAX_DELTA_PAGES; pages++) {
      const page: GroupDeltaPage = await this.json(next, groupDeltaPageSchema, spec);
      for (const item of page.value) {
        if (item.id.toLowerCase() !== groupId.toLowerCase()) continue;
        if (item['@removed']) throw new DirectoryNotFoundError(`The group ${groupId}`, `groups/delta reports it removed (${item['@removed'].reason})`);
        listed = true;
        for (const entry of item['members@delta'] ?? []) members.set(entry.id.toLowerCase(), this.memberEntry(entry));
      }
      const deltaLink = page['@odata.deltaLink'];
      if (deltaLink !== undefined) {
        if (fullRound && !listed) throw new DirectoryNotFoundError(`The group ${groupId}`, 'groups/delta does not list it');
        const entries = [...members.values()];
        return {
          added: entries.filter((e) => e.present).map((e) => e.member),
          removed: fullRound ? [] : entries.filter((e) => !e.present).map((e) => e.member),
          deltaLink,
          fullRound,
        };
      }
      next = page['@odata.nextLink'] as string;
    }
    throw new DirectoryResponseError(`groups/delta gave no deltaLink within ${MAX_DELTA_PAGES} pages`);
  }

  private memberEntry(entry: GraphMemberDelta): { member: DirectoryMember; present: boolean } {
    return { member: { id: entry.id, kind: memberKind(entry['@odata.type']) }, present: entry['@removed'] === undefined };
  }

  private toUser(u: GraphUser): DirectoryUser {
    return {
      id: u.id,
      displayName: u.displayName ?? u.userPrincipalName ?? u.id,
      userPrincipalName: u.userPrincipalName ?? undefined,
      mail: u.mail ?? undefined,
      managedAppleId: this.managedAppleIdOf(u),
    };
  }

  private managedAppleIdOf(u: GraphUser): string | undefined {
    const attribute = this.options.managedAppleIdAttribute;
    if (attribute === undefined) return undefined;
    const raw: unknown = EXTENSION_ATTRIBUTE.test(attribute) ? u.onPremisesExtensionAttributes?.[attribute] : (u as Record<string, unknown>)[attribute];
    // Anything but an address (blank, "n/a") means no Managed Apple Account.
    const parsed = emailSchema.safeParse(typeof raw === 'string' ? raw.trim() : raw);
    return parsed.success ? parsed.data : undefined;
  }

  private async json<T extends z.ZodType>(pathOrUrl: string, schema: T, spec: RequestSpec): Promise<z.infer<T>> {
    try {
      return await this.transport.json(pathOrUrl, schema, this.call(spec));
    } catch (err) {
      throw this.errorFor(err, spec);
    }
  }

  private async text(pathOrUrl: string, spec: RequestSpec): Promise<string> {
    try {
      return await this.transport.text(pathOrUrl, this.call(spec));
    } catch (err) {
      throw this.errorFor(err, spec);
    }
  }

  /** Every page of a collection of `item`, as the transport follows its nextLinks. */
  private async *pages<T extends z.ZodType>(firstPath: string, item: T, spec: RequestSpec): AsyncGenerator<Array<z.infer<T>>, void, undefined> {
    try {
      yield* this.transport.pages(firstPath, item, this.call(spec));
    } catch (err) {
      throw this.errorFor(err, spec);
    }
  }

  private call(spec: RequestSpec): GraphCall {
    const call: GraphCall = { method: spec.method ?? 'GET' };
    if (spec.body !== undefined) call.body = spec.body;
    if (spec.eventual) call.headers = { ConsistencyLevel: 'eventual' };
    return call;
  }

  /** The transport's failure in the admin's words, for the call `spec` describes; anything else as it is. */
  private errorFor(err: unknown, spec: RequestSpec): unknown {
    if (!(err instanceof GraphCallFailure)) return err;
    const { detail } = err;
    switch (err.kind) {
      case 'auth':
        return new DirectoryAuthError(detail);
      case 'network':
        return new DirectoryUnavailableError(undefined, detail);
      case 'response':
        return new DirectoryResponseError(detail, err.info.status);
      case 'status':
        break;
    }
    const status = err.info.status ?? 0;
    const code = err.info.graphCode;
    if (spec.resumesDelta && (status === 410 || (status >= 400 && status < 500 && DELTA_REFUSAL_CODES.has(code?.toLowerCase() ?? '')))) {
      return new DeltaLinkRefusedError(status, detail);
    }
    this.options.logger?.warn({ status, code, path: err.info.path }, 'Microsoft Graph request failed');
    switch (status) {
      case 401:
        return new DirectoryAuthError(detail);
      case 403:
        return new DirectoryPermissionError(spec.permission, spec.purpose, detail);
      case 404:
        return new DirectoryNotFoundError(spec.notFound, detail);
      case 429:
      case 503:
      case 504:
        return new DirectoryUnavailableError(status, detail);
      default:
        if (status >= 500) return new DirectoryUnavailableError(status, detail);
        // Graph's own words reach chat as Markdown: escaped, since they may quote what was searched for.
        return new DirectoryError(
          `Microsoft Graph refused to ${spec.purpose}${err.info.graphMessage ? `: ${escapeMarkdown(err.info.graphMessage)}` : '.'}`,
          'graph_bad_request',
          status,
          detail,
        );
    }
  }
}
