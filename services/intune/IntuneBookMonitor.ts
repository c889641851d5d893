import type { BookMonitor } from '../backend/ports';
import type { BookStatus, FailedDevice, IntuneBookState, IntuneTarget } from '../assignments/BookStatusService';
import { forEachLimited } from '../common/forEachLimited';
import { UserFacing } from '../errors';
import type { EBook } from '../store/entities/eBook';
import type { VppToken } from '../store/entities/vppToken';
import { GROUP_TARGET, type EBookAssignment, type IntuneApi } from './IntuneApi';
import { namingTheBook } from './IntuneError';

export interface IntuneBookMonitorOptions {
  /** What the store holds of the book (Apple mode's BookStatusService): groups, runs, budgets, standing assignments. */
  stored: BookMonitor;
  intune: IntuneApi;
  /**
   * A group's display name, for assignments made in Intune (the bot's own carry theirs); without it, or
   * when it fails, the card names the group by its id.
   */
  groupName?: ((groupId: string) => Promise<string>) | undefined;
  /** Device-state pages read at most; the card says "the first N devices" when the read stops there. */
  maxDeviceStatePages?: number | undefined;
}

/**
 * Enough for a status card: a book installed on tens of thousands of devices would otherwise cost a Graph
 * request per page for every `status`, and the install summary counts all of them anyway.
 */
const DEFAULT_MAX_DEVICE_STATE_PAGES = 10;
/** Failed devices named on the card; the rest are counted. */
const MAX_FAILED_DEVICES = 10;
const GROUP_NAME_CONCURRENCY = 4;

const EXCLUSION_TARGET = '#microsoft.graph.exclusionGroupAssignmentTarget';
const ALL_USERS_TARGET = '#microsoft.graph.allLicensedUsersAssignmentTarget';
const ALL_DEVICES_TARGET = '#microsoft.graph.allDevicesAssignmentTarget';

/** Assignment states in which the bot's assignment of a group stands (asked for and approved, at least). */
const STANDING = new Set(['approved', 'inProgress', 'paused', 'completed', 'partiallyCompleted', 'failed']);
/** States in which the bot has assigned the group in Intune, so Intune should have it. */
const DELIVERED = new Set(['completed', 'partiallyCompleted']);

type DeviceRead = Pick<IntuneBookState, 'failedDevices' | 'failedDeviceCount' | 'devicesRead' | 'complete'>;

const NO_DEVICES: DeviceRead = { failedDevices: [], failedDeviceCount: 0, devicesRead: 0, complete: true };

/**
 * `status <book>` in Intune mode: what the store holds (the bot's requests, runs and budgets, as in Apple
 * mode) and what Intune holds: the book's assignments there, including any made in Intune directly, the
 * install summary over devices and users, and the failed devices by name, user and error code. Intune
 * failing leaves the store's part standing, with Intune's words on what could not be read.
 */
export class IntuneBookMonitor implements BookMonitor {
  private readonly maxDeviceStatePages: number;

  constructor(private readonly options: IntuneBookMonitorOptions) {
    this.maxDeviceStatePages = Math.max(1, options.maxDeviceStatePages ?? DEFAULT_MAX_DEVICE_STATE_PAGES);
  }

  async status(token: VppToken, book: EBook): Promise<BookStatus> {
    const eBookId = book.intuneBookId;
    if (eBookId === undefined) {
      const stored = await this.options.stored.status(token, book);
      const problem = 'I have not read this book from Intune yet, so its assignments and install state in Intune are not shown. Type **sync**, then ask again.';
      return { ...stored, intune: { assignments: [], missing: [], ...NO_DEVICES, problems: [problem] } };
    }
    const problems = new Set<string>();
    const answer = async <T>(read: Promise<T>): Promise<T | undefined> => {
      try {
        return await read;
      } catch (err) {
        // Graph's refusals come as UserFacing errors worded for the admin; anything else is a bug.
        if (!(err instanceof UserFacing)) throw err;
        problems.add(err.userMessage);
        return undefined;
      }
    };
    const [stored, assignments, summary, devices] = await Promise.all([
      this.options.stored.status(token, book),
      answer(namingTheBook(this.options.intune.listAssignments(eBookId), book)),
      answer(namingTheBook(this.options.intune.installSummary(eBookId), book)),
      answer(namingTheBook(this.devices(eBookId), book)),
    ]);
    const compared = await this.compare(stored, assignments ?? []);
    return {
      ...stored,
      intune: {
        assignments: compared.assignments,
        // Without Intune's list, nothing can be said missing from it.
        missing: assignments === undefined ? [] : compared.missing,
        summary,
        ...(devices ?? NO_DEVICES),
        problems: [...problems],
      },
    };
  }

