import { randomUUID } from 'node:crypto';
import { DEFAULT_MEMBERSHIP_LOG_LIMIT, MembershipLog, netChanges, type MembershipChange } from './MembershipLog';

/** The objects the local directory serves; a stand-in for an Entra ID tenant. */
export interface LocalUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail?: string | undefined;
  jobTitle?: string | undefined;
  department?: string | undefined;
  /** Served as onPremisesExtensionAttributes.extensionAttribute1 (LOCAL_MANAGED_APPLE_ID_ATTRIBUTE). */
  managedAppleId?: string | undefined;
}

export interface LocalDevice {
  id: string;
  displayName: string;
  /** What dynamic device rules test, e.g. "iPad", "iPhone", "MacMDM". */
  deviceOSType: string;
}

export interface LocalGroup {
  id: string;
  displayName: string;
  description?: string | undefined;
  /** A rule makes the group dynamic; its members are then computed, `members` is ignored. */
  membershipRule?: string | undefined;
  /** Ids of users, devices and nested groups. */
  members?: string[] | undefined;
}

export type ObjectKind = 'user' | 'device' | 'group';

export const LOCAL_MANAGED_APPLE_ID_ATTRIBUTE = 'extensionAttribute1';

/** Graph keeps delta tokens for directory objects seven days (delta-query-overview, "Token duration"). */
const DELTA_TOKEN_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

export interface DirectoryStateOptions {
  /** Most membership changes kept for delta queries; older tokens are refused as expired. */
  membershipLogLimit?: number;
  /** How long a delta token stays usable; seven days, as in Graph. */
  deltaTokenLifetimeMs?: number;
  /** The clock delta tokens are dated with. */
  now?: () => number;
}

/** `(device.deviceOSType -eq "iPad")`: the one rule form the local directory evaluates. */
const SIMPLE_RULE = /^\(?\s*(user|device)\.(\w+)\s+-eq\s+"([^"]*)"\s*\)?$/i;

interface SimpleRule {
  kind: 'user' | 'device';
  property: string;
  value: string;
}

function parseRule(rule: string | undefined): SimpleRule | undefined {
  const match = rule === undefined ? null : SIMPLE_RULE.exec(rule.trim());
  if (!match) return undefined;
  const [, kind = '', property = '', value = ''] = match;
  return { kind: kind.toLowerCase() === 'user' ? 'user' : 'device', property, value: value.toLowerCase() };
}

function ruleMatches(rule: SimpleRule, object: LocalUser | LocalDevice): boolean {
  const actual = (object as unknown as Record<string, unknown>)[rule.property];
  return typeof actual === 'string' && actual.toLowerCase() === rule.value;
}

/**
 * The tenant the local directory serves. Change it through these methods: they log every change to a
 * group's direct members (assigned groups on addMembers/removeMember, dynamic groups when an added user
 * or device starts or stops matching the rule), which is what groups/delta answers from.
 */
export class DirectoryState {
  readonly users = new Map<string, LocalUser>();
  readonly devices = new Map<string, LocalDevice>();
  readonly groups = new Map<string, LocalGroup & { members: string[] }>();
  readonly membershipLog: MembershipLog;
  /** Delta tokens name the state they came from: a token from another run is unknown here. */
  readonly instanceId = randomUUID();
  readonly deltaTokenLifetimeMs: number;
  readonly now: () => number;
  /** Sequence number at which each group was created: a token older than that predates the group. */
  private readonly createdAt = new Map<string, number>();
  private readonly dynamicGroupIds = new Set<string>();

  constructor(options: DirectoryStateOptions = {}) {
    this.membershipLog = new MembershipLog(options.membershipLogLimit ?? DEFAULT_MEMBERSHIP_LOG_LIMIT);
    this.deltaTokenLifetimeMs = options.deltaTokenLifetimeMs ?? DELTA_TOKEN_LIFETIME_MS;
    this.now = options.now ?? Date.now;
  }

  addUser(user: LocalUser): LocalUser {
    const previous = this.users.get(user.id);
    this.users.set(user.id, user);
    this.logRuleMatches('user', user.id, previous, user);
    return user;
  }

  addDevice(device: LocalDevice): LocalDevice {
    const previous = this.devices.get(device.id);
    this.devices.set(device.id, device);
    this.logRuleMatches('device', device.id, previous, device);
    return device;
  }

  /** Adds a group, or replaces one (then the difference in members is logged). */
  addGroup(group: LocalGroup): LocalGroup {
    const before = this.groups.has(group.id) ? new Set(this.rawMembers(group.id)) : undefined;
    this.groups.set(group.id, { ...group, members: [...(group.members ?? [])] });
    if (group.membershipRule === undefined) this.dynamicGroupIds.delete(group.id);
    else this.dynamicGroupIds.add(group.id);
    if (before === undefined) this.createdAt.set(group.id, this.membershipLog.tick());
    else this.logDifference(group.id, before, new Set(this.rawMembers(group.id)));
    return group;
  }

