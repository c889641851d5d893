import type { AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import { UserFacingError } from '../errors';
import { escapeMarkdown } from '../common/chatText';
import { formatCount } from '../common/format';
import type { DirectoryGroup, GroupClassification } from '../directory/GraphDirectory';
import type { Store } from '../store/Store';
import type { EBook } from '../store/entities/eBook';
import type { AssignmentPreview, PreviewGroup } from './assignmentPreview';
import type { AssignmentPreviewer } from '../backend/ports';
import type { VppToken } from '../store/entities/vppToken';
import { bookHolders, listMembersSorted, type AppleClientProvider, type AssignmentDirectory } from './ports';

/** Books may go to user groups only; the message names the group (SPEC §1), escaped for chat. */
function deviceGroupRefusal(groupName: string): string {
  return `Books can be assigned to user groups only; "${escapeMarkdown(groupName)}" is a device group. Nothing was changed.`;
}

type CheckedGroup = DirectoryGroup & { classification: GroupClassification };

export type GroupCheck =
  | { ok: true; group: CheckedGroup; note?: string | undefined }
  | { ok: false; group: CheckedGroup; message: string };

/** Whether a group may receive a book: device groups and empty groups are refused, mixed ones trimmed to users. Message and note are chat Markdown. */
export async function checkGroup(directory: AssignmentDirectory, group: string | DirectoryGroup): Promise<GroupCheck> {
  const checked = await directory.classifyGroup(group);
  const { kind, deviceCount } = checked.classification;
  if (kind === 'device') return { ok: false, group: checked, message: deviceGroupRefusal(checked.displayName) };
  if (kind === 'empty') return { ok: false, group: checked, message: `"${escapeMarkdown(checked.displayName)}" has no user members, so there is nobody to assign the book to. ${escapeMarkdown(checked.classification.reason)}` };
  if (kind === 'mixed') {
    return { ok: true, group: checked, note: `"${escapeMarkdown(checked.displayName)}" holds users and ${formatCount(deviceCount)} device${deviceCount === 1 ? '' : 's'}: only its users get the book.` };
  }
  return { ok: true, group: checked };
}

const GETMANY_BATCH = 1000;

/**
 * Works out what an assignment would do before anyone approves it: group sizes, who already has the
 * book (Apple's assignments), who still has to join VPP, and licenses needed against available.
 */
export class AssignmentPlanner implements AssignmentPreviewer {
  constructor(
    private readonly store: Store,
    private readonly directory: AssignmentDirectory,
    private readonly clients: AppleClientProvider,
    /** Other requests' reservations: a preview shows what is free after them. */
    private readonly runs: Pick<AssignmentRunRepository, 'reservedFor'>,
  ) {}

  async preview(input: { token: VppToken; book: EBook; groups: readonly DirectoryGroup[]; installIntent: 'required' | 'available'; devices?: ReadonlyMap<string, number> }): Promise<AssignmentPreview> {
    const { token, book } = input;
    if (input.groups.length === 0) throw new UserFacingError('Pick at least one user group.', 'no_groups');
    const members = new Map<string, { managedAppleId?: string | undefined }>();
    const groups: PreviewGroup[] = [];
    for (const group of input.groups) {
      const users = await listMembersSorted(this.directory, group.id);
      for (const u of users) members.set(u.id, { managedAppleId: u.managedAppleId });
      groups.push({ groupId: group.id, groupName: group.displayName, userCount: users.length, deviceCount: input.devices?.get(group.id) ?? 0 });
    }

    const client = this.clients(token);
    const holders = await bookHolders(client, book, (id) => members.has(id));

    const ids = [...members.keys()];
    const vppUsers = new Map<string, string>();
    for (let i = 0; i < ids.length; i += GETMANY_BATCH) {
      for (const u of await this.store.vppUsers.getMany(token.id, ids.slice(i, i + GETMANY_BATCH))) vppUsers.set(u.id, u.status);
    }
    let needInvitation = 0;
    for (const [id, member] of members) {
      const status = vppUsers.get(id);
      if (member.managedAppleId) continue;
      if (status === undefined || status === 'registered' || status === 'retired') needInvitation++;
    }

    const licensesNeeded = members.size - holders.size;
    const unlimited = book.unlimited === true;
    // Licenses other requests hold back (asked for, approved, under way) are not free for this one.
    const licensesReserved = unlimited ? 0 : await this.runs.reservedFor(token.id, book.adamId, book.pricingParam);
    const licensesFree = Math.max(0, book.availableLicenseCount - licensesReserved);
    return {
      tokenId: token.id,
      tenantId: token.tenantId,
      book: { adamId: book.adamId, pricingParam: book.pricingParam, title: book.title, author: book.author },
      installIntent: input.installIntent,
      groups,
      distinctUsers: members.size,
      alreadyAssigned: holders.size,
      needInvitation,
      licensesNeeded,
      licensesAvailable: licensesFree,
      licensesReserved,
      unlimited,
      enough: unlimited || licensesNeeded <= licensesFree,
    };
  }
}
