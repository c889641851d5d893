import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDateTime } from '../services/common/format';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { intentLabel } from './approvalCards';
import { budgetGauge, licenseDonut, MAX_CHARTED_ENTRIES, percent, type DonutChartData } from './charts';
import bookStatusTemplate from './bookStatus.json';

const STATUS_LABEL: Record<string, string> = {
  pendingApproval: 'Waiting for approval',
  rejected: 'Rejected or expired',
  approved: 'Approved, starting',
  inProgress: 'In progress',
  completed: 'Completed',
  partiallyCompleted: 'Completed with failures',
  failed: 'Failed',
};

/** Structurally matches services/assignments' IntuneBookState. */
interface IntuneStateView {
  assignments: ReadonlyArray<{
    target:
      | { kind: 'group' | 'excludedGroup'; groupId: string; groupName?: string | undefined }
      | { kind: 'allUsers' | 'allDevices' }
      | { kind: 'other'; type: string };
    installIntent: 'available' | 'required' | 'uninstall' | 'availableWithoutEnrollment';
    byBot: boolean;
  }>;
  missing: readonly string[];
  summary?:
    | { installedDeviceCount: number; failedDeviceCount: number; notInstalledDeviceCount: number; installedUserCount: number; failedUserCount: number; notInstalledUserCount: number }
    | undefined;
  failedDevices: ReadonlyArray<{ deviceName: string; userName?: string | undefined; errorCode?: string | undefined }>;
  failedDeviceCount: number;
  devicesRead: number;
  complete: boolean;
  problems: readonly string[];
}

/** Structurally matches services/assignments' BookStatus. */
export interface BookStatusView {
  book: { title: string; totalLicenseCount: number; usedLicenseCount: number; availableLicenseCount: number; unlimited?: boolean | undefined };
  token: { displayName: string };
  reserved?: number | undefined;
  groups: ReadonlyArray<{
    groupName: string;
    installIntent: 'required' | 'available';
    status: string;
    counts: { processed: number; licensed: number; awaitingInvitation: number; failed: number };
    reasons: ReadonlyArray<{ code: string; message: string; count: number }>;
    failedUsers?: ReadonlyArray<{ displayName: string; code: string; reason: string }> | undefined;
    budget?: { approved: number; spent: number; left: number; leftOut: number } | undefined;
    members?: number | undefined;
    intent?:
      | { kind: 'required'; licensed: number; invitedNotJoined: number; licensedAfterJoining: number }
      | { kind: 'available'; offered: number; gotIt: number }
      | undefined;
    standing?:
      | {
          joined: number;
          waiting: number;
          left: number;
          leftNames: readonly string[];
          topUp?: { count: number; state: 'pending' | 'approved' | 'declined' } | undefined;
          problem?: string | undefined;
          lastReconciledDateTime?: string | undefined;
        }
      | undefined;
    lastError?: string | undefined;
    withdrawnFromIntune?: string | undefined;
    lastModifiedDateTime: string;
  }>;
  /** Intune mode: the book's assignments and install state in Intune. */
  intune?: IntuneStateView | undefined;
}

/**
 * Names and titles are escaped here; reasons, errors and problems are the services' own chat text. In
 * Intune mode the card adds Intune's install state, and each group shows what the bot asked for (intent,
 * status, budget), not Apple's per-user counts: Intune licenses and installs, and reports per device.
 */
