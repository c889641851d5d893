import type { Secret } from '../secrets/Secret';
import { IntuneError, type IntuneErrorInit } from './IntuneError';

/**
 * What the bot asks of Microsoft Intune through Graph's `deviceAppManagement` (vppTokens, managedEBooks and
 * their assignments and install states), in Graph's own vocabulary. `IntuneGraphClient` implements it over
 * HTTP; the Intune adapters of the token, sync, assignment and monitoring services depend only on this.
 * Every call throws an `IntuneError` (a UserFacing error) for anything Graph refuses.
 */
export interface IntuneApi {
  /** Every VPP token Intune holds in the tenant (all pages). */
  listVppTokens(): Promise<IntuneVppToken[]>;
  /** Undefined when Intune has no such token (404). */
  getVppToken(id: string): Promise<IntuneVppToken | undefined>;
  /** `POST /deviceAppManagement/vppTokens`: Intune checks the token with Apple and takes it over. */
  createVppToken(input: VppTokenWrite & { token: Secret; appleId: string; accountType: IntuneAccountType }): Promise<IntuneVppToken>;
  /** `PATCH /deviceAppManagement/vppTokens/{id}`: renew (a new token file), or change the Apple ID / name. */
  updateVppToken(id: string, input: VppTokenWrite): Promise<IntuneVppToken>;
  deleteVppToken(id: string): Promise<void>;
  /** `POST /deviceAppManagement/vppTokens/{id}/syncLicenses`: starts Intune's sync with Apple; follow `lastSyncStatus`. */
  syncLicenses(id: string): Promise<IntuneVppToken>;
  /** The tenant's iOS VPP ebooks (every token's), page by page as Graph pages them (`@odata.nextLink`). */
  eBookPages(): AsyncGenerator<IntuneEBook[], void, undefined>;
  /** Undefined when Intune has no such book (404). */
  getEBook(id: string): Promise<IntuneEBook | undefined>;
  /**
   * The book's assignments as Intune holds them (every page), each target whole: its assignment filter
   * (beta only) and any property of a kind of target the bot does not know, so `assign` can send it back as read.
   */
  listAssignments(eBookId: string): Promise<EBookAssignment[]>;
  /**
   * `POST /deviceAppManagement/managedEBooks/{id}/assign`. The action replaces the book's whole assignment
   * list: pass every assignment the book should keep, not only the new one.
   */
  assign(eBookId: string, assignments: readonly EBookAssignment[]): Promise<void>;
  installSummary(eBookId: string): Promise<EBookInstallSummary>;
  deviceStatePages(eBookId: string): AsyncGenerator<DeviceInstallState[], void, undefined>;
  userStateSummaries(eBookId: string): Promise<UserInstallStateSummary[]>;
}

export type IntuneAccountType = 'business' | 'education';
/** Graph's vppTokenState (beta adds duplicateLocationId). */
export type IntuneTokenState = 'unknown' | 'valid' | 'expired' | 'invalid' | 'assignedToExternalMDM' | 'duplicateLocationId';
/** Graph's vppTokenSyncStatus. */
export type IntuneSyncStatus = 'none' | 'inProgress' | 'completed' | 'failed';
/** Graph's actionState, the state of an action on a token (beta `tokenActionResults`). */
export type IntuneActionState = 'none' | 'pending' | 'canceled' | 'active' | 'done' | 'failed' | 'notSupported';
/** Graph's vppTokenActionFailureReason (beta): why an action on a token failed. */
export type IntuneActionFailureReason = 'none' | 'appleFailure' | 'internalError' | 'expiredVppToken' | 'expiredApplePushNotificationCertificate';
/** Graph's installIntent. */
export type InstallIntent = 'available' | 'required' | 'uninstall' | 'availableWithoutEnrollment';
/** Graph's installState. */
export type InstallState = 'notApplicable' | 'installed' | 'failed' | 'notInstalled' | 'uninstallFailed' | 'unknown';

export interface VppTokenWrite {
  token?: Secret | undefined;
  appleId?: string | undefined;
  accountType?: IntuneAccountType | undefined;
  displayName?: string | undefined;
  /** Beta `claimTokenManagementFromExternalMdm`: the admin agreed to take the token from another MDM. */
  claimFromExternalMdm?: boolean | undefined;
}

