import { formatCount } from '../common/format';
import { truncate } from '../common/truncate';
import type { DirectoryGroup } from '../directory/GraphDirectory';
import type { GroupCounts, GroupMemberCounts } from '../directory/GroupMemberCounts';
import type { AssignmentDirectory } from '../assignments/ports';
import type { DatasetSearch, SearchQuery, SearchResult } from './TypeaheadSearch';

/** Graph's $top for group search goes to 100; deeper pages are not offered. */
const MAX_GROUPS_READ = 100;
const TITLE_MAX = 200;

/**
 * "English Department · 42 members", "Student iPads · device group", "Science Lab Carts · 12 members ·
 * also holds devices": what a group holds, so an admin picks the right one before the preview says it.
 * Without counts (counting failed) the name alone.
 */
export function groupChoiceTitle(group: Pick<DirectoryGroup, 'displayName' | 'deviceRule'>, counts: GroupCounts | undefined): string {
  let detail: string | undefined;
  if (group.deviceRule || (counts && counts.users === 0 && counts.devices > 0)) detail = 'device group';
  else if (counts && counts.users === 0) detail = 'no members';
  else if (counts) detail = `${formatCount(counts.users)} member${counts.users === 1 ? '' : 's'}${counts.devices > 0 ? ' · also holds devices' : ''}`;
  return truncate(detail ? `${group.displayName} · ${detail}` : group.displayName, TITLE_MAX, '…');
}

/** Groups by name (Graph's tokenised search, then a name prefix), titled with what they hold. */
export class GroupResults implements DatasetSearch {
  constructor(
    private readonly directory: Pick<AssignmentDirectory, 'searchGroups' | 'findGroupsByPrefix'>,
    private readonly counts: Pick<GroupMemberCounts, 'countsFor'>,
  ) {}

  async search({ text, skip, top }: SearchQuery): Promise<SearchResult[]> {
    const wanted = Math.min(skip + top, MAX_GROUPS_READ);
    if (skip >= wanted) return [];
    let groups = await this.directory.searchGroups(text, { top: wanted });
    if (groups.length === 0 && text.trim()) groups = await this.directory.findGroupsByPrefix(text, { top: wanted });
    // Only the groups shown are counted.
    const shown = groups.slice(skip, wanted);
    const counts = await this.counts.countsFor(shown);
    return shown.map((g) => ({ title: groupChoiceTitle(g, counts.get(g.id)), value: g.id }));
  }
}
