import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDateTime } from '../services/common/format';
import type { BackendKind } from '../services/backend/ports';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import approvalRequestTemplate from './approvalRequest.json';
import approvalNoticeTemplate from './approvalNotice.json';

/** The fields of a stored approval request the cards show; structurally matches the store's ApprovalRequest. */
export interface ApprovalView {
  id: string;
  /** `topUp`: more licenses for a standing assignment whose approved ones are used up. */
  kind?: 'assignment' | 'topUp' | undefined;
  summary: { bookTitle: string; groupName: string; installIntent: 'required' | 'available'; licensesNeeded: number; headroom?: number | undefined; joined?: number | undefined; asked?: number | undefined };
  state: 'pending' | 'approved' | 'rejected' | 'expired' | 'withdrawn';
  requestedBy: { aadObjectId: string; displayName?: string | undefined };
  requestedDateTime: string;
  decidedBy?: { aadObjectId: string; displayName?: string | undefined } | undefined;
  decidedDateTime?: string | undefined;
  comment?: string | undefined;
  expiresAt: string;
}

export const intentLabel = (intent: 'required' | 'available'): string => (intent === 'required' ? 'Required' : 'Available');
/** A person as card Markdown (escaped). */
const nameOf = (actor: { aadObjectId: string; displayName?: string | undefined }): string => escapeMarkdown(actor.displayName ?? actor.aadObjectId);

/**
 * The request's state in words, led by an emoji: green, yellow and red text are too faint to read in one of
 * Teams' themes (docs/STYLE-GUIDE.md, "Colour"), so the line keeps the default colour.
 */
function stateLabel(request: ApprovalView, backend: BackendKind | undefined): string {
  switch (request.state) {
    case 'pending':
      return `⏳ Waiting for approval (expires ${formatDateTime(request.expiresAt)})`;
    case 'approved':
      return `✅ Approved by ${nameOf(request.decidedBy ?? request.requestedBy)} on ${formatDateTime(request.decidedDateTime ?? request.requestedDateTime)}`;
    case 'rejected':
      return `⛔ Rejected by ${nameOf(request.decidedBy ?? request.requestedBy)} on ${formatDateTime(request.decidedDateTime ?? request.requestedDateTime)}`;
    case 'expired':
      // In Intune mode an undecided top-up counts as refused: the bot takes the groups' assignment off the book.
      return request.kind === 'topUp' && backend === 'intune'
        ? `⌛ Expired on ${formatDateTime(request.expiresAt)} without a decision, so the groups' assignment of the book is removed in Intune`
        : `⌛ Expired on ${formatDateTime(request.expiresAt)} without a decision; nothing was assigned`;
    case 'withdrawn':
      return `↩️ Withdrawn by ${nameOf(request.decidedBy ?? request.requestedBy)} on ${formatDateTime(request.decidedDateTime ?? request.requestedDateTime)}; nothing was assigned`;
  }
}

export interface ApprovalCardOptions {
  /** Show the comment box and the Approve / Reject buttons (for an approver, while pending). */
  actionable: boolean;
  /** Show Withdraw (for the requester, while pending). */
  withdrawable?: boolean | undefined;
  /** Show Resend to approvers (for an admin, while pending). */
  resendable?: boolean | undefined;
  /** Users Teams refreshes the card for (Universal Actions), at most 60; omitted on a refresh answer. */
  refreshUserIds?: readonly string[] | undefined;
  /** One line for the clicker: why nothing changed, say. */
  notice?: string | undefined;
  /** Who spends the licenses (`VPP_BACKEND`): in Intune mode the card says how the budget is kept there. Apple by default. */
  backend?: BackendKind | undefined;
}