export function bookStatusCard(view: BookStatusView): AdaptiveCardJson {
  const tokenName = escapeMarkdown(view.token.displayName);
  const charted = view.groups.length <= MAX_CHARTED_ENTRIES;
  const intune = view.intune;
  const source = intune ? 'Intune' : 'Apple';
  return renderCard(bookStatusTemplate, {
    bookTitle: escapeMarkdown(view.book.title),
    licenseLine: view.book.unlimited
      ? `${tokenName}: a free book with unlimited licenses, ${formatCount(view.book.usedLicenseCount)} in use.`
      : `${tokenName}: ${formatCount(view.book.usedLicenseCount)} of ${formatCount(view.book.totalLicenseCount)} licenses used, ${formatCount(view.book.availableLicenseCount)} available${view.reserved ? `, ${formatCount(view.reserved)} of them held for requests and approved assignments` : ''}.`,
    // A free book has no whole to show a share of.
    licenseChart: view.book.unlimited ? { show: false } : licenseDonut({ used: view.book.usedLicenseCount, available: view.book.availableLicenseCount, reserved: view.reserved }),
    intune: intune ? intuneSection(intune) : { show: false },
    groupsHeading: intune && view.groups.length > 0 ? 'Assigned through me' : '',
    noGroupsText: intune ? 'I have not assigned this book to any group. Type **assign** to assign it.' : 'This book is not assigned to any group yet. Type **assign** to assign it.',
    groups: view.groups.map((g) => ({
      groupName: escapeMarkdown(g.groupName),
      budgetChart: charted && g.budget ? budgetGauge(g.budget.spent, g.budget.approved) : { show: false },
      facts: [
        { title: 'Intent', value: intentLabel(g.installIntent) },
        { title: 'Status', value: g.status === 'paused' ? `Paused: ${source} is not answering (resumes by itself)` : (STATUS_LABEL[g.status] ?? g.status) },
        ...(g.members === undefined ? [] : [{ title: 'Members now', value: formatCount(g.members) }]),
        ...(intune
          ? []
          : [{ title: 'Users', value: formatCount(g.counts.processed) }, ...intentFacts(g), { title: 'Failed', value: formatCount(g.counts.failed) }]),
        ...(g.budget
          ? [
              { title: 'Licenses approved / spent / left', value: `${formatCount(g.budget.approved)} / ${formatCount(g.budget.spent)} / ${formatCount(g.budget.left)}` },
              ...(g.budget.leftOut > 0 ? [{ title: 'Left out (approved licenses used up)', value: formatCount(g.budget.leftOut) }] : []),
            ]
          : []),
        ...standingFacts(g.standing, intune !== undefined),
        ...(g.withdrawnFromIntune
          ? [{ title: 'Taken off in Intune', value: `${formatDateTime(g.withdrawnFromIntune)}: its top-up was refused, so Intune licenses no newcomers (licenses already spent stay)` }]
          : []),
        { title: 'Updated', value: formatDateTime(g.lastModifiedDateTime) },
      ],
      reasons: [
        ...g.reasons.map((r) => ({ text: `${formatCount(r.count)} × ${r.message} (${source} ${r.code})` })),
        ...(g.lastError ? [{ text: g.lastError }] : []),
        ...(g.standing?.problem ? [{ text: g.standing.problem }] : []),
      ],
      failedUsers: failedUserLines(g.failedUsers ?? [], g.counts.failed),
    })),
  });
}

const INTUNE_INTENT: Record<IntuneStateView['assignments'][number]['installIntent'], string> = {
  required: 'Required',
  available: 'Available',
  uninstall: 'Uninstall',
  availableWithoutEnrollment: 'Available without enrollment',
};

/** Intune's part: problems reading it, the devices as a donut, users in words, its assignments, and the failed devices. */
function intuneSection(intune: IntuneStateView): Record<string, unknown> {
  const deviceChart = intune.summary ? installDonut(intune.summary) : { show: false, data: [], text: '' };
  return {
    show: true,
    problems: intune.problems.map((text) => ({ text: `⚠️ ${text}` })),
    deviceChart,
    // With nothing to draw the numbers stand alone ("0 installed …" says no device reported yet).
    devicesText: intune.summary && !deviceChart.show ? deviceChart.text : '',
    usersLine: intune.summary
      ? `Users: ${formatCount(intune.summary.installedUserCount)} with it on all their devices, ${formatCount(intune.summary.failedUserCount)} with a failed device, ${formatCount(intune.summary.notInstalledUserCount)} not installed.`
      : '',
    assignments: intune.assignments.map((a) => ({ text: `${targetName(a.target)}: ${INTUNE_INTENT[a.installIntent]}${a.byBot ? '' : ' (made in Intune, not through me)'}` })),
    noAssignments: intune.assignments.length === 0 && intune.problems.length === 0,
    missingLine: intune.missing.length > 0 ? `⚠️ Assigned through me but not in Intune any more: ${intune.missing.map(escapeMarkdown).join(', ')}.` : '',
    ...failedDeviceLines(intune),
  };
}

/** A book's devices in Intune as a donut: installed, failed, not installed; the same numbers in words. */
function installDonut(summary: NonNullable<IntuneStateView['summary']>): DonutChartData {
  const installed = summary.installedDeviceCount;
  const failed = summary.failedDeviceCount;
  const notInstalled = summary.notInstalledDeviceCount;
  const total = installed + failed + notInstalled;
  const data: DonutChartData['data'] = [
    { legend: 'Installed', value: installed, color: 'categoricalBlue' },
    { legend: 'Failed', value: failed, color: 'attention' },
    { legend: 'Not installed', value: notInstalled, color: 'neutral' },
  ];
  return {
    show: total > 0,
    // A part with nothing in it gets no legend entry.
    data: data.filter((d) => d.value > 0),
    text: `Devices: ${formatCount(installed)} of ${formatCount(total)} installed (${percent(installed, total)}), ${formatCount(failed)} failed, ${formatCount(notInstalled)} not installed.`,
  };
}

function targetName(target: IntuneStateView['assignments'][number]['target']): string {
  switch (target.kind) {
    case 'group':
      return target.groupName ? escapeMarkdown(target.groupName) : `Group ${target.groupId}`;
    case 'excludedGroup':
      return `Excluded: ${target.groupName ? escapeMarkdown(target.groupName) : `group ${target.groupId}`}`;
    case 'allUsers':
      return 'All users';
    case 'allDevices':
      return 'All devices';
    case 'other':
      return `Another kind of target (${escapeMarkdown(target.type)})`;
  }
}

