import { escapeMarkdown, markdownLink } from '../services/common/chatText';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { intentLabel } from './approvalCards';
import assignPreviewTemplate from './assignPreview.json';
import assignResultTemplate from './assignResult.json';
import choiceQuestionTemplate from './choiceQuestion.json';
import { APPLE_PORTALS } from '../services/common/appleTerms';
import type { BackendKind } from '../services/backend/ports';

const n = (v: number): string => v.toLocaleString('en-GB');

/** The numbers the preview shows; structurally matches services/assignments' AssignmentPreview. */
export interface AssignPreviewView {
  book: { title: string };
  installIntent: 'required' | 'available';
  groups: ReadonlyArray<{ groupName: string; userCount: number; deviceCount: number }>;
  distinctUsers: number;
  alreadyAssigned: number;
  needInvitation: number;
  licensesNeeded: number;
  licensesAvailable: number;
  licensesReserved?: number | undefined;
  unlimited?: boolean | undefined;
  enough: boolean;
}

/** What the intent gives the members, in the preview's words: Apple mode licenses them itself, Intune mode hands them to Intune. */
function intentFacts(preview: AssignPreviewView, backend: BackendKind): Array<{ title: string; value: string }> {
  if (backend === 'intune') {
    return preview.installIntent === 'required'
      ? [{ title: 'Licensed by Intune and installed on their managed devices', value: n(preview.licensesNeeded) }]
      : [{ title: 'Offered in Company Portal (licensed when they install it)', value: n(preview.licensesNeeded) }];
  }
  return preview.installIntent === 'required'
    ? [
        { title: 'Licensed now', value: n(Math.max(0, preview.licensesNeeded - preview.needInvitation)) },
        { title: 'Licensed after they join (invited in Teams)', value: n(Math.min(preview.needInvitation, preview.licensesNeeded)) },
      ]
    : [{ title: 'Told it is available (licensed when they ask)', value: n(preview.licensesNeeded) }];
}

/**
 * `notes` are chat Markdown (names in them escaped by the caller); choice titles are plain button text.
 * `backend`: who delivers (VPP_BACKEND), which decides what the intents are said to do. Default apple.
 */
export function assignPreviewCard(
  preview: AssignPreviewView,
  options: { ref: string; notes: readonly string[]; choices: ReadonlyArray<{ title: string; value: string }>; backend?: BackendKind | undefined },
): AdaptiveCardJson {
  const backend = options.backend ?? 'apple';
  const facts = [
    ...preview.groups.map((g) => ({ title: escapeMarkdown(g.groupName), value: `${n(g.userCount)} user${g.userCount === 1 ? '' : 's'}${g.deviceCount > 0 ? ` (${n(g.deviceCount)} devices skipped)` : ''}` })),
    { title: 'Users in all', value: n(preview.distinctUsers) },
    { title: 'Already have the book', value: n(preview.alreadyAssigned) },
    ...intentFacts(preview, backend),
    { title: preview.installIntent === 'required' ? 'Licenses needed' : 'Licenses approved for them (at most)', value: n(preview.licensesNeeded) },
    { title: 'Licenses available', value: preview.unlimited ? 'Unlimited (free book)' : n(preview.licensesAvailable) },
    ...(preview.licensesReserved ? [{ title: 'Reserved by other requests', value: n(preview.licensesReserved) }] : []),
  ];
  const intune = backend === 'intune';
  // Intune assigns whole groups: there is no "the first N users" to offer.
  const shortage = preview.enough
    ? ''
    : intune
      ? `Not enough licenses: ${n(preview.licensesNeeded)} needed, ${n(preview.licensesAvailable)} available. Buy more in ${APPLE_PORTALS}, or pick fewer or smaller groups.`
      : `Not enough licenses: ${n(preview.licensesNeeded)} needed, ${n(preview.licensesAvailable)} available. Buy more in ${APPLE_PORTALS}, pick fewer groups, or assign to the first ${n(preview.licensesAvailable)} users only.`;
  return renderCard(assignPreviewTemplate, {
    ref: options.ref,
    bookTitle: escapeMarkdown(preview.book.title),
    intentLabel: intentLabel(preview.installIntent),
    facts,
    notes: options.notes.map((text) => ({ text })),
    shortage,
    irrevocable: intune
      ? 'Book licenses cannot be reclaimed: once Intune assigns this book to a user, the license is theirs for good, even if the assignment is removed later. Devices need the built-in Books app.'
      : 'Book licenses cannot be reclaimed: once Apple assigns this book to a user, the license is theirs for good. Devices need the built-in Books app.',
    approvalNote: intune ? 'An approver must approve the request before anything is assigned in Intune.' : 'An approver must approve the request before anything is assigned.',
    choices: options.choices,
  });
}

/** Structurally matches services/assignments' AssignmentOutcome. */
export interface AssignResultView {
  runId: string;
  tokenId: string;
  bookTitle: string;
  installIntent: 'required' | 'available';
  state: 'completed' | 'failed' | 'interrupted';
  totals: { processed: number; licensed: number; awaitingInvitation: number; failed: number; offered?: number | undefined };
  groups: ReadonlyArray<{ groupName: string; counts: { processed: number } }>;
  failureReasons: ReadonlyArray<{ code: string; message: string; count: number }>;
  failedUsers: ReadonlyArray<{ displayName: string; reason: string }>;
  invitedUsers: ReadonlyArray<{ displayName: string; invitationUrl?: string | undefined }>;
  budget?: number | undefined;
  overBudget?: number | undefined;
  error?: string | undefined;
  /** A reconciliation pass: the people who joined the groups since got the book. */
  pass?: number | undefined;
}

