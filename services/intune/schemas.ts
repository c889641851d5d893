import { z } from 'zod';
import type {
  AssignmentTarget,
  DeviceInstallState,
  EBookAssignment,
  EBookInstallSummary,
  InstallIntent,
  InstallState,
  IntuneActionFailureReason,
  IntuneActionState,
  IntuneEBook,
  IntuneSyncStatus,
  IntuneTokenActionResult,
  IntuneTokenState,
  IntuneVppToken,
  UserInstallStateSummary,
} from './IntuneApi';

/**
 * Microsoft Graph's `deviceAppManagement` answers as the documentation pages show them (test/fixtures/intune,
 * NOTES.md there), each read into the IntuneApi domain type. Graph writes `null` for any unset reference
 * property, so everything optional is `nullish` and comes out `undefined`.
 */

// Graph's enums (learn.microsoft.com/graph/api/resources/intune-onboarding-vpptokenstate, …-vpptokensyncstatus,
// intune-shared-actionstate, intune-shared-vpptokenactionfailurereason, intune-shared-installintent, intune-books-installstate).
const TOKEN_STATES = ['unknown', 'valid', 'expired', 'invalid', 'assignedToExternalMDM', 'duplicateLocationId'] as const satisfies readonly IntuneTokenState[];
const SYNC_STATUSES = ['none', 'inProgress', 'completed', 'failed'] as const satisfies readonly IntuneSyncStatus[];
const ACTION_STATES = ['none', 'pending', 'canceled', 'active', 'done', 'failed', 'notSupported'] as const satisfies readonly IntuneActionState[];
const ACTION_FAILURE_REASONS = ['none', 'appleFailure', 'internalError', 'expiredVppToken', 'expiredApplePushNotificationCertificate'] as const satisfies readonly IntuneActionFailureReason[];
const INSTALL_INTENTS = ['available', 'required', 'uninstall', 'availableWithoutEnrollment'] as const satisfies readonly InstallIntent[];
const INSTALL_STATES = ['notApplicable', 'installed', 'failed', 'notInstalled', 'uninstallFailed', 'unknown'] as const satisfies readonly InstallState[];

const id = z.string().min(1).max(128);
const text = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((value) => value ?? undefined);
const count = z.number().int().min(0).max(2_147_483_647);

/** Graph's DateTimeOffset, written back in UTC (`toISOString`) so callers compare and parse one form. */
const dateTime = z.iso.datetime({ offset: true }).transform((value) => new Date(value).toISOString());
/**
 * An optional DateTimeOffset. Intune's non-nullable dates say "never" as 0001-01-01T00:00:00Z (a token not
 * yet synced): that is no date.
 */
const optionalDateTime = dateTime
  .nullish()
  .transform((value) => (value === undefined || value === null || value.startsWith('0001-') ? undefined : value));

/** `@odata.type` as OData writes it, with the `#`; some documented examples leave it out. */
const odataType = z
  .string()
  .min(1)
  .max(200)
  .transform((value) => (value.startsWith('#') ? value : `#${value}`));

