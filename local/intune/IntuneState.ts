import { createHash, randomUUID } from 'node:crypto';

/**
 * What the local Intune holds: VPP tokens, the iOS VPP ebooks their syncs brought in, each book's assignments and
 * the simulated devices installing it. Plain data and rules, no HTTP: LocalIntuneServer reads and changes it, and
 * intuneStateFile.ts saves it. Names follow Graph's resources (microsoft-graph-docs-contrib, api-reference/beta/resources/
 * intune-onboarding-vpptoken.md, intune-books-iosvppebook.md, intune-books-deviceinstallstate.md, …).
 */

/** vppTokenState (beta has six members; v1.0 lacks duplicateLocationId). */
export const VPP_TOKEN_STATES = ['unknown', 'valid', 'expired', 'invalid', 'assignedToExternalMDM', 'duplicateLocationId'] as const;
export type VppTokenState = (typeof VPP_TOKEN_STATES)[number];
/** vppTokenSyncStatus. */
export const VPP_SYNC_STATUSES = ['none', 'inProgress', 'completed', 'failed'] as const;
type VppSyncStatus = (typeof VPP_SYNC_STATUSES)[number];
/** vppTokenAccountType. */
export const VPP_ACCOUNT_TYPES = ['business', 'education'] as const;
export type VppAccountType = (typeof VPP_ACCOUNT_TYPES)[number];
/** installIntent. */
export const INSTALL_INTENTS = ['available', 'required', 'uninstall', 'availableWithoutEnrollment'] as const;
export type InstallIntent = (typeof INSTALL_INTENTS)[number];
/** installState (intune-books-installstate.md). */
export const INSTALL_STATES = ['notApplicable', 'installed', 'failed', 'notInstalled', 'uninstallFailed', 'unknown'] as const;
type InstallState = (typeof INSTALL_STATES)[number];
/** actionState, used by vppTokenActionResult. */
export const ACTION_STATES = ['none', 'pending', 'canceled', 'active', 'done', 'failed', 'notSupported'] as const;
type ActionState = (typeof ACTION_STATES)[number];

/**
 * Error codes a device reports, from Microsoft's list of iOS/iPadOS app installation errors
 * (Intune troubleshooting, "app-install-error-codes"): the app "needs a redemption code to complete the
 * transaction" is what a user without a VPP license sees; the other is the generic "app installation has failed".
 */
export const NO_LICENSE_ERROR_CODE = '0x87D13B60';
export const INSTALL_FAILED_ERROR_CODE = '0x87D13B64';

/** What Graph shows for a date that was never set (lastSyncDateTime before the first sync). */
const NEVER = new Date('0001-01-01T00:00:00Z');

interface VppTokenActionResult {
  actionName: string;
  actionState: ActionState;
  startDateTime: Date;
  lastUpdatedDateTime: Date;
}

export interface IntuneVppToken {
  id: string;
  organizationName: string;
  vppTokenAccountType: VppAccountType;
  appleId: string;
  expirationDateTime: Date;
  lastSyncDateTime: Date;
  /** The .vpptoken content: Intune's `token` property, and the Bearer it presents to Apple. */
  token: string;
  lastModifiedDateTime: Date;
  state: VppTokenState;
  tokenActionResults: VppTokenActionResult[];
  lastSyncStatus: VppSyncStatus;
  automaticallyUpdateApps: boolean;
  countryOrRegion: string;
  dataSharingConsentGranted: boolean;
  displayName: string;
  locationName: string;
  claimTokenManagementFromExternalMdm: boolean;
  roleScopeTagIds: string[];
  lastAppCount: number;
  /** Apple's `uId` for the token's location (client config): two tokens with one location are duplicates. */
  locationId: string | undefined;
}

/** A target as Graph writes it (groupAssignmentTarget, allLicensedUsersAssignmentTarget, …), kept whole. */
export interface AssignmentTarget {
  '@odata.type': string;
  groupId?: string;
  deviceAndAppManagementAssignmentFilterId?: string | null;
  deviceAndAppManagementAssignmentFilterType?: string;
}

export interface EBookAssignment {
  id: string;
  installIntent: InstallIntent;
  target: AssignmentTarget;
}

export interface DeviceInstallRecord {
  /** Key of this book's state for this device. */
  id: string;
  deviceId: string;
  deviceName: string;
  userId: string;
  userName: string;
  osVersion: string;
  osDescription: string;
  installState: InstallState;
  errorCode: string | null;
  lastSyncDateTime: Date;
}

