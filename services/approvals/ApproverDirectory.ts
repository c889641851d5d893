import type { ApproverPolicy } from './ApprovalService';

/** Lists the users of an Entra group, transitively (Microsoft Graph in production). */
interface GroupUserSource {
  userMemberPages(groupId: string): AsyncIterable<ReadonlyArray<{ id: string; displayName?: string | undefined }>>;
}

/** Answers "is this user in that group?" with one call (Graph's checkMemberGroups, cached). */
interface GroupMembershipCheck {
  isMember(userObjectId: string, groupId: string): Promise<boolean>;
}

export interface ApproverDirectoryOptions {
  /** APPROVER_USER_IDS: when set, exactly these users approve. */
  approverUserIds: readonly string[];
  /** BOT_ADMIN_GROUP_ID: without a configured list, its members (transitively) approve. */
  adminGroupId?: string | undefined;
  /** BOT_ADMIN_USER_IDS: listed admins approve too when no list is configured. */
  adminUserIds?: readonly string[] | undefined;
  groups?: GroupUserSource | undefined;
  /** For a single click: one membership check instead of listing the whole group. */
  membership?: GroupMembershipCheck | undefined;
  /** How long the admin group's members are trusted; at most 5 minutes, so removals take effect soon. */
  ttlMs?: number;
  now?: () => number;
}

const MAX_APPROVER_CACHE_MS = 5 * 60_000;

/**
 * Who may decide on assignment requests: the configured approvers, or else the bot's admins: the
 * members of the admin group (read through Graph, cached for at most five minutes) and the listed
 * admins. The deployment documented for Azure sets only the admin group, so its members must count.
 * Ids are kept lower case: Teams sends Entra object ids that way, and chats are stored under them.
 */
export class ApproverDirectory implements ApproverPolicy {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private cached: { ids: string[]; readAt: number } | undefined;
  /** Display names seen in the admin group's listing, for messages that name approvers. */
  private readonly names = new Map<string, string>();

  constructor(private readonly options: ApproverDirectoryOptions) {
    this.ttlMs = Math.min(options.ttlMs ?? MAX_APPROVER_CACHE_MS, MAX_APPROVER_CACHE_MS);
    this.now = options.now ?? Date.now;
  }

  async approverIds(): Promise<string[]> {
    if (this.options.approverUserIds.length > 0) return normalise(this.options.approverUserIds);
    const now = this.now();
    if (this.cached && now - this.cached.readAt < this.ttlMs) return this.cached.ids;
    const ids = [...(this.options.adminUserIds ?? [])];
    const { adminGroupId, groups } = this.options;
    if (adminGroupId && groups) {
      for await (const page of groups.userMemberPages(adminGroupId)) {
        for (const user of page) {
          ids.push(user.id);
          if (user.displayName) this.names.set(user.id.toLowerCase(), user.displayName);
        }
      }
    }
    this.cached = { ids: normalise(ids), readAt: now };
    return this.cached.ids;
  }

  async isApprover(_tenantId: string, aadObjectId: string): Promise<boolean> {
    const id = aadObjectId.toLowerCase();
    const { approverUserIds, adminUserIds, adminGroupId, membership } = this.options;
    if (approverUserIds.length > 0) return normalise(approverUserIds).includes(id);
    if (normalise(adminUserIds ?? []).includes(id)) return true;
    if (adminGroupId && membership) return membership.isMember(id, adminGroupId);
    return (await this.approverIds()).includes(id);
  }

  async displayNames(_tenantId: string, aadObjectIds: readonly string[]): Promise<Array<string | undefined>> {
    return aadObjectIds.map((id) => this.names.get(id.toLowerCase()));
  }
}

function normalise(ids: readonly string[]): string[] {
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}