/** The approval request as one card whose content follows the request's state (Universal Actions). */
export function approvalCard(request: ApprovalView, options: ApprovalCardOptions): AdaptiveCardJson {
  const topUp = request.kind === 'topUp';
  const bookTitle = escapeMarkdown(request.summary.bookTitle);
  const facts = [
    { title: 'Book', value: bookTitle },
    { title: 'Groups', value: escapeMarkdown(request.summary.groupName) },
    { title: 'Intent', value: intentLabel(request.summary.installIntent) },
    ...(topUp ? [{ title: 'Why', value: topUpReason(request.summary, options.backend) }] : []),
    { title: 'Licenses approved by this', value: topUp ? `${formatCount(request.summary.licensesNeeded)} more` : licensesLine(request.summary) },
    { title: 'Requested by', value: nameOf(request.requestedBy) },
    { title: 'Requested', value: formatDateTime(request.requestedDateTime) },
  ];
  if (request.comment) facts.push({ title: 'Comment', value: escapeMarkdown(request.comment) });
  const card = renderCard(approvalRequestTemplate, {
    title: topUp ? `Approval: ${formatCount(request.summary.licensesNeeded)} more licenses for "${bookTitle}"` : `Approval: assign "${bookTitle}"`,
    stateLabel: stateLabel(request, options.backend),
    facts,
    notice: options.notice ?? '',
    intuneNote: options.backend === 'intune' ? intuneBudgetNote(request) : '',
    actionable: options.actionable && request.state === 'pending',
    withdrawable: options.withdrawable === true && request.state === 'pending',
    resendable: options.resendable === true && request.state === 'pending',
    approvalId: request.id,
  });
  const userIds = options.refreshUserIds?.slice(0, 60) ?? [];
  if (request.state === 'pending' && userIds.length > 0) {
    card.refresh = { action: { type: 'Action.Execute', title: 'Refresh', verb: 'refresh', data: { approvalId: request.id } }, userIds };
  }
  return card;
}

/**
 * How the budget is kept in Intune mode, said plainly: Intune licenses whoever joins the groups by itself, so the
 * bot can only watch, ask for more, and take the groups off the book when that is refused.
 */
function intuneBudgetNote(request: ApprovalView): string {
  if (request.kind === 'topUp') {
    // An undecided top-up counts as refused: Intune would go on licensing newcomers without anyone's approval.
    const hours = Math.max(1, Math.round((Date.parse(request.expiresAt) - Date.parse(request.requestedDateTime)) / 3_600_000));
    return (
      'Intune licenses new members of these groups by itself, so these licenses may be spent already. If this is rejected, the bot removes the groups\' assignment of the book in Intune so no more licenses are spent (licenses already spent stay). ' +
      `If nobody decides within ${formatCount(hours)} ${hours === 1 ? 'hour' : 'hours'}, the groups' assignment is removed from the book in Intune.`
    );
  }
  const approved = formatCount(request.summary.licensesNeeded + (request.summary.headroom ?? 0));
  return `Intune licenses new members of these groups by itself. When the groups outgrow the ${approved} approved licenses, approvers are asked for more; if that is rejected, the bot removes the groups' assignment in Intune so no more licenses are spent (licenses already spent stay).`;
}

/** "12 more people joined 'Year 9 Form 9A' …": why a top-up is asked for, as chat Markdown (the group name escaped). */
export function topUpReason(summary: { groupName: string; licensesNeeded: number; joined?: number | undefined; asked?: number | undefined }, backend: BackendKind = 'apple'): string {
  const groupName = escapeMarkdown(summary.groupName);
  if (summary.asked !== undefined) {
    const who = `${formatCount(summary.asked)} ${summary.asked === 1 ? 'member' : 'members'} of ${groupName}`;
    return `${who} asked for the book (my books), and the licenses approved for it are used up. Approve ${formatCount(summary.licensesNeeded)} more licenses? They get it once approved.`;
  }
  const people = summary.joined ?? summary.licensesNeeded;
  const joined = `${formatCount(people)} more ${people === 1 ? 'person' : 'people'} joined ${groupName} since the book was assigned`;
  // Intune licensed them as they joined: the question is whether the assignment may keep spending.
  if (backend === 'intune') return `${joined}, beyond the licenses approved for it. Approve ${formatCount(summary.licensesNeeded)} more licenses, so the assignment stays in Intune?`;
  return `${joined}, and the licenses approved for it are used up. Approve ${formatCount(summary.licensesNeeded)} more licenses? Nobody gets one until then.`;
}

/** "70 (60 needed + 10 for newcomers)": what an approval approves, spelled out. */
function licensesLine(summary: { licensesNeeded: number; headroom?: number | undefined }): string {
  const needed = formatCount(summary.licensesNeeded);
  if (!summary.headroom) return needed;
  return `${formatCount(summary.licensesNeeded + summary.headroom)} (${needed} needed + ${formatCount(summary.headroom)} for newcomers)`;
}

/** A one-line card, the answer to a click that cannot be acted on (unknown or forged request); `text` is chat Markdown. */
export function approvalNoticeCard(text: string): AdaptiveCardJson {
  return renderCard(approvalNoticeTemplate, { text });
}