/** The result of a delivered assignment: assigned, pending invitation, failed with reasons. */
export function assignResultCard(result: AssignResultView, backend: BackendKind): AdaptiveCardJson {
  const bookTitle = escapeMarkdown(result.bookTitle);
  const intune = backend === 'intune';
  const title =
    result.state === 'completed' && result.pass
      ? `People who joined since got "${bookTitle}" (${intentLabel(result.installIntent)})`
      : result.state === 'completed'
      ? `Assigned "${bookTitle}" (${intentLabel(result.installIntent)})`
      : result.state === 'interrupted'
        ? `Assigning "${bookTitle}" paused`
        : `Assigning "${bookTitle}" stopped`;
  return renderCard(assignResultTemplate, {
    title,
    resumable: result.state === 'interrupted',
    runId: result.runId,
    tokenId: result.tokenId,
    facts: [
      { title: 'Groups', value: result.groups.map((g) => escapeMarkdown(g.groupName)).join(', ') },
      { title: 'Users', value: n(result.totals.processed) },
      ...(intune
        ? [{ title: 'Members handed to Intune', value: n(result.totals.licensed) }]
        : result.installIntent === 'available'
        ? [
            { title: 'Told it is available to them', value: n(result.totals.offered ?? 0) },
            { title: 'Have it already', value: n(result.totals.licensed) },
          ]
        : [
            { title: 'Licensed now', value: n(result.totals.licensed) },
            { title: 'Invited: licensed once they join', value: n(result.totals.awaitingInvitation) },
          ]),
      { title: 'Failed', value: n(result.totals.failed) },
      ...(result.overBudget ? [{ title: 'Left out: approved licenses used up', value: `${n(result.overBudget)} (${n(result.budget ?? 0)} approved)` }] : []),
    ],
    // Errors and Apple's reasons are the bot's own chat text; people's names are escaped here.
    error: result.error ?? '',
    footer: intune
      ? result.installIntent === 'available'
        ? `Intune offers it in Company Portal and licenses each member who installs it. Type **status ${bookTitle}** to see who did. Book licenses cannot be reclaimed.`
        : `Intune licenses the members and installs it on their managed iPads and iPhones by itself. Type **status ${bookTitle}** to follow the installs. Book licenses cannot be reclaimed.`
      : "The book appears in the built-in Books app on the user's devices. Book licenses cannot be reclaimed.",
    reasons: result.failureReasons.map((r) => ({ text: `${n(r.count)} × ${r.message} (${intune ? 'Intune' : 'Apple'} ${r.code})` })),
    failedUsers: result.failedUsers.slice(0, 10).map((u) => ({ text: `${escapeMarkdown(u.displayName)}: ${u.reason}` })),
    invitedUsers: result.invitedUsers.slice(0, 10).map((u) => ({ text: u.invitationUrl ? `${escapeMarkdown(u.displayName)}: ${markdownLink('invitation link', u.invitationUrl)}` : escapeMarkdown(u.displayName) })),
  });
}

/** "Assigned 2,000 of 5,000 users of …" */
export function assignProgressText(update: { bookTitle: string; processed: number; total: number; totals: { licensed: number; awaitingInvitation: number; failed: number } }): string {
  return `Assigning "${escapeMarkdown(update.bookTitle)}": ${n(update.processed)} of ${n(update.total)} users done (${n(update.totals.licensed)} assigned, ${n(update.totals.awaitingInvitation)} pending invitation, ${n(update.totals.failed)} failed).`;
}

/** A typeahead box: the dataset the bot's `application/search` answers, and the plain-text words around it. */
export interface TypeaheadQuestionData {
  ref: string;
  dataset: string;
  label: string;
  placeholder: string;
  /** The submit button's title. */
  button: string;
  /** Shown by the client when the button is pressed with nothing picked. */
  error: string;
}

/**
 * A search box whose choices the bot finds as the admin types (Teams' typeahead search). The question
 * itself is the message's text, which also tells how to answer by typing where a client has no typeahead.
 */
export function typeaheadQuestionCard(data: TypeaheadQuestionData): AdaptiveCardJson {
  return renderCard(choiceQuestionTemplate, {
    ref: data.ref,
    question: '',
    hint: '',
    choices: [],
    search: data.dataset,
    searchLabel: data.label,
    searchPlaceholder: data.placeholder,
    searchButton: data.button,
    searchError: data.error,
    answer: '',
  });
}

/**
 * What a question card becomes once answered: the question and the answer, no buttons, so an old copy
 * cannot be answered again. Both are chat Markdown (the caller escapes names in them).
 */
export function answeredQuestionCard(data: { question: string; answer: string }): AdaptiveCardJson {
  return renderCard(choiceQuestionTemplate, { ref: '', question: data.question, hint: '', choices: [], search: '', answer: data.answer });
}