/**
 * The first failed devices by name, user and Intune's error code, and how many more. When the read stopped
 * before the end, the heading says which devices were read and Intune's summary gives the total.
 */
function failedDeviceLines(intune: IntuneStateView): { failedHeading: string; failedDevices: Array<{ text: string }> } {
  const total = intune.complete ? intune.failedDeviceCount : Math.max(intune.failedDeviceCount, intune.summary?.failedDeviceCount ?? 0);
  if (total === 0) return { failedHeading: '', failedDevices: [] };
  const read = formatCount(intune.devicesRead);
  const shown = intune.failedDevices.map((d) => {
    const device = d.deviceName ? escapeMarkdown(d.deviceName) : 'A device without a name';
    const user = d.userName ? ` (${escapeMarkdown(d.userName)})` : '';
    return { text: `${device}${user}: ${d.errorCode ? `error ${escapeMarkdown(d.errorCode)}` : 'no error code given'}` };
  });
  if (shown.length === 0) {
    return { failedHeading: 'Failed devices', failedDevices: [{ text: `Intune counts ${formatCount(total)} failed devices, none of them among the first ${read} devices it listed.` }] };
  }
  const more = total - shown.length;
  return {
    failedHeading: intune.complete ? 'Failed devices' : `Failed devices, from the first ${read} devices Intune listed`,
    failedDevices: more > 0 ? [...shown, { text: `… and ${formatCount(more)} more` }] : shown,
  };
}

/** Required: licensed, invited and not joined yet, licensed after joining. Available: offered, got it. */
function intentFacts(g: BookStatusView['groups'][number]): Array<{ title: string; value: string }> {
  const intent = g.intent;
  if (intent?.kind === 'available') {
    return [
      { title: 'Told it is available to them', value: formatCount(intent.offered) },
      { title: 'Got it (licenses spent)', value: formatCount(intent.gotIt) },
    ];
  }
  if (intent?.kind === 'required') {
    return [
      { title: 'Licensed', value: formatCount(intent.licensed) },
      { title: 'Invited, not joined yet (no license yet)', value: formatCount(intent.invitedNotJoined) },
      { title: 'Of the licensed: after joining', value: formatCount(intent.licensedAfterJoining) },
    ];
  }
  return [
    { title: 'Installed / assigned', value: formatCount(g.counts.licensed) },
    { title: 'Pending invitation', value: formatCount(g.counts.awaitingInvitation) },
  ];
}

const TOP_UP_STATE = { pending: 'waiting for approval', approved: 'approved, being handed out', declined: 'refused or expired (asked again only if the number changes)' } as const;

/** Intune licenses newcomers by itself: approved, it goes on; refused or expired, the group comes off the book in Intune. */
const INTUNE_TOP_UP_STATE: Record<keyof typeof TOP_UP_STATE, string> = {
  pending: 'waiting for approval',
  approved: 'approved: Intune goes on licensing newcomers up to the new budget',
  declined: 'refused or expired: the group is taken off the book in Intune, so Intune licenses no newcomers (licenses already spent stay)',
};

/** A standing assignment's newcomers: joined since, waiting for a top-up, and who left (their licenses stay). */
function standingFacts(standing: NonNullable<BookStatusView['groups'][number]['standing']> | undefined, intune: boolean): Array<{ title: string; value: string }> {
  if (!standing) return [];
  const facts = [{ title: 'Joined since the assignment', value: formatCount(standing.joined) }];
  if (standing.waiting > 0) facts.push({ title: 'Waiting for a top-up approval', value: formatCount(standing.waiting) });
  if (standing.topUp) facts.push({ title: 'Top-up asked for', value: `${formatCount(standing.topUp.count)} licenses, ${(intune ? INTUNE_TOP_UP_STATE : TOP_UP_STATE)[standing.topUp.state]}` });
  if (standing.left > 0) {
    const names = standing.leftNames.slice(0, 5).map(escapeMarkdown).join(', ');
    facts.push({ title: 'Left the group (keep their licenses)', value: names ? `${formatCount(standing.left)}: ${names}${standing.left > 5 ? ', …' : ''}` : formatCount(standing.left) });
  }
  if (standing.lastReconciledDateTime) facts.push({ title: 'Checked for newcomers', value: formatDateTime(standing.lastReconciledDateTime) });
  return facts;
}

/** Each failed user with Apple's reason, the first ten, and how many more there are. */
function failedUserLines(users: ReadonlyArray<{ displayName: string; code: string; reason: string }>, failed: number): Array<{ text: string }> {
  const shown = users.slice(0, 10).map((u) => ({ text: `${escapeMarkdown(u.displayName)}: ${u.reason} (Apple ${u.code})` }));
  const more = failed - shown.length;
  return more > 0 && shown.length > 0 ? [...shown, { text: `… and ${formatCount(more)} more` }] : shown;
}
