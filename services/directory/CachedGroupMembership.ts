import type { GroupMembership } from '../auth/AdminPolicy';

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
  private readonly answers = new Map<string, { member: boolean; expires: number }>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly source: GroupMembership,
    options: CachedGroupMembershipOptions = {},
  ) {
    this.ttlMs = Math.min(options.ttlMs ?? MAX_MEMBERSHIP_TTL_MS, MAX_MEMBERSHIP_TTL_MS);
    this.maxEntries = options.maxEntries ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async isMember(userObjectId: string, groupId: string): Promise<boolean> {
    const key = `${userObjectId.toLowerCase()}|${groupId.toLowerCase()}`;
    const cached = this.answers.get(key);
    if (cached && cached.expires > this.now()) return cached.member;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const question = this.source
      .isMember(userObjectId, groupId)
      .then((member) => {
        this.remember(key, member);
        return member;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, question);
    return question;
  }

  private remember(key: string, member: boolean): void {
    this.answers.delete(key);
    // Oldest first in insertion order: drop the oldest when full.
    if (this.answers.size >= this.maxEntries) {
      const oldest = this.answers.keys().next();
      if (!oldest.done) this.answers.delete(oldest.value);
    }
    this.answers.set(key, { member, expires: this.now() + this.ttlMs });
  }
}