const IOS_VPP_EBOOK = '#microsoft.graph.iosVppEBook';
const isIosVppEBook = (type: unknown): boolean => typeof type === 'string' && type.replace(/^#/, '').toLowerCase() === IOS_VPP_EBOOK.slice(1).toLowerCase();

/**
 * A single entity. Graph sends it as the top-level object (create's example; api-guidelines), but the Intune
 * get and action pages show it inside `{"value": {...}}`: both are read. No entity here has a top-level `value`.
 */
export function entitySchema<T extends z.ZodType>(schema: T) {
  return z.preprocess((body) => {
    if (typeof body !== 'object' || body === null || !('value' in body) || 'id' in body) return body;
    const value: unknown = (body as { value: unknown }).value;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : body;
  }, schema);
}

/**
 * Graph's vppTokenActionResult (beta), and what its derived vppTokenRevokeLicensesActionResult adds: the failure
 * reason and license counts. Read whatever its `@odata.type`, so a reason any derived type carries is kept.
 */
const tokenActionResultSchema = z
  .object({
    actionName: text(256),
    actionState: z.enum(ACTION_STATES).catch('none'),
    startDateTime: optionalDateTime,
    lastUpdatedDateTime: optionalDateTime,
    actionFailureReason: z.enum(ACTION_FAILURE_REASONS).nullish().catch(undefined),
    totalLicensesCount: count.nullish(),
    failedLicensesCount: count.nullish(),
  })
  .transform((r): IntuneTokenActionResult => {
    const result: IntuneTokenActionResult = { actionName: r.actionName ?? '', actionState: r.actionState };
    if (r.startDateTime) result.startDateTime = r.startDateTime;
    if (r.lastUpdatedDateTime) result.lastUpdatedDateTime = r.lastUpdatedDateTime;
    if (r.actionFailureReason) result.actionFailureReason = r.actionFailureReason;
    if (typeof r.totalLicensesCount === 'number') result.totalLicensesCount = r.totalLicensesCount;
    if (typeof r.failedLicensesCount === 'number') result.failedLicensesCount = r.failedLicensesCount;
    return result;
  });

/**
 * The token's action results (undefined from v1.0, which has none); one in a shape not read here is left out
 * rather than hiding the token.
 */
const tokenActionResultsSchema = z
  .array(tokenActionResultSchema.nullable().catch(null))
  .nullish()
  .catch(undefined)
  .transform((results) => results?.filter((r): r is IntuneTokenActionResult => r !== null));

/**
 * Graph's vppToken (beta: `displayName`, `locationName`, `tokenActionResults` and the `duplicateLocationId`
 * state). Unknown keys are dropped, `token` above all: Graph's examples echo the token string, and the bot never
 * keeps it.
 */
export const vppTokenSchema = z
  .object({
    id,
    organizationName: text(1024),
    vppTokenAccountType: z.enum(['business', 'education']),
    appleId: text(1024),
    expirationDateTime: dateTime,
    lastSyncDateTime: optionalDateTime,
    lastModifiedDateTime: optionalDateTime,
    // A state or status Graph adds later must not hide every token: it reads as unknown / none.
    state: z.enum(TOKEN_STATES).catch('unknown'),
    lastSyncStatus: z.enum(SYNC_STATUSES).catch('none'),
    countryOrRegion: text(64),
    displayName: text(1024),
    locationName: text(1024),
    tokenActionResults: tokenActionResultsSchema,
  })
  .transform(
    (t): IntuneVppToken => ({
      id: t.id,
      organizationName: t.organizationName ?? '',
      accountType: t.vppTokenAccountType,
      appleId: t.appleId,
      expirationDateTime: t.expirationDateTime,
      lastSyncDateTime: t.lastSyncDateTime,
      lastModifiedDateTime: t.lastModifiedDateTime,
      state: t.state,
      lastSyncStatus: t.lastSyncStatus,
      countryOrRegion: t.countryOrRegion,
      displayName: t.displayName,
      locationName: t.locationName,
      tokenActionResults: t.tokenActionResults,
    }),
  );

/** mimeContent: a Base64 image and its type. A cover is tens of kilobytes; 10 MB of Base64 is no cover. */
const mimeContentSchema = z.object({ type: text(256), value: text(10_000_000) });

/** Graph's iosVppEBook. */
const iosVppEBookSchema = z
  .object({
    '@odata.type': z.string().refine(isIosVppEBook, { message: 'not an iosVppEBook' }),
    id,
    displayName: text(1024),
    description: text(100_000),
    publisher: text(1024),
    informationUrl: text(2048),
    largeCover: mimeContentSchema.nullish(),
    lastModifiedDateTime: optionalDateTime,
    vppTokenId: text(128),
    appleId: text(1024),
    vppOrganizationName: text(1024),
    totalLicenseCount: count,
    usedLicenseCount: count,
  })
  .transform(
    (b): IntuneEBook => ({
      id: b.id,
      displayName: b.displayName ?? b.id,
      publisher: b.publisher,
      description: b.description,
      informationUrl: b.informationUrl,
      largeCover: b.largeCover?.type && b.largeCover.value ? { type: b.largeCover.type, value: b.largeCover.value } : undefined,
      vppTokenId: b.vppTokenId,
      appleId: b.appleId,
      vppOrganizationName: b.vppOrganizationName,
      totalLicenseCount: b.totalLicenseCount,
      usedLicenseCount: b.usedLicenseCount,
      lastModifiedDateTime: b.lastModifiedDateTime,
    }),
  );

/** Another kind of managedEBook (the collection is of the abstract type): read as nothing, and left out. */
const otherEBookSchema = z
  .looseObject({ '@odata.type': z.string().max(200).optional() })
  .refine((b) => !isIosVppEBook(b['@odata.type']), { message: 'an iosVppEBook that does not match its schema' })
  .transform(() => undefined);

/**
 * An item of `/deviceAppManagement/managedEBooks`: an IntuneEBook for an iosVppEBook, undefined for any other
 * type. `isof()` is not documented for this collection, so the client tells the types apart by `@odata.type`;
 * an iosVppEBook that does not match its schema fails, rather than passing as some other book.
 */
export const managedEBookSchema = z.union([iosVppEBookSchema, otherEBookSchema]);

/**
 * An assignment target, kept whole so it goes back unchanged on `assign`: the assignment filter an Intune admin
 * set (`deviceAndAppManagementAssignmentFilterId`/`…Type`, beta only: null and "none" as Graph writes them) and
 * every property the bot does not know, as read. Only `@odata.type` gets its `#`, so targets compare with GROUP_TARGET.
 */
const assignmentTargetSchema = z
  .looseObject({
    '@odata.type': odataType,
    groupId: z.string().max(128).nullish(),
    deviceAndAppManagementAssignmentFilterId: z.string().max(128).nullish(),
    // Kept as written: a filter type Graph adds later must go back as it came, not be refused or changed.
    deviceAndAppManagementAssignmentFilterType: z.string().max(64).optional(),
  })
  .transform((target): AssignmentTarget => {
    const { groupId, ...rest } = target;
    return groupId ? { ...rest, groupId } : rest;
  });

/**
 * Graph's managedEBookAssignment (iosVppEBookAssignment). An intent the bot does not know fails the answer:
 * read as something else, it would be sent back changed on the next `assign`.
 */
export const eBookAssignmentSchema = z
  .object({
    id: z.string().max(128).nullish(),
    installIntent: z.enum(INSTALL_INTENTS),
    target: assignmentTargetSchema,
  })
  .transform((a): EBookAssignment => (a.id ? { id: a.id, installIntent: a.installIntent, target: a.target } : { installIntent: a.installIntent, target: a.target }));

/** Graph's eBookInstallSummary. */
export const eBookInstallSummarySchema = z
  .object({
    installedDeviceCount: count,
    failedDeviceCount: count,
    notInstalledDeviceCount: count,
    installedUserCount: count,
    failedUserCount: count,
    notInstalledUserCount: count,
  })
  .transform((s): EBookInstallSummary => s);

/** Graph's deviceInstallState (`errorCode` is a string). */
export const deviceInstallStateSchema = z
  .object({
    id,
    deviceName: text(1024),
    deviceId: text(128),
    lastSyncDateTime: optionalDateTime,
    installState: z.enum(INSTALL_STATES).catch('unknown'),
    errorCode: text(256),
    osVersion: text(256),
    osDescription: text(1024),
    userName: text(1024),
  })
  .transform((d): DeviceInstallState => d);

/** Graph's userInstallStateSummary (a user's name only: no user id). */
export const userInstallStateSummarySchema = z
  .object({
    id,
    userName: text(1024),
    installedDeviceCount: count,
    failedDeviceCount: count,
    notInstalledDeviceCount: count,
  })
  .transform((u): UserInstallStateSummary => u);

/**
 * Intune serialises its own error document into Graph's `error.message` (a JSON string with `_version`,
 * `Message`, `CustomApiErrorPhrase`…; test/fixtures/intune/error-intune-bad-request-observed.jsonc).
 */
export const intuneErrorDocumentSchema = z.looseObject({ Message: z.string().max(8000) });