  /** Intune's assignments against the bot's: who each is for, whether the bot made it, and which of the bot's Intune lacks. */
  private async compare(stored: BookStatus, assignments: readonly EBookAssignment[]): Promise<Pick<IntuneBookState, 'assignments' | 'missing'>> {
    const known = new Map(stored.groups.map((g) => [g.groupId.toLowerCase(), g]));
    // A group taken off in Intune after a refused top-up is no longer the bot's there, even if someone put it back.
    const ours = new Map([...known].filter(([, g]) => STANDING.has(g.status) && !g.withdrawnFromIntune));
    const entries = assignments.map((a) => ({ installIntent: a.installIntent, target: targetOf(a, known) }));
    await this.nameGroups(entries.map((e) => e.target));
    const inIntune = new Set(entries.flatMap(({ target }) => (target.kind === 'group' ? [target.groupId.toLowerCase()] : [])));
    return {
      assignments: entries.map(({ target, installIntent }) => {
        const mine = target.kind === 'group' ? ours.get(target.groupId.toLowerCase()) : undefined;
        // An intent changed in Intune is Intune's assignment now, not the one the approvers approved.
        return { target, installIntent, byBot: mine !== undefined && mine.installIntent === installIntent };
      }),
      missing: stored.groups.filter((g) => DELIVERED.has(g.status) && !g.withdrawnFromIntune && !inIntune.has(g.groupId.toLowerCase())).map((g) => g.groupName),
    };
  }

  /** Names the groups the bot does not know (assigned in Intune) through the directory, where it answers. */
  private async nameGroups(targets: IntuneTarget[]): Promise<void> {
    const lookUp = this.options.groupName;
    if (!lookUp) return;
    const unnamed = targets.filter((t): t is Extract<IntuneTarget, { groupId: string }> => 'groupId' in t && t.groupName === undefined);
    const names = new Map<string, Promise<string | undefined>>();
    await forEachLimited(unnamed, GROUP_NAME_CONCURRENCY, async (target) => {
      const key = target.groupId.toLowerCase();
      let name = names.get(key);
      if (!name) {
        // A name is a courtesy: a group the directory cannot read is shown by its id.
        name = lookUp(target.groupId).catch(() => undefined);
        names.set(key, name);
      }
      target.groupName = await name;
    });
  }

  /** The failed devices, read page by page up to the page limit. */
  private async devices(eBookId: string): Promise<DeviceRead> {
    const failedDevices: FailedDevice[] = [];
    let failedDeviceCount = 0;
    let devicesRead = 0;
    let pages = 0;
    for await (const page of this.options.intune.deviceStatePages(eBookId)) {
      for (const device of page) {
        devicesRead++;
        if (device.installState !== 'failed') continue;
        failedDeviceCount++;
        if (failedDevices.length < MAX_FAILED_DEVICES) {
          failedDevices.push({ deviceName: device.deviceName || device.deviceId || '', userName: device.userName || undefined, errorCode: device.errorCode || undefined });
        }
      }
      // Stopping here asks Graph for no further page; whether there was one stays unknown, so "the first N" is said.
      if (++pages >= this.maxDeviceStatePages) return { failedDevices, failedDeviceCount, devicesRead, complete: false };
    }
    return { failedDevices, failedDeviceCount, devicesRead, complete: true };
  }
}

/** Who an Intune assignment is for, named from the bot's own assignment of the group (in any state) when there is one. */
function targetOf(assignment: EBookAssignment, ours: ReadonlyMap<string, { groupName: string }>): IntuneTarget {
  const type = assignment.target['@odata.type'];
  const groupId = assignment.target.groupId;
  if ((type === GROUP_TARGET || type === EXCLUSION_TARGET) && groupId) {
    return { kind: type === GROUP_TARGET ? 'group' : 'excludedGroup', groupId, groupName: ours.get(groupId.toLowerCase())?.groupName };
  }
  if (type === ALL_USERS_TARGET) return { kind: 'allUsers' };
  if (type === ALL_DEVICES_TARGET) return { kind: 'allDevices' };
  return { kind: 'other', type: type.slice(type.lastIndexOf('.') + 1) };
}
