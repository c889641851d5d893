import type { GroupMembership } from '../auth/AdminPolicy';
import { ExpiringCache } from '../common/ExpiringCache';

/** Admin rights are checked on every turn of a flow; a removed admin may keep them at most this long. */
const MAX_MEMBERSHIP_TTL_MS = 5 * 60_000;

export interface CachedGroupMembershipOptions {
  /** How long an answer is reused (at most MAX_MEMBERSHIP_TTL_MS); a removed admin keeps access at most this long. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * The admin check asks on every admin command; Graph need not be asked each time. Answers (yes and
 * no) are kept for a few minutes, concurrent questions share one call, and failures are not kept.
 */
export class CachedGroupMembership implements GroupMembership {
  private readonly answers: ExpiringCache<boolean>;

  constructor(
    private readonly source: GroupMembership,
    options: CachedGroupMembershipOptions = {},
  ) {
    this.answers = new ExpiringCache({
      ttlMs: Math.min(options.ttlMs ?? MAX_MEMBERSHIP_TTL_MS, MAX_MEMBERSHIP_TTL_MS),
      maxEntries: options.maxEntries ?? 5_000,
      now: options.now ?? Date.now,
    });
  }

  isMember(userObjectId: string, groupId: string): Promise<boolean> {
    return this.answers.get(`${userObjectId.toLowerCase()}|${groupId.toLowerCase()}`, () => this.source.isMember(userObjectId, groupId));
  }
}
