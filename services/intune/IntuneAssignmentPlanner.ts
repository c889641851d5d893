import type { AssignmentPreviewer } from '../backend/ports';
import type { AssignmentPreview } from '../assignments/assignmentPreview';
import type { AssignmentDirectory } from '../assignments/ports';
import { escapeMarkdown } from '../common/chatText';
import { nameList } from '../common/nameList';
import type { DirectoryGroup } from '../directory/GraphDirectory';
import { UserFacingError } from '../errors';
import type { EBook } from '../store/entities/eBook';
import type { VppToken } from '../store/entities/vppToken';
import type { AssignmentRun, AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import { GROUP_TARGET, type EBookAssignment, type InstallIntent, type IntuneApi } from './IntuneApi';

/** Graph's target for "every licensed user": whoever Intune would license through it holds the book already. */
const ALL_USERS_TARGET = '#microsoft.graph.allLicensedUsersAssignmentTarget';
/** Graph's target for a group Intune leaves out of the book, whatever else includes its members. */
const EXCLUSION_TARGET = '#microsoft.graph.exclusionGroupAssignmentTarget';

/** The directory reads the Intune adapters make: a group's transitive user members. */
export type MemberDirectory = Pick<AssignmentDirectory, 'userMemberPages'>;

/** The group id (lower case: Graph writes ids in any case) of a target of kind `targetType`; undefined for any other kind. */
function groupIdOf(assignment: EBookAssignment, targetType: string): string | undefined {
  const { target } = assignment;
  return target['@odata.type'].toLowerCase() === targetType.toLowerCase() && typeof target.groupId === 'string' ? target.groupId.toLowerCase() : undefined;
}

/** A group assignment's group id; undefined for every other kind of target. */
export const groupOf = (assignment: EBookAssignment): string | undefined => groupIdOf(assignment, GROUP_TARGET);

/** An exclusion target's group id: Intune gives nobody in that group the book. */
export const excludedGroupOf = (assignment: EBookAssignment): string | undefined => groupIdOf(assignment, EXCLUSION_TARGET);

/** Intents under which Intune hands out licenses (an uninstall takes the book away instead). */
function licenses(intent: InstallIntent): boolean {
  return intent !== 'uninstall';
}

export function intentWord(intent: InstallIntent): string {
  switch (intent) {
    case 'required':
      return 'Required';
    case 'available':
      return 'Available';
    case 'uninstall':
      return 'Uninstall';
    case 'availableWithoutEnrollment':
      return 'Available without enrolment';
  }
}

/**
 * Groups that stand in a run's way of counting its own users: groups of runs of the same book asked for later
 * (their users were counted by the earlier run first, never by both, and never by neither).
 */
export function laterRunGroups(run: Pick<AssignmentRun, 'id' | 'createdDateTime'>, runsOfBook: readonly AssignmentRun[]): Set<string> {
  const later = new Set<string>();
  for (const other of runsOfBook) {
    if (other.id === run.id) continue;
    const after = other.createdDateTime > run.createdDateTime || (other.createdDateTime === run.createdDateTime && other.id > run.id);
    if (after) for (const g of other.groups) later.add(g.groupId.toLowerCase());
  }
  return later;
}

/**
 * Which of `members` hold the book already through the book's other assignments in Intune: members of a group
 * assigned with an intent that licenses (transitively), or everyone when the book goes to all licensed users.
 * `exclude` names groups whose assignment does not count (the run's own, later runs'). Exclusion targets are not
 * subtracted: someone Intune leaves out counts as needing a license, which errs towards too few free.
 */
export async function coveredAmong(directory: MemberDirectory, assignments: readonly EBookAssignment[], members: ReadonlySet<string>, exclude: ReadonlySet<string> = new Set()): Promise<Set<string>> {
  const covered = new Set<string>();
  if (members.size === 0) return covered;
  if (assignments.some((a) => licenses(a.installIntent) && a.target['@odata.type'].toLowerCase() === ALL_USERS_TARGET.toLowerCase())) return new Set(members);
  const groups = new Set<string>();
  for (const a of assignments) {
    const groupId = groupOf(a);
    if (groupId && licenses(a.installIntent) && !exclude.has(groupId)) groups.add(groupId);
  }
  for (const groupId of groups) {
    for await (const page of directory.userMemberPages(groupId)) for (const user of page) if (members.has(user.id)) covered.add(user.id);
    if (covered.size === members.size) break;
  }
  return covered;
}

/** Each group's users, each user once across the groups (the first group counts them), and all of them. */
export async function membersOf(directory: MemberDirectory, groupIds: readonly string[]): Promise<{ perGroup: number[]; all: Set<string> }> {
  const all = new Set<string>();
  const perGroup: number[] = [];
  for (const groupId of groupIds) {
    let mine = 0;
    for await (const page of directory.userMemberPages(groupId)) {
      for (const user of page) {
        if (all.has(user.id)) continue;
        all.add(user.id);
        mine++;
      }
    }
    perGroup.push(mine);
  }
  return { perGroup, all };
}

/**
 * The assign flow's preview in Intune mode: group sizes from the directory, who holds the book already through
 * its assignments in Intune, and licenses needed against Intune's free ones (less what other requests hold back).
 * Intune keeps one assignment per book and group: a group that has the book in Intune already is refused, with
 * what to do (nothing to approve for the same intent; the other intent is changed in Intune itself). So is a
 * group the book excludes in Intune: Intune would give nobody in it the book, and licenses would be approved for nothing.
 */
export class IntuneAssignmentPlanner implements AssignmentPreviewer {
  constructor(
    private readonly directory: MemberDirectory,
    private readonly intune: Pick<IntuneApi, 'getEBook' | 'listAssignments'>,
    /** Other requests' reservations: a preview shows what is free after them. */
    private readonly runs: Pick<AssignmentRunRepository, 'reservedFor'>,
  ) {}

  async preview(input: { token: VppToken; book: EBook; groups: readonly DirectoryGroup[]; installIntent: 'required' | 'available'; devices?: ReadonlyMap<string, number> }): Promise<AssignmentPreview> {
    const { token, book } = input;
    if (input.groups.length === 0) throw new UserFacingError('Pick at least one user group.', 'no_groups');
    const title = escapeMarkdown(book.title);
    if (!book.intuneBookId) {
      throw new UserFacingError(`"${title}" has not been read from Intune yet, so it cannot be assigned there. Type **sync**, then try again.`, 'intune_book_unknown');
    }
    const assignments = await this.intune.listAssignments(book.intuneBookId);
    this.refuseExcludedGroups(input.groups, assignments, title);
    this.refuseAssignedGroups(input.groups, assignments, input.installIntent, title);

    const { perGroup, all } = await membersOf(this.directory, input.groups.map((g) => g.id));
    const groups = input.groups.map((g, i) => ({ groupId: g.id, groupName: g.displayName, userCount: perGroup[i] ?? 0, deviceCount: input.devices?.get(g.id) ?? 0 }));
    const holders = await coveredAmong(this.directory, assignments, all);

    const unlimited = book.unlimited === true;
    let licensesAvailable = 0;
    let licensesReserved = 0;
    if (!unlimited) {
      const counts = await this.intune.getEBook(book.intuneBookId);
      if (!counts) throw new UserFacingError(`Intune no longer has "${title}" (it may have been removed from the VPP token there). Type **sync** to update the list of books.`, 'intune_book_gone');
      // Licenses other requests hold back (asked for, approved, under way) are not free for this one.
      licensesReserved = await this.runs.reservedFor(token.id, book.adamId, book.pricingParam);
      licensesAvailable = Math.max(0, counts.totalLicenseCount - counts.usedLicenseCount - licensesReserved);
    }
    const licensesNeeded = all.size - holders.size;
    return {
      tokenId: token.id,
      tenantId: token.tenantId,
      book: { adamId: book.adamId, pricingParam: book.pricingParam, title: book.title, author: book.author },
      installIntent: input.installIntent,
      groups,
      distinctUsers: all.size,
      alreadyAssigned: holders.size,
      // Intune sends VPP invitations itself where Apple needs them; the bot invites nobody in this mode.
      needInvitation: 0,
      licensesNeeded,
      licensesAvailable,
      licensesReserved,
      unlimited,
      enough: unlimited || licensesNeeded <= licensesAvailable,
    };
  }

  /** Groups the book excludes in Intune (exclusionGroupAssignmentTarget): an assignment would give them nothing. */
  private refuseExcludedGroups(groups: readonly DirectoryGroup[], assignments: readonly EBookAssignment[], title: string): void {
    const excluded = new Set(assignments.map(excludedGroupOf).filter((g): g is string => g !== undefined));
    // nameList escapes each name for chat.
    const named = groups.filter((g) => excluded.has(g.id.toLowerCase())).map((g) => `"${g.displayName}"`);
    if (named.length === 0) return;
    const them = named.length === 1 ? 'it' : 'them';
    throw new UserFacingError(
      `"${title}" leaves out ${nameList(named)} in Intune (an exclusion), so Intune would give nobody in ${them} the book. Remove the exclusion in the Intune admin center (Apps › eBooks › the book › Properties › Assignments) if they should have it, or type **assign** to start again without ${them}. Nothing was changed.`,
      'intune_group_excluded',
    );
  }

  /** Groups the book is assigned to in Intune already: nothing to approve, or an intent only Intune can change. */
  private refuseAssignedGroups(groups: readonly DirectoryGroup[], assignments: readonly EBookAssignment[], intent: 'required' | 'available', title: string): void {
    const intentOf = new Map<string, InstallIntent>();
    for (const a of assignments) {
      const groupId = groupOf(a);
      if (groupId) intentOf.set(groupId, a.installIntent);
    }
    const same: string[] = [];
    const other: string[] = [];
    for (const g of groups) {
      const existing = intentOf.get(g.id.toLowerCase());
      if (existing === undefined) continue;
      // nameList escapes each name for chat.
      if (existing === intent) same.push(`"${g.displayName}"`);
      else other.push(`"${g.displayName}" as ${intentWord(existing)}`);
    }
    if (same.length === 0 && other.length === 0) return;
    const lines: string[] = [];
    if (same.length > 0) {
      lines.push(`"${title}" is assigned to ${nameList(same)} as ${intentWord(intent)} in Intune already, so there is nothing to approve for ${same.length === 1 ? 'it' : 'them'}.`);
    }
    if (other.length > 0) {
      lines.push(
        `"${title}" is assigned to ${nameList(other)} with another intent in Intune. Intune keeps one intent per group and book: change it in the Intune admin center (Apps › eBooks › the book › Properties › Assignments), not here.`,
      );
    }
    lines.push('Type **assign** to start again without them. Nothing was changed.');
    throw new UserFacingError(lines.join(' '), other.length > 0 ? 'intune_intent_conflict' : 'intune_already_assigned');
  }
}
