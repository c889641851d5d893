import { APPLE_PORTALS, WHERE_TOKENS_ARE_DOWNLOADED } from '../services/common/appleTerms';
import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDate } from '../services/common/format';
import type { NoticeMessages, SyncResultView } from '../services/notifications/noticeMessages';
import type { NotificationMessage } from '../services/notifications/ProactiveSender';
import type { VppToken } from '../services/store/entities/vppToken';
import type { LowLicenseBook } from '../services/sync/types';
import { notificationCard, syncResultCard, type CardAction, type Fact } from './syncCards';

const RENEW_STEPS = `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}, then type **renew** followed by the token name.`;

function actions(token: VppToken, ...list: Array<'renew' | 'sync' | 'status'>): CardAction[] {
  const titles = { renew: 'Renew token', sync: 'Sync now', status: 'Token status' } as const;
  return list.map((command) => ({ title: titles[command], command, tokenId: token.id }));
}

/**
 * Every text here is chat Markdown, in the card and as the message text: names from Apple (token, organisation,
 * MDM, book titles) are escaped where they are put in; reasons and errors are the bot's own text. Titles say
 * the state with an emoji, never a text colour (docs/STYLE-GUIDE.md, "Colour").
 */
function facts(token: VppToken) {
  return [
    { title: 'Token', value: escapeMarkdown(token.displayName) },
    { title: 'Organisation', value: escapeMarkdown(token.organizationName) },
    { title: 'Expires', value: formatDate(token.expirationDateTime) },
  ];
}

function expiringMessage(token: VppToken, daysLeft: number): NotificationMessage {
  const when = daysLeft <= 0 ? 'today' : daysLeft === 1 ? 'tomorrow' : `in ${formatCount(daysLeft)} days`;
  const text = `The VPP token "${escapeMarkdown(token.displayName)}" expires ${when} (${formatDate(token.expirationDateTime)}). After that I can no longer sync or assign its books.`;
  return {
    text,
    card: notificationCard({ title: `${daysLeft <= 7 ? '⚠️' : '⏳'} VPP token expires ${when}`, text, facts: facts(token), nextStep: RENEW_STEPS, actions: actions(token, 'renew') }),
  };
}

function expiredMessage(token: VppToken): NotificationMessage {
  const text = `The VPP token "${escapeMarkdown(token.displayName)}" expired on ${formatDate(token.expirationDateTime)}. Syncs and assignments for it have stopped; licenses already assigned stay with their users.`;
  return { text, card: notificationCard({ title: '⌛ VPP token expired', text, facts: facts(token), nextStep: RENEW_STEPS, actions: actions(token, 'renew') }) };
}

function syncFailedMessage(token: VppToken, escalation: boolean): NotificationMessage {
  const reason = token.lastError?.message ?? 'Apple gave no reason.';
  const failures = token.consecutiveSyncFailures;
  const text = escalation
    ? `The last ${formatCount(failures)} syncs of "${escapeMarkdown(token.displayName)}" failed in a row, so the license counts I show are getting out of date. Apple's reason: ${reason}`
    : `The sync of "${escapeMarkdown(token.displayName)}" failed. ${reason}`;
  const tokenProblem = token.state !== 'valid';
  return {
    text,
    card: notificationCard({
      title: escalation ? `⚠️ Sync keeps failing (${formatCount(failures)} times in a row)` : '⚠️ VPP sync failed',
      text,
      facts: [...facts(token), { title: 'Error', value: token.lastError?.code ?? 'unknown' }, { title: 'Failures in a row', value: formatCount(failures) }],
      nextStep: tokenProblem ? RENEW_STEPS : 'I try again at the next scheduled sync. To try now, press **Sync now**.',
      actions: tokenProblem ? actions(token, 'renew', 'status') : actions(token, 'sync', 'status'),
    }),
  };
}

function externalMdmMessage(token: VppToken): NotificationMessage {
  const other = token.externalMdm?.name ? escapeMarkdown(token.externalMdm.name) : 'another MDM';
  const text = `Apple says ${other} now manages the VPP token "${escapeMarkdown(token.displayName)}". I stopped syncing it so the two do not fight over licenses and users.`;
  return {
    text,
    card: notificationCard({
      title: `⚠️ Token taken over by ${other}`,
      text,
      facts: [...facts(token), { title: 'Managed by', value: other }],
      nextStep: 'If that was not intended, upload the token again (type **upload token**) and confirm taking control; otherwise remove it from the bot.',
      actions: actions(token, 'status'),
    }),
  };
}

