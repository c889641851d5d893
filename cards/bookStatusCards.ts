import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { formatDateTime, intentLabel } from './approvalCards';
import bookStatusTemplate from './bookStatus.json';

const n = (v: number): string => v.toLocaleString('en-GB');

const STATUS_LABEL: Record<string, string> = {
  pendingApproval: 'Waiting for approval',
  rejected: 'Rejected or expired',
  approved: 'Approved, starting',
  inProgress: 'In progress',
  completed: 'Completed',
  partiallyCompleted: 'Completed with failures',
  failed: 'Failed',
};

/** Structurally matches services/assignments' BookStatus. */
export interface BookStatusView {
  book: { title: string; totalLicenseCount: number; usedLicenseCount: number; availableLicenseCount: number };
  token: { displayName: string };
  groups: ReadonlyArray<{
    groupName: string;
    installIntent: 'required' | 'available';
    status: string;
    counts: { processed: number; licensed: number; awaitingInvitation: number; failed: number };
    reasons: ReadonlyArray<{ code: string; message: string; count: number }>;
    lastError?: string | undefined;
    lastModifiedDateTime: string;
  }>;
}

export function bookStatusCard(view: BookStatusView): AdaptiveCardJson {
  return renderCard(bookStatusTemplate, {
    bookTitle: view.book.title,
    licenseLine: `${view.token.displayName}: ${n(view.book.usedLicenseCount)} of ${n(view.book.totalLicenseCount)} licenses used, ${n(view.book.availableLicenseCount)} available.`,
    groups: view.groups.map((g) => ({
      groupName: g.groupName,
      facts: [
        { title: 'Intent', value: intentLabel(g.installIntent) },
        { title: 'Status', value: STATUS_LABEL[g.status] ?? g.status },
        { title: 'Users', value: n(g.counts.processed) },
        { title: 'Installed / assigned', value: n(g.counts.licensed) },
        { title: 'Pending invitation', value: n(g.counts.awaitingInvitation) },
        { title: 'Failed', value: n(g.counts.failed) },
        { title: 'Updated', value: formatDateTime(g.lastModifiedDateTime) },
      ],
      reasons: [
        ...g.reasons.map((r) => ({ text: `${n(r.count)} × ${r.message} (Apple ${r.code})` })),
        ...(g.lastError ? [{ text: g.lastError }] : []),
      ],
    })),
  });
}
