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

/** `(device.deviceOSType -eq "iPad")`: the one rule form the local directory evaluates. */
const SIMPLE_RULE = /^\(?\s*(user|device)\.(\w+)\s+-eq\s+"([^"]*)"\s*\)?$/i;

export class DirectoryState {
  readonly users = new Map<string, LocalUser>();
  readonly devices = new Map<string, LocalDevice>();
  readonly groups = new Map<string, LocalGroup & { members: string[] }>();

  addUser(user: LocalUser): LocalUser {
    this.users.set(user.id, user);
    return user;
  }

  addDevice(device: LocalDevice): LocalDevice {
    this.devices.set(device.id, device);
    return device;
  }

  addGroup(group: LocalGroup): LocalGroup {
    this.groups.set(group.id, { ...group, members: [...(group.members ?? [])] });
    return group;
  }

  addMembers(groupId: string, memberIds: readonly string[]): void {
    const group = this.groups.get(groupId);
    if (!group) throw new Error(`no group ${groupId}`);
    for (const id of memberIds) if (!group.members.includes(id)) group.members.push(id);
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
    const match = SIMPLE_RULE.exec(group.membershipRule.trim());
    if (!match) return [];
    const [, kind, property, value] = match;
    const source: Iterable<LocalUser | LocalDevice> = kind?.toLowerCase() === 'user' ? this.users.values() : this.devices.values();
    const wanted = (value ?? '').toLowerCase();
    const result: string[] = [];
    for (const o of source) {
      const actual = (o as unknown as Record<string, unknown>)[property ?? ''];
      if (typeof actual === 'string' && actual.toLowerCase() === wanted) result.push(o.id);
    }
    return result;
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
}