function lowLicensesMessage(token: VppToken, books: readonly LowLicenseBook[]): NotificationMessage {
  const list = books.map((b) => `${escapeMarkdown(b.title)}: ${formatCount(b.available)} of ${formatCount(b.total)} left`).join('; ');
  const tokenName = escapeMarkdown(token.displayName);
  const text = `${books.length === 1 ? 'A book is' : `${formatCount(books.length)} books are`} running low on licenses under "${tokenName}": ${list}.`;
  return {
    text,
    card: notificationCard({
      title: '⚠️ Books running low on licenses',
      text: `Under "${tokenName}", seen by a scheduled sync. Buy more licenses in ${APPLE_PORTALS}, then sync.`,
      facts: books.map((b) => ({ title: escapeMarkdown(b.title), value: `${formatCount(b.available)} of ${formatCount(b.total)} left` })),
      actions: actions(token, 'sync'),
    }),
  };
}

/** Most tokens named one by one in a several-token summary; the rest are counted. */
const SUMMARY_LIMIT = 20;

/** The result of a sync of several tokens ("sync all"), as one message. */
function syncSummaryMessage(results: readonly SyncResultView[]): NotificationMessage {
  const completed = results.filter((o) => o.status === 'completed');
  const failed = results.filter((o) => o.status !== 'completed');
  const facts: Fact[] = [...failed, ...completed].slice(0, SUMMARY_LIMIT).map((o) => ({
    title: escapeMarkdown(o.tokenName),
    value: o.status === 'completed' ? `${formatCount(o.books)} books, ${formatCount(o.licenses.available)} of ${formatCount(o.licenses.total)} licenses available` : `failed: ${o.error?.message ?? 'unknown error'}`,
  }));
  const more = results.length - facts.length;
  if (more > 0) facts.push({ title: 'More', value: `${formatCount(more)} more tokens` });
  // The admin who asked hears of books running low here, not in a notice of their own.
  const low = results.flatMap((o) => o.lowLicenseBooks.map((b) => ({ ...b, tokenName: o.tokenName })));
  const lowFacts: Fact[] = low.slice(0, SUMMARY_LIMIT).map((b) => ({ title: `Running low: ${escapeMarkdown(b.title)}`, value: `${formatCount(b.available)} of ${formatCount(b.total)} left (${escapeMarkdown(b.tokenName)})` }));
  if (low.length > lowFacts.length) lowFacts.push({ title: 'Running low', value: `${formatCount(low.length - lowFacts.length)} more books` });
  const text =
    `Sync of ${formatCount(results.length)} tokens finished: ${formatCount(completed.length)} completed, ${formatCount(failed.length)} failed.` +
    (low.length > 0 ? ` ${low.length === 1 ? '1 book is' : `${formatCount(low.length)} books are`} running low on licenses.` : '');
  const steps = [
    ...(failed.length > 0 ? ['Type **status** to see what needs attention.'] : []),
    ...(low.length > 0 ? [`Buy more licenses for the books running low in ${APPLE_PORTALS}, then sync.`] : []),
  ];
  const card = notificationCard({
    title: failed.length > 0 ? '⚠️ Sync finished' : '✅ Sync finished',
    text,
    facts: [...facts, ...lowFacts],
    nextStep: steps.join(' '),
  });
  return { text, card };
}

function syncResultMessage(outcome: SyncResultView): NotificationMessage {
  const tokenName = escapeMarkdown(outcome.tokenName);
  const low = outcome.lowLicenseBooks;
  const lowText = low.length > 0 ? ` Running low on licenses: ${low.map((b) => `${escapeMarkdown(b.title)}: ${formatCount(b.available)} of ${formatCount(b.total)} left`).join('; ')}.` : '';
  const text =
    outcome.status === 'completed'
      ? `Sync of ${tokenName} finished: ${formatCount(outcome.books)} books, ${formatCount(outcome.licenses.available)} of ${formatCount(outcome.licenses.total)} licenses available.${lowText}`
      : `Sync of ${tokenName} failed: ${outcome.error?.message ?? 'unknown error'}`;
  return { text, card: syncResultCard(outcome) };
}

/** What TokenNotifier and SyncResultNotices say, handed to them by bot/application.ts. */
export const noticeMessages: NoticeMessages = {
  expiring: expiringMessage,
  expired: expiredMessage,
  syncFailed: syncFailedMessage,
  externalMdm: externalMdmMessage,
  lowLicenses: lowLicensesMessage,
  syncResult: syncResultMessage,
  syncSummary: syncSummaryMessage,
};
