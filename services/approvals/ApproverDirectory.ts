import type { ApproverPolicy } from './ApprovalService';

/** Lists the users of an Entra group, transitively (Microsoft Graph in production). */
export interface GroupUserSource {
  userMemberPages(groupId: string): AsyncIterable<ReadonlyArray<{ id: string }>>;
}

export interface ApproverDirectoryOptions {
  /** APPROVER_USER_IDS: when set, exactly these users approve. */
  approverUserIds: readonly string[];
  /** BOT_ADMIN_GROUP_ID: without a configured list, its members (transitively) approve. */
  adminGroupId?: string | undefined;
  /** BOT_ADMIN_USER_IDS: listed admins approve too when no list is configured. */
  adminUserIds?: readonly string[] | undefined;
  groups?: GroupUserSource | undefined;
  /** How long the admin group's members are trusted; at most 5 minutes, so removals take effect soon. */
  ttlMs?: number;
  now?: () => number;
}

export const MAX_APPROVER_CACHE_MS = 5 * 60_000;

/**
 * Who may decide on assignment requests: the configured approvers, or else the bot's admins: the
 * members of the admin group (read through Graph, cached for at most five minutes) and the listed
 * admins. The deployment documented for Azure sets only the admin group, so its members must count.
 */
export class ApproverDirectory implements ApproverPolicy {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private cached: { ids: string[]; readAt: number } | undefined;

  constructor(private readonly options: ApproverDirectoryOptions) {
    this.ttlMs = Math.min(options.ttlMs ?? MAX_APPROVER_CACHE_MS, MAX_APPROVER_CACHE_MS);
    this.now = options.now ?? Date.now;
  }

  async approverIds(): Promise<string[]> {
    if (this.options.approverUserIds.length > 0) return dedupe(this.options.approverUserIds);
    const now = this.now();
    if (this.cached && now - this.cached.readAt < this.ttlMs) return this.cached.ids;
    const ids = [...(this.options.adminUserIds ?? [])];
    const { adminGroupId, groups } = this.options;
    if (adminGroupId && groups) {
      for await (const page of groups.userMemberPages(adminGroupId)) ids.push(...page.map((u) => u.id));
    }
    this.cached = { ids: dedupe(ids), readAt: now };
    return this.cached.ids;
  }

  async isApprover(_tenantId: string, aadObjectId: string): Promise<boolean> {
    const id = aadObjectId.toLowerCase();
    return (await this.approverIds()).some((a) => a.toLowerCase() === id);
  }
}

function dedupe(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => {
    const key = id.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