/** Graph's vppToken, without the token itself (Graph does not return it, and the bot never keeps it). */
export interface IntuneVppToken {
  id: string;
  organizationName: string;
  accountType: IntuneAccountType;
  appleId?: string | undefined;
  expirationDateTime: string;
  lastSyncDateTime?: string | undefined;
  lastModifiedDateTime?: string | undefined;
  state: IntuneTokenState;
  lastSyncStatus: IntuneSyncStatus;
  countryOrRegion?: string | undefined;
  /** Beta only. */
  displayName?: string | undefined;
  /** Beta only: "Token location returned from Apple VPP". */
  locationName?: string | undefined;
  /** Beta only: "The collection of statuses of the actions performed on the Apple Volume Purchase Program Token". */
  tokenActionResults?: IntuneTokenActionResult[] | undefined;
}

/**
 * Graph's vppTokenActionResult (beta): one action Intune ran on a token (a sync, a license revocation), how it
 * went and when. Graph does not document the action names. The failure reason and license counts come only with
 * a derived type that carries them (vppTokenRevokeLicensesActionResult is the documented one).
 */
export interface IntuneTokenActionResult {
  actionName: string;
  actionState: IntuneActionState;
  startDateTime?: string | undefined;
  lastUpdatedDateTime?: string | undefined;
  actionFailureReason?: IntuneActionFailureReason | undefined;
  totalLicensesCount?: number | undefined;
  failedLicensesCount?: number | undefined;
}

/** Graph's iosVppEBook (a managedEBook bought through a VPP token). */
export interface IntuneEBook {
  id: string;
  displayName: string;
  publisher?: string | undefined;
  description?: string | undefined;
  informationUrl?: string | undefined;
  /** `largeCover` mimeContent: Base64 image bytes and their type. */
  largeCover?: { type: string; value: string } | undefined;
  vppTokenId?: string | undefined;
  appleId?: string | undefined;
  vppOrganizationName?: string | undefined;
  totalLicenseCount: number;
  usedLicenseCount: number;
  lastModifiedDateTime?: string | undefined;
}

/**
 * Graph's assignment target, as Graph writes it; unknown kinds and properties are kept whole so they round-trip
 * on `assign`. The assignment filter an Intune admin may set (beta only) is one of them.
 */
export interface AssignmentTarget {
  '@odata.type': string;
  groupId?: string | undefined;
  deviceAndAppManagementAssignmentFilterId?: string | null | undefined;
  /** `none`, `include` or `exclude` (Graph may add more: kept as written). */
  deviceAndAppManagementAssignmentFilterType?: string | undefined;
  [property: string]: unknown;
}

/** Graph's managedEBookAssignment (iosVppEBookAssignment). */
export interface EBookAssignment {
  id?: string | undefined;
  installIntent: InstallIntent;
  target: AssignmentTarget;
}

export const GROUP_TARGET = '#microsoft.graph.groupAssignmentTarget';

/**
 * Graph kept answering 429 or 503 and asked, in Retry-After, to wait longer than one call waits (the client's
 * `maxRetryAfterMs`): the call gives up at once rather than trying early, and `retryAfter` (ISO date) says when
 * Intune may be called again. Its kind is `throttled` or `unavailable`, so whoever pauses on those pauses on it.
 */
export class IntuneRetryAfterError extends IntuneError {
  override name = 'IntuneRetryAfterError';

  constructor(
    purpose: string,
    readonly retryAfter: string,
    init: IntuneErrorInit = {},
  ) {
    const throttled = init.status === 429;
    const what = throttled ? 'Microsoft Graph is throttling my requests to Intune' : 'Intune is busy through Microsoft Graph';
    super(
      `${what} and asked me to wait until ${retryAfter.slice(11, 16)} UTC on ${retryAfter.slice(0, 10)}, so I could not ${purpose}. Nothing was changed; try again after then.`,
      throttled ? 'intune_throttled' : 'intune_unavailable',
      throttled ? 'throttled' : 'unavailable',
      init,
    );
  }
}

export interface EBookInstallSummary {
  installedDeviceCount: number;
  failedDeviceCount: number;
  notInstalledDeviceCount: number;
  installedUserCount: number;
  failedUserCount: number;
  notInstalledUserCount: number;
}

export interface DeviceInstallState {
  id: string;
  deviceName?: string | undefined;
  deviceId?: string | undefined;
  lastSyncDateTime?: string | undefined;
  installState: InstallState;
  errorCode?: string | undefined;
  osVersion?: string | undefined;
  osDescription?: string | undefined;
  userName?: string | undefined;
}

export interface UserInstallStateSummary {
  id: string;
  userName?: string | undefined;
  installedDeviceCount: number;
  failedDeviceCount: number;
  notInstalledDeviceCount: number;
}