export interface IntuneEBook {
  id: string;
  vppTokenId: string;
  adamId: string;
  displayName: string;
  description: string | null;
  publisher: string;
  publishedDateTime: Date;
  largeCover: { type: string; value: string } | null;
  createdDateTime: Date;
  lastModifiedDateTime: Date;
  informationUrl: string;
  privacyInformationUrl: string | null;
  appleId: string;
  vppOrganizationName: string;
  genres: string[];
  language: string;
  seller: string;
  totalLicenseCount: number;
  /** Licenses Apple reports as assigned (other MDMs', earlier ones'); Intune's own come on top. */
  appleUsedLicenseCount: number;
  assignments: EBookAssignment[];
  /** Users Intune licensed for this book, in the order it did. Licenses stay when an assignment goes. */
  licensedUserIds: Set<string>;
  devices: Map<string, DeviceInstallRecord>;
}

/** A book as a sync reads it from Apple (assets, metadata lookup, artwork). */
export interface AppleBookSnapshot {
  adamId: string;
  title: string;
  author: string | null;
  totalCount: number;
  assignedCount: number;
  description?: string | null;
  genres?: string[];
  releaseDate?: Date | null;
  cover?: { type: string; value: string } | null;
}

/** A user a Required assignment reaches, as the directory names them. */
export interface TargetUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
}

export interface InstallSummary {
  installedDeviceCount: number;
  failedDeviceCount: number;
  notInstalledDeviceCount: number;
  installedUserCount: number;
  failedUserCount: number;
  notInstalledUserCount: number;
}

export interface UserStateSummary {
  id: string;
  userId: string;
  userName: string;
  installedDeviceCount: number;
  failedDeviceCount: number;
  notInstalledDeviceCount: number;
}

export interface NewVppToken {
  token: string;
  organizationName: string;
  appleId: string;
  vppTokenAccountType: VppAccountType;
  expirationDateTime: Date;
  state: VppTokenState;
  countryOrRegion: string;
  locationName: string;
  locationId: string | undefined;
  displayName?: string | undefined;
  automaticallyUpdateApps?: boolean | undefined;
  dataSharingConsentGranted?: boolean | undefined;
  claimTokenManagementFromExternalMdm?: boolean | undefined;
  roleScopeTagIds?: string[] | undefined;
}

