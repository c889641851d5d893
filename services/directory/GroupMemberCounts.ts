import { ExpiringCache } from '../common/ExpiringCache';
import { forEachLimited } from '../common/forEachLimited';
import type { DirectoryGroup } from './GraphDirectory';

/** What a group holds, transitively, as Graph counts it (eventually consistent). */
export interface GroupCounts {
  users: number;
  devices: number;
}

/** The counting the directory offers: GraphDirectory.countMembers. */
export interface MemberCounter {
  countMembers(groupId: string, kind: 'user' | 'device'): Promise<number>;
}

export interface GroupMemberCountsOptions {
  /** How long a count is reused: search results are shown while an admin types, a little staleness is fine. */
  ttlMs?: number;
  /** Groups counted at once (each costs two Graph requests, one after the other). */
  concurrency?: number;
  maxEntries?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_CONCURRENCY = 4;

/**
 * Member counts for the groups a choice shows ("English Department · 42 members"). Typeahead asks again on
 * every keystroke, mostly for the same groups, so counts are kept briefly, concurrent questions about one
 * group share its requests, and only a few groups are counted at a time. A count that fails is left out
 * (the choice shows the name alone) and is not kept.
 */
export class GroupMemberCounts {
  private readonly counts: ExpiringCache<GroupCounts>;
  private readonly concurrency: number;

  constructor(
    private readonly directory: MemberCounter,
    options: GroupMemberCountsOptions = {},
  ) {
    this.counts = new ExpiringCache({ ttlMs: options.ttlMs ?? DEFAULT_TTL_MS, maxEntries: options.maxEntries ?? 2_000, now: options.now ?? Date.now });
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  }

  /**
   * Counts for each of `groups` (by id), undefined where counting failed. A group whose dynamic rule is over
   * devices is not counted: it can only ever hold devices.
   */
  async countsFor(groups: readonly Pick<DirectoryGroup, 'id' | 'deviceRule'>[]): Promise<Map<string, GroupCounts | undefined>> {
    const result = new Map<string, GroupCounts | undefined>();
    const wanted = [...new Map(groups.filter((g) => !g.deviceRule).map((g) => [g.id, g])).values()];
    await forEachLimited(wanted, this.concurrency, async (group) => {
      try {
        result.set(group.id, await this.countsOf(group.id));
      } catch {
        result.set(group.id, undefined);
      }
    });
    return result;
  }

  private countsOf(groupId: string): Promise<GroupCounts> {
    return this.counts.get(groupId.toLowerCase(), async () => {
      const users = await this.directory.countMembers(groupId, 'user');
      const devices = await this.directory.countMembers(groupId, 'device');
      return { users, devices };
    });
  }
}
