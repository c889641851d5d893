import type { DeviceInstallRecord, EBookAssignment, InstallSummary, IntuneEBook, IntuneState, IntuneVppToken, UserStateSummary } from './IntuneState';

/**
 * The resources as Graph writes them, per version: property names, order and `@odata.type` as on the
 * resource pages (microsoft-graph-docs-contrib api-reference/{v1.0,beta}/resources/intune-*.md; the notes in
 * test/fixtures/intune/NOTES.md say which are beta only). Top-level items carry `#microsoft.graph.…`, nested
 * complex values the name without `#`, as the examples do.
 */

export type GraphVersion = 'v1.0' | 'beta';

const iso = (date: Date): string => date.toISOString();

export function vppTokenView(token: IntuneVppToken, version: GraphVersion): Record<string, unknown> {
  const view: Record<string, unknown> = {
    '@odata.type': '#microsoft.graph.vppToken',
    id: token.id,
    organizationName: token.organizationName,
    vppTokenAccountType: token.vppTokenAccountType,
    appleId: token.appleId,
    expirationDateTime: iso(token.expirationDateTime),
    lastSyncDateTime: iso(token.lastSyncDateTime),
    // Every documented answer returns the token string; so does this one.
    token: token.token,
    lastModifiedDateTime: iso(token.lastModifiedDateTime),
    // v1.0's vppTokenState has no duplicateLocationId; such a token is not valid there either.
    state: version === 'v1.0' && token.state === 'duplicateLocationId' ? 'invalid' : token.state,
  };
  if (version === 'beta') {
    view.tokenActionResults = token.tokenActionResults.map((r) => ({
      '@odata.type': 'microsoft.graph.vppTokenActionResult',
      actionName: r.actionName,
      actionState: r.actionState,
      startDateTime: iso(r.startDateTime),
      lastUpdatedDateTime: iso(r.lastUpdatedDateTime),
    }));
  }
  view.lastSyncStatus = token.lastSyncStatus;
  view.automaticallyUpdateApps = token.automaticallyUpdateApps;
  view.countryOrRegion = token.countryOrRegion;
  if (version === 'beta') {
    view.dataSharingConsentGranted = token.dataSharingConsentGranted;
    view.displayName = token.displayName;
    view.locationName = token.locationName;
    view.claimTokenManagementFromExternalMdm = token.claimTokenManagementFromExternalMdm;
    view.roleScopeTagIds = [...token.roleScopeTagIds];
  }
  view.lastAppCount = token.lastAppCount;
  return view;
}

export function assignmentView(assignment: EBookAssignment, version: GraphVersion): Record<string, unknown> {
  const { deviceAndAppManagementAssignmentFilterId, deviceAndAppManagementAssignmentFilterType, ...target } = assignment.target;
  return {
    '@odata.type': '#microsoft.graph.iosVppEBookAssignment',
    id: assignment.id,
    target:
      version === 'beta'
        ? { ...target, deviceAndAppManagementAssignmentFilterId: deviceAndAppManagementAssignmentFilterId ?? null, deviceAndAppManagementAssignmentFilterType: deviceAndAppManagementAssignmentFilterType ?? 'none' }
        : target,
    installIntent: assignment.installIntent,
  };
}

export function eBookView(state: IntuneState, book: IntuneEBook, version: GraphVersion, expandAssignments = false): Record<string, unknown> {
  const view: Record<string, unknown> = {
    '@odata.type': '#microsoft.graph.iosVppEBook',
    id: book.id,
    displayName: book.displayName,
    description: book.description,
    publisher: book.publisher,
    publishedDateTime: iso(book.publishedDateTime),
    largeCover: book.largeCover === null ? null : { '@odata.type': 'microsoft.graph.mimeContent', type: book.largeCover.type, value: book.largeCover.value },
    createdDateTime: iso(book.createdDateTime),
    lastModifiedDateTime: iso(book.lastModifiedDateTime),
    informationUrl: book.informationUrl,
    privacyInformationUrl: book.privacyInformationUrl,
    vppTokenId: book.vppTokenId,
    appleId: book.appleId,
    vppOrganizationName: book.vppOrganizationName,
    genres: [...book.genres],
    language: book.language,
    seller: book.seller,
    totalLicenseCount: book.totalLicenseCount,
    usedLicenseCount: state.usedLicenseCount(book),
  };
  if (expandAssignments) view.assignments = book.assignments.map((a) => assignmentView(a, version));
  return view;
}

export function installSummaryView(book: IntuneEBook, summary: InstallSummary): Record<string, unknown> {
  return { '@odata.type': '#microsoft.graph.eBookInstallSummary', id: book.id, ...summary };
}

export function deviceStateView(device: DeviceInstallRecord): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.deviceInstallState',
    id: device.id,
    deviceName: device.deviceName,
    deviceId: device.deviceId,
    lastSyncDateTime: iso(device.lastSyncDateTime),
    installState: device.installState,
    errorCode: device.errorCode,
    osVersion: device.osVersion,
    osDescription: device.osDescription,
    userName: device.userName,
  };
}

export function userStateView(summary: UserStateSummary): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.userInstallStateSummary',
    id: summary.id,
    userName: summary.userName,
    installedDeviceCount: summary.installedDeviceCount,
    failedDeviceCount: summary.failedDeviceCount,
    notInstalledDeviceCount: summary.notInstalledDeviceCount,
  };
}

/** `$select`: the named properties, plus `@odata.type` and `id`, which Graph always sends. */
export function project(view: Record<string, unknown>, select: readonly string[] | undefined): Record<string, unknown> {
  if (!select) return view;
  const keep = new Set(['@odata.type', 'id', ...select]);
  return Object.fromEntries(Object.entries(view).filter(([key]) => keep.has(key)));
}