  /** Adds assigned members (a dynamic group's list is ignored, as before). */
  addMembers(groupId: string, memberIds: readonly string[]): void {
    const group = this.groups.get(groupId);
    if (!group) throw new Error(`no group ${groupId}`);
    const present = new Set(group.members);
    for (const id of memberIds) {
      if (present.has(id)) continue;
      present.add(id);
      group.members.push(id);
      if (!this.isDynamic(group)) this.membershipLog.record(groupId, id, true);
    }
  }

  /** False when `memberId` is not an assigned member (a dynamic group has none). */
  removeMember(groupId: string, memberId: string): boolean {
    const group = this.groups.get(groupId);
    if (!group) throw new Error(`no group ${groupId}`);
    if (this.isDynamic(group)) return false;
    const index = group.members.indexOf(memberId);
    if (index < 0) return false;
    group.members.splice(index, 1);
    this.membershipLog.record(groupId, memberId, false);
    return true;
  }

  kindOf(id: string): ObjectKind | undefined {
    if (this.users.has(id)) return 'user';
    if (this.devices.has(id)) return 'device';
    if (this.groups.has(id)) return 'group';
    return undefined;
  }

  isDynamic(group: LocalGroup): boolean {
    return group.membershipRule !== undefined;
  }

  directMembers(groupId: string): string[] {
    const group = this.groups.get(groupId);
    if (!group) return [];
    if (group.membershipRule === undefined) return group.members.filter((id) => this.kindOf(id) !== undefined);
    return this.rawMembers(groupId);
  }

  /** Members through nested groups, each once, nested groups included (as Graph lists them). */
  transitiveMembers(groupId: string): string[] {
    const seen = new Set<string>([groupId]);
    const result: string[] = [];
    const queue = [groupId];
    while (queue.length > 0) {
      const current = queue.shift() as string;
      for (const id of this.directMembers(current)) {
        if (seen.has(id)) continue;
        seen.add(id);
        result.push(id);
        if (this.kindOf(id) === 'group') queue.push(id);
      }
    }
    return result;
  }

  /** Whether the group existed in the state a token for `seq` describes. */
  existedAt(groupId: string, seq: number): boolean {
    const created = this.createdAt.get(groupId);
    return created !== undefined && created <= seq;
  }

  /**
   * The group's direct members as they were at `seq`, sorted by id: its members now with the later
   * changes undone, newest first. The caller checks membershipLog.covers(seq).
   */
  membersAt(groupId: string, seq: number): string[] {
    const members = new Set(this.rawMembers(groupId));
    const later = this.membershipLog.between(groupId, seq);
    for (let i = later.length - 1; i >= 0; i--) {
      const change = later[i] as MembershipChange;
      if (change.added) members.delete(change.memberId);
      else members.add(change.memberId);
    }
    return [...members].filter((id) => this.kindOf(id) !== undefined).sort();
  }

  /** Net change of the group's direct members between two states, each list sorted by id. */
  memberChanges(groupId: string, from: number, to: number): { added: string[]; removed: string[] } {
    if (!this.existedAt(groupId, from)) return { added: this.membersAt(groupId, to), removed: [] };
    const { added, removed } = netChanges(this.membershipLog.between(groupId, from, to));
    return { added: added.filter((id) => this.kindOf(id) !== undefined).sort(), removed: removed.sort() };
  }

  /** Whether anything about the group's members moved in (from, to]; cheap, may be true for a net of nothing. */
  mayHaveChanged(groupId: string, from: number, to: number): boolean {
    return !this.existedAt(groupId, from) || this.membershipLog.changedBetween(groupId, from, to);
  }

  /** Assigned: the listed ids, existing or not; dynamic: whoever matches the rule now. */
  private rawMembers(groupId: string): string[] {
    const group = this.groups.get(groupId);
    if (!group) return [];
    if (group.membershipRule === undefined) return group.members;
    const rule = parseRule(group.membershipRule);
    if (!rule) return [];
    const source: Iterable<LocalUser | LocalDevice> = rule.kind === 'user' ? this.users.values() : this.devices.values();
    const result: string[] = [];
    for (const o of source) if (ruleMatches(rule, o)) result.push(o.id);
    return result;
  }

  /** A user or device that starts or stops matching a dynamic rule joins or leaves that group. */
  private logRuleMatches(kind: 'user' | 'device', id: string, before: LocalUser | LocalDevice | undefined, after: LocalUser | LocalDevice): void {
    for (const groupId of this.dynamicGroupIds) {
      const rule = parseRule(this.groups.get(groupId)?.membershipRule);
      if (!rule || rule.kind !== kind) continue;
      const was = before !== undefined && ruleMatches(rule, before);
      const is = ruleMatches(rule, after);
      if (was !== is) this.membershipLog.record(groupId, id, is);
    }
  }

  private logDifference(groupId: string, before: ReadonlySet<string>, after: ReadonlySet<string>): void {
    for (const id of before) if (!after.has(id)) this.membershipLog.record(groupId, id, false);
    for (const id of after) if (!before.has(id)) this.membershipLog.record(groupId, id, true);
  }
}