/** A GUID-shaped id derived from `parts`: the same book or device gets the same id on every run. */
function stableId(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A number in [0, modulo) derived from `parts`: deterministic choices (how many devices, which install fails). */
function stableNumber(modulo: number, ...parts: string[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0) % modulo;
}

interface SimulatedDevice {
  deviceId: string;
  deviceName: string;
  osVersion: string;
  osDescription: string;
}

/** One iPad per user, and an iPhone for about a third of them; named after the user's first name. */
function devicesOf(user: TargetUser): SimulatedDevice[] {
  const first = user.displayName.trim().split(/\s+/)[0] || user.userPrincipalName.split('@')[0] || 'User';
  const devices: SimulatedDevice[] = [{ deviceId: stableId('device', user.id, 'ipad'), deviceName: `${first}'s iPad`, osVersion: '17.5.1', osDescription: 'iPadOS' }];
  if (stableNumber(3, 'iphone', user.id) === 0) devices.push({ deviceId: stableId('device', user.id, 'iphone'), deviceName: `${first}'s iPhone`, osVersion: '17.5.1', osDescription: 'iOS' });
  return devices;
}

export interface IntuneStateOptions {
  now?: () => Date;
  /** One device install in this many fails (deterministically, by book and device); 0 for none. */
  installFailureOneIn?: number;
}

export class IntuneState {
  readonly tokens = new Map<string, IntuneVppToken>();
  readonly books = new Map<string, IntuneEBook>();
  now: () => Date;
  installFailureOneIn: number;

  constructor(options: IntuneStateOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.installFailureOneIn = options.installFailureOneIn ?? 8;
  }

  // ---- tokens ----

  addToken(input: NewVppToken): IntuneVppToken {
    const now = this.now();
    const token: IntuneVppToken = {
      id: randomUUID(),
      organizationName: input.organizationName,
      vppTokenAccountType: input.vppTokenAccountType,
      appleId: input.appleId,
      expirationDateTime: input.expirationDateTime,
      lastSyncDateTime: NEVER,
      token: input.token,
      lastModifiedDateTime: now,
      state: input.state,
      tokenActionResults: [],
      lastSyncStatus: 'none',
      automaticallyUpdateApps: input.automaticallyUpdateApps ?? false,
      countryOrRegion: input.countryOrRegion,
      dataSharingConsentGranted: input.dataSharingConsentGranted ?? false,
      displayName: input.displayName ?? input.organizationName,
      locationName: input.locationName,
      claimTokenManagementFromExternalMdm: input.claimTokenManagementFromExternalMdm ?? false,
      roleScopeTagIds: input.roleScopeTagIds ?? ['0'],
      lastAppCount: 0,
      locationId: input.locationId,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /** The token, with a `valid` one past its expiry shown as `expired` (Intune notices without being asked). */
  token(id: string): IntuneVppToken | undefined {
    const token = this.tokens.get(id);
    if (token && token.state === 'valid' && token.expirationDateTime.getTime() <= this.now().getTime()) token.state = 'expired';
    return token;
  }

  listTokens(): IntuneVppToken[] {
    return [...this.tokens.keys()].map((id) => this.token(id)).filter((t): t is IntuneVppToken => t !== undefined);
  }

  /**
   * Another token serving the same Apple location. A token Intune marked a duplicate serves nothing, so the
   * token that was there first keeps the location however many copies are uploaded after it.
   */
  tokenForLocation(locationId: string, exceptId?: string): IntuneVppToken | undefined {
    return [...this.tokens.values()].find((t) => t.locationId === locationId && t.id !== exceptId && t.state !== 'duplicateLocationId');
  }

  touch(token: IntuneVppToken): void {
    token.lastModifiedDateTime = this.now();
  }

  /** Removes the token and the books it brought in. */
  deleteToken(id: string): boolean {
    if (!this.tokens.delete(id)) return false;
    for (const book of [...this.books.values()]) if (book.vppTokenId === id) this.books.delete(book.id);
    return true;
  }

  /** Records a syncLicenses run on the token (beta `tokenActionResults`). */
  noteAction(token: IntuneVppToken, actionName: string, actionState: ActionState): void {
    const now = this.now();
    const existing = token.tokenActionResults.find((r) => r.actionName === actionName);
    if (existing) {
      existing.actionState = actionState;
      existing.lastUpdatedDateTime = now;
      if (actionState === 'active') existing.startDateTime = now;
    } else token.tokenActionResults.push({ actionName, actionState, startDateTime: now, lastUpdatedDateTime: now });
  }

  // ---- books ----

  booksOf(tokenId: string): IntuneEBook[] {
    return [...this.books.values()].filter((b) => b.vppTokenId === tokenId);
  }

  /**
   * A completed sync: the token's books become what Apple listed. New books are created, known ones get Apple's
   * counts and titles; books Apple no longer lists are removed with their assignments.
   */
  applySync(token: IntuneVppToken, snapshots: readonly AppleBookSnapshot[]): void {
    const now = this.now();
    const seen = new Set<string>();
    for (const snapshot of snapshots) {
      const id = stableId('ebook', token.id, snapshot.adamId);
      seen.add(id);
      const existing = this.books.get(id);
      const fields = {
        displayName: snapshot.title,
        publisher: snapshot.author ?? existing?.publisher ?? '',
        seller: snapshot.author ?? existing?.seller ?? '',
        description: snapshot.description ?? existing?.description ?? null,
        genres: snapshot.genres ?? existing?.genres ?? [],
        publishedDateTime: snapshot.releaseDate ?? existing?.publishedDateTime ?? NEVER,
        largeCover: snapshot.cover ?? existing?.largeCover ?? null,
        totalLicenseCount: snapshot.totalCount,
        appleUsedLicenseCount: snapshot.assignedCount,
        appleId: token.appleId,
        vppOrganizationName: token.organizationName,
      };
      if (existing) {
        Object.assign(existing, fields, { lastModifiedDateTime: now });
        continue;
      }
      this.books.set(id, {
        id,
        vppTokenId: token.id,
        adamId: snapshot.adamId,
        createdDateTime: now,
        lastModifiedDateTime: now,
        informationUrl: `https://books.apple.com/book/id${snapshot.adamId}`,
        privacyInformationUrl: null,
        language: 'en',
        assignments: [],
        licensedUserIds: new Set(),
        devices: new Map(),
        ...fields,
      });
    }
    for (const book of this.booksOf(token.id)) if (!seen.has(book.id)) this.books.delete(book.id);
    token.lastAppCount = seen.size;
  }

  /** Apple's assigned licenses plus the ones Intune gave, never above what the book has. */
  usedLicenseCount(book: IntuneEBook): number {
    return Math.min(book.totalLicenseCount, book.appleUsedLicenseCount + book.licensedUserIds.size);
  }

  // ---- assignments ----

  /**
   * The `assign` action: the book's assignments become exactly `assignments` (Intune's portal saves the whole
   * list the same way). An id the caller sends for an assignment the book has is kept; the others get new ones.
   */
  replaceAssignments(book: IntuneEBook, assignments: ReadonlyArray<Omit<EBookAssignment, 'id'> & { id?: string | undefined }>): void {
    const known = new Set(book.assignments.map((a) => a.id));
    book.assignments = assignments.map((a) => ({ id: a.id !== undefined && known.has(a.id) ? a.id : randomUUID(), installIntent: a.installIntent, target: { ...a.target } }));
    book.lastModifiedDateTime = this.now();
  }

  /** Group ids a book's Required assignments include and exclude: whose devices must get the book. */
  requiredGroups(book: IntuneEBook): { include: string[]; exclude: string[] } {
    const include: string[] = [];
    const exclude: string[] = [];
    for (const a of book.assignments) {
      if (!a.target.groupId) continue;
      if (a.target['@odata.type'] === '#microsoft.graph.exclusionGroupAssignmentTarget') exclude.push(a.target.groupId);
      else if (a.installIntent === 'required' && a.target['@odata.type'] === '#microsoft.graph.groupAssignmentTarget') include.push(a.target.groupId);
    }
    return { include, exclude };
  }

  // ---- device install states ----

  /**
   * The users Required assignments reach now: each newcomer is licensed while licenses last and gets their
   * devices as `notInstalled`; beyond the book's licenses their devices fail with the no-license code until a
   * license is free. Users no longer reached lose their device states (not their license: Intune keeps it).
   */
  applyTargets(book: IntuneEBook, users: readonly TargetUser[]): void {
    const now = this.now();
    const reached = new Set(users.map((u) => u.id));
    for (const [key, device] of book.devices) if (!reached.has(device.userId)) book.devices.delete(key);
    for (const user of users) {
      const licensed = book.licensedUserIds.has(user.id) || this.#license(book, user.id);
      for (const device of devicesOf(user)) {
        const id = stableId('device-state', book.id, device.deviceId);
        const existing = book.devices.get(id);
        if (existing && !(existing.errorCode === NO_LICENSE_ERROR_CODE && licensed)) continue;
        book.devices.set(id, {
          id,
          ...device,
          userId: user.id,
          userName: user.userPrincipalName,
          installState: licensed ? 'notInstalled' : 'failed',
          errorCode: licensed ? null : NO_LICENSE_ERROR_CODE,
          lastSyncDateTime: now,
        });
      }
    }
  }

  #license(book: IntuneEBook, userId: string): boolean {
    if (this.usedLicenseCount(book) >= book.totalLicenseCount) return false;
    book.licensedUserIds.add(userId);
    return true;
  }

  /** A device check-in: each device waiting for the book installs it, or (one in `installFailureOneIn`) fails to. */
  progressInstalls(book: IntuneEBook): void {
    const now = this.now();
    for (const device of book.devices.values()) {
      if (device.installState !== 'notInstalled') continue;
      const fails = this.installFailureOneIn > 0 && stableNumber(this.installFailureOneIn, 'install', book.id, device.deviceId) === 0;
      device.installState = fails ? 'failed' : 'installed';
      device.errorCode = fails ? INSTALL_FAILED_ERROR_CODE : null;
      device.lastSyncDateTime = now;
    }
  }

  deviceStates(book: IntuneEBook, userId?: string): DeviceInstallRecord[] {
    return [...book.devices.values()].filter((d) => userId === undefined || d.userId === userId);
  }

  userStateSummaries(book: IntuneEBook): UserStateSummary[] {
    const byUser = new Map<string, UserStateSummary>();
    for (const device of book.devices.values()) {
      let summary = byUser.get(device.userId);
      if (!summary) {
        summary = { id: stableId('user-state', book.id, device.userId), userId: device.userId, userName: device.userName, installedDeviceCount: 0, failedDeviceCount: 0, notInstalledDeviceCount: 0 };
        byUser.set(device.userId, summary);
      }
      if (device.installState === 'installed') summary.installedDeviceCount += 1;
      else if (device.installState === 'failed') summary.failedDeviceCount += 1;
      else summary.notInstalledDeviceCount += 1;
    }
    return [...byUser.values()];
  }

  /**
   * eBookInstallSummary: devices by state; a user is installed when all their devices are, failed when one
   * of them failed ("1 or more device that failed"), not installed otherwise.
   */
  installSummary(book: IntuneEBook): InstallSummary {
    const summary: InstallSummary = { installedDeviceCount: 0, failedDeviceCount: 0, notInstalledDeviceCount: 0, installedUserCount: 0, failedUserCount: 0, notInstalledUserCount: 0 };
    for (const user of this.userStateSummaries(book)) {
      summary.installedDeviceCount += user.installedDeviceCount;
      summary.failedDeviceCount += user.failedDeviceCount;
      summary.notInstalledDeviceCount += user.notInstalledDeviceCount;
      if (user.failedDeviceCount > 0) summary.failedUserCount += 1;
      else if (user.notInstalledDeviceCount > 0) summary.notInstalledUserCount += 1;
      else summary.installedUserCount += 1;
    }
    return summary;
  }
}
