import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { formatDateTime, intentLabel } from './approvalCards';
import bookStatusTemplate from './bookStatus.json';

const n = (v: number): string => v.toLocaleString('en-GB');

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
    lastError?: string | undefined;
    lastModifiedDateTime: string;
  }>;
}

export function bookStatusCard(view: BookStatusView): AdaptiveCardJson {
  return renderCard(bookStatusTemplate, {
    bookTitle: view.book.title,
    licenseLine: view.book.unlimited
      ? `${view.token.displayName}: a free book with unlimited licenses, ${n(view.book.usedLicenseCount)} in use.`
      : `${view.token.displayName}: ${n(view.book.usedLicenseCount)} of ${n(view.book.totalLicenseCount)} licenses used, ${n(view.book.availableLicenseCount)} available${view.reserved ? `, ${n(view.reserved)} of them reserved by open requests` : ''}.`,
    groups: view.groups.map((g) => ({
      groupName: g.groupName,
      facts: [
        { title: 'Intent', value: intentLabel(g.installIntent) },
        { title: 'Status', value: STATUS_LABEL[g.status] ?? g.status },
        { title: 'Users', value: n(g.counts.processed) },
        { title: 'Installed / assigned', value: n(g.counts.licensed) },
        { title: 'Pending invitation', value: n(g.counts.awaitingInvitation) },
        { title: 'Failed', value: n(g.counts.failed) },
        ...(g.budget
          ? [
              { title: 'Licenses approved / spent / left', value: `${n(g.budget.approved)} / ${n(g.budget.spent)} / ${n(g.budget.left)}` },
              ...(g.budget.leftOut > 0 ? [{ title: 'Left out (approved licenses used up)', value: n(g.budget.leftOut) }] : []),
            ]
          : []),
        { title: 'Updated', value: formatDateTime(g.lastModifiedDateTime) },
      ],
      reasons: [
        ...g.reasons.map((r) => ({ text: `${n(r.count)} × ${r.message} (Apple ${r.code})` })),
        ...(g.lastError ? [{ text: g.lastError }] : []),
      ],
      failedUsers: failedUserLines(g.failedUsers ?? [], g.counts.failed),
    })),
  });
}

/** Each failed user with Apple's reason, the first ten, and how many more there are. */
function failedUserLines(users: ReadonlyArray<{ displayName: string; code: string; reason: string }>, failed: number): Array<{ text: string }> {
  const shown = users.slice(0, 10).map((u) => ({ text: `${u.displayName}: ${u.reason} (Apple ${u.code})` }));
  const more = failed - shown.length;
  return more > 0 && shown.length > 0 ? [...shown, { text: `… and ${n(more)} more` }] : shown;
}
