/** One change to a group's direct members. Only real changes are logged: adding a present member logs nothing. */
export interface MembershipChange {
  seq: number;
  memberId: string;
  /** True: joined the group; false: left it. */
  added: boolean;
}

/** Enough for a busy test or demo; a delta token older than the oldest kept change is refused, as Graph refuses old tokens. */
export const DEFAULT_MEMBERSHIP_LOG_LIMIT = 200_000;

interface GroupChanges {
  entries: MembershipChange[];
  /** Index of the oldest kept entry: trimming moves it instead of shifting the array each time. */
  start: number;
}

/** Compacting a trimmed array only now and then keeps trimming O(1) on average. */
const COMPACT_AFTER = 1_024;

/**
 * Every change to group memberships, numbered in one sequence across all groups, so a delta token is just
 * a sequence number: "the directory as it was after change N". Nothing is copied per token; what a
 * group looked like at N is worked out backwards from its current members and the changes since.
 */
export class MembershipLog {
  private seq = 0;
  /** Changes up to here were dropped: the log cannot answer for tokens older than this. */
  private trimmedThrough = 0;
  private retained = 0;
  private readonly byGroup = new Map<string, GroupChanges>();
  /** The group of every kept change, oldest first: which group's oldest change to drop next. */
  private order: string[] = [];
  private orderStart = 0;

  constructor(private readonly maxEntries: number = DEFAULT_MEMBERSHIP_LOG_LIMIT) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('the membership log must keep at least one change');
  }

  /** The newest sequence number: what a token taken now points at. */
  get version(): number {
    return this.seq;
  }

  /** Whether every change after `seq` is still kept (and `seq` is not from the future). */
  covers(seq: number): boolean {
    return Number.isInteger(seq) && seq >= this.trimmedThrough && seq <= this.seq;
  }

  /** Moves the sequence on without a membership change (a group was created): tokens before it predate the group. */
  tick(): number {
    return ++this.seq;
  }

  record(groupId: string, memberId: string, added: boolean): void {
    const seq = ++this.seq;
    let changes = this.byGroup.get(groupId);
    if (!changes) {
      changes = { entries: [], start: 0 };
      this.byGroup.set(groupId, changes);
    }
    changes.entries.push({ seq, memberId, added });
    this.order.push(groupId);
    this.retained++;
    while (this.retained > this.maxEntries) this.trimOldest();
  }

  /** The group's changes with from < seq <= to, oldest first. Callers check covers(from) first. */
  between(groupId: string, from: number, to: number = this.seq): MembershipChange[] {
    const changes = this.byGroup.get(groupId);
    if (!changes) return [];
    const first = firstAfter(changes, from);
    const end = firstAfter(changes, to);
    return changes.entries.slice(first, end);
  }

  /** Whether the group changed at all in (from, to]: a cheap test before working out the net change. */
  changedBetween(groupId: string, from: number, to: number = this.seq): boolean {
    const changes = this.byGroup.get(groupId);
    if (!changes) return false;
    const entry = changes.entries[firstAfter(changes, from)];
    return entry !== undefined && entry.seq <= to;
  }

  private trimOldest(): void {
    const groupId = this.order[this.orderStart++] as string;
    const changes = this.byGroup.get(groupId) as GroupChanges;
    const dropped = changes.entries[changes.start++] as MembershipChange;
    this.trimmedThrough = dropped.seq;
    this.retained--;
    if (changes.start === changes.entries.length) this.byGroup.delete(groupId);
    else if (changes.start > COMPACT_AFTER && changes.start * 2 > changes.entries.length) {
      changes.entries = changes.entries.slice(changes.start);
      changes.start = 0;
    }
    if (this.orderStart > COMPACT_AFTER && this.orderStart * 2 > this.order.length) {
      this.order = this.order.slice(this.orderStart);
      this.orderStart = 0;
    }
  }
}

/** Index of the first kept entry with a sequence number above `seq` (entries are in sequence order). */
function firstAfter(changes: GroupChanges, seq: number): number {
  let low = changes.start;
  let high = changes.entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((changes.entries[mid] as MembershipChange).seq <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Who joined and who left over a run of changes. A member's first change says whether it was there
 * before (a join means it was not), its last whether it is there after: joining and leaving again nets
 * to nothing, and leaving and joining again too.
 */
export function netChanges(changes: readonly MembershipChange[]): { added: string[]; removed: string[] } {
  const before = new Map<string, boolean>();
  const after = new Map<string, boolean>();
  for (const change of changes) {
    if (!before.has(change.memberId)) before.set(change.memberId, !change.added);
    after.set(change.memberId, change.added);
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const [memberId, isMember] of after) {
    if (isMember === before.get(memberId)) continue;
    (isMember ? added : removed).push(memberId);
  }
  return { added, removed };
}
