import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDateTime } from '../services/common/format';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { intentLabel } from './approvalCards';
import { budgetGauge, licenseDonut, MAX_CHARTED_ENTRIES } from './charts';
import bookStatusTemplate from './bookStatus.json';

const STATUS_LABEL: Record<string, string> = {
  pendingApproval: 'Waiting for approval',
  rejected: 'Rejected or expired',
  approved: 'Approved, starting',
  inProgress: 'In progress',
  paused: 'Paused: Apple is not answering (resumes by itself)',
  completed: 'Completed',
  partiallyCompleted: 'Completed with failures',
  failed: 'Failed',
};

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
    lastModifiedDateTime: string;
  }>;
}

/** Names and titles are escaped here; reasons, errors and problems are the services' own chat text. */
export function bookStatusCard(view: BookStatusView): AdaptiveCardJson {
  const tokenName = escapeMarkdown(view.token.displayName);
  const charted = view.groups.length <= MAX_CHARTED_ENTRIES;
  return renderCard(bookStatusTemplate, {
    bookTitle: escapeMarkdown(view.book.title),
    licenseLine: view.book.unlimited
      ? `${tokenName}: a free book with unlimited licenses, ${formatCount(view.book.usedLicenseCount)} in use.`
      : `${tokenName}: ${formatCount(view.book.usedLicenseCount)} of ${formatCount(view.book.totalLicenseCount)} licenses used, ${formatCount(view.book.availableLicenseCount)} available${view.reserved ? `, ${formatCount(view.reserved)} of them held for requests and approved assignments` : ''}.`,
    // A free book has no whole to show a share of.
    licenseChart: view.book.unlimited ? { show: false } : licenseDonut({ used: view.book.usedLicenseCount, available: view.book.availableLicenseCount, reserved: view.reserved }),
    groups: view.groups.map((g) => ({
      groupName: escapeMarkdown(g.groupName),
      budgetChart: charted && g.budget ? budgetGauge(g.budget.spent, g.budget.approved) : { show: false },
      facts: [
        { title: 'Intent', value: intentLabel(g.installIntent) },
        { title: 'Status', value: STATUS_LABEL[g.status] ?? g.status },
        ...(g.members === undefined ? [] : [{ title: 'Members now', value: formatCount(g.members) }]),
        { title: 'Users', value: formatCount(g.counts.processed) },
        ...intentFacts(g),
        { title: 'Failed', value: formatCount(g.counts.failed) },
        ...(g.budget
          ? [
              { title: 'Licenses approved / spent / left', value: `${formatCount(g.budget.approved)} / ${formatCount(g.budget.spent)} / ${formatCount(g.budget.left)}` },
              ...(g.budget.leftOut > 0 ? [{ title: 'Left out (approved licenses used up)', value: formatCount(g.budget.leftOut) }] : []),
            ]
          : []),
        ...standingFacts(g.standing),
        { title: 'Updated', value: formatDateTime(g.lastModifiedDateTime) },
      ],
      reasons: [
        ...g.reasons.map((r) => ({ text: `${formatCount(r.count)} × ${r.message} (Apple ${r.code})` })),
        ...(g.lastError ? [{ text: g.lastError }] : []),
        ...(g.standing?.problem ? [{ text: g.standing.problem }] : []),
      ],
      failedUsers: failedUserLines(g.failedUsers ?? [], g.counts.failed),
    })),
  });
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

/** A standing assignment's newcomers: joined since, waiting for a top-up, and who left (their licenses stay). */
function standingFacts(standing: NonNullable<BookStatusView['groups'][number]['standing']>| undefined): Array<{ title: string; value: string }> {
  if (!standing) return [];
  const facts = [{ title: 'Joined since the assignment', value: formatCount(standing.joined) }];
  if (standing.waiting > 0) facts.push({ title: 'Waiting for a top-up approval', value: formatCount(standing.waiting) });
  if (standing.topUp) facts.push({ title: 'Top-up asked for', value: `${formatCount(standing.topUp.count)} licenses, ${TOP_UP_STATE[standing.topUp.state]}` });
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
