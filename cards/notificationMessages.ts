import { APPLE_PORTALS, WHERE_TOKENS_ARE_DOWNLOADED } from '../services/common/appleTerms';
import { INTUNE_TOKENS_PAGE } from '../services/common/intuneTerms';
import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDate } from '../services/common/format';
import type { NoticeMessages, SyncResultView } from '../services/notifications/noticeMessages';
import type { NotificationMessage } from '../services/notifications/ProactiveSender';
import type { VppToken } from '../services/store/entities/vppToken';
import type { LowLicenseBook } from '../services/sync/types';
import { notificationCard, syncResultCard, type CardAction, type Fact } from './syncCards';

const RENEW_STEPS = `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}, then type **renew** followed by the token name.`;

/** Intune mode: Intune holds the token, so it is renewed there, or here (the bot hands the new file to Intune). */
const INTUNE_RENEW_STEPS = `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}, then renew it in Intune (upload the file to the token in ${INTUNE_TOKENS_PAGE}) or here: type **renew** followed by the token name.`;

/** A record of a token Intune holds (VPP_BACKEND=intune): Intune syncs it with Apple and licenses its books. */
const heldByIntune = (token: VppToken): boolean => token.intuneTokenId !== undefined;

const renewSteps = (token: VppToken): string => (heldByIntune(token) ? INTUNE_RENEW_STEPS : RENEW_STEPS);

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
  const after = heldByIntune(token) ? 'After that Intune can no longer sync it with Apple or license its books to anyone new.' : 'After that I can no longer sync or assign its books.';
  const text = `The VPP token "${escapeMarkdown(token.displayName)}" expires ${when} (${formatDate(token.expirationDateTime)}). ${after}`;
  return {
    text,
    card: notificationCard({ title: `${daysLeft <= 7 ? '⚠️' : '⏳'} VPP token expires ${when}`, text, facts: facts(token), nextStep: renewSteps(token), actions: actions(token, 'renew') }),
  };
}

function expiredMessage(token: VppToken): NotificationMessage {
  const stopped = heldByIntune(token) ? 'Intune can no longer sync it with Apple or license its books to anyone new' : 'Syncs and assignments for it have stopped';
  const text = `The VPP token "${escapeMarkdown(token.displayName)}" expired on ${formatDate(token.expirationDateTime)}. ${stopped}; licenses already assigned stay with their users.`;
  return { text, card: notificationCard({ title: '⌛ VPP token expired', text, facts: facts(token), nextStep: renewSteps(token), actions: actions(token, 'renew') }) };
}

function syncFailedMessage(token: VppToken, escalation: boolean): NotificationMessage {
  if (heldByIntune(token)) return intuneSyncFailedMessage(token, escalation);
  const reason = token.lastError?.message ?? 'Apple gave no reason.';
  const failures = token.consecutiveSyncFailures;
  const text = escalation
    ? `The last ${formatCount(failures)} syncs of "${escapeMarkdown(token.displayName)}" failed in a row, so the license counts I show are getting out of date. Apple's reason: ${reason}`
    : `The sync of "${escapeMarkdown(token.displayName)}" failed. ${reason}`;
  const tokenProblem = token.state !== 'valid';
  return syncFailedNotice(token, escalation, { text, nextStep: tokenProblem ? RENEW_STEPS : 'I try again at the next scheduled sync. To try now, press **Sync now**.', renew: tokenProblem });
}

/**
 * Intune mode: the reason is the sync's error, which says what Intune reported and what to do (IntuneSyncEngine);
 * only an expired or revoked token is renewed, the other states are dealt with as the reason says.
 */
function intuneSyncFailedMessage(token: VppToken, escalation: boolean): NotificationMessage {
  const reason = token.lastError?.message ?? 'Intune gave no reason.';
  const failures = token.consecutiveSyncFailures;
  const name = escapeMarkdown(token.displayName);
  const text = escalation
    ? `The last ${formatCount(failures)} syncs of "${name}" through Intune failed in a row, so the license counts I show are getting out of date. The last error: ${reason}`
    : `The sync of "${name}" through Intune failed. ${reason}`;
  const nextStep = token.state === 'expired' ? INTUNE_RENEW_STEPS : token.state !== 'valid' ? 'What to do is in the reason above.' : 'I ask Intune again at the next scheduled sync. To try now, press **Sync now**.';
  return syncFailedNotice(token, escalation, { text, nextStep, renew: token.state === 'expired' || token.state === 'invalid' });
}

/** A failed sync's card, in either mode's words: the error and the run of failures, then Renew or Sync now. */
function syncFailedNotice(token: VppToken, escalation: boolean, words: { text: string; nextStep: string; renew: boolean }): NotificationMessage {
  const failures = token.consecutiveSyncFailures;
  return {
    text: words.text,
    card: notificationCard({
      title: escalation ? `⚠️ Sync keeps failing (${formatCount(failures)} times in a row)` : '⚠️ VPP sync failed',
      text: words.text,
      facts: [...facts(token), { title: 'Error', value: token.lastError?.code ?? 'unknown' }, { title: 'Failures in a row', value: formatCount(failures) }],
      nextStep: words.nextStep,
      actions: words.renew ? actions(token, 'renew', 'status') : actions(token, 'sync', 'status'),
    }),
  };
}

function externalMdmMessage(token: VppToken): NotificationMessage {
  if (heldByIntune(token)) return intuneExternalMdmMessage(token);
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

/** Intune mode: Intune says another MDM has the token, not which one; the way back to Intune is a renewal the admin confirms. */
function intuneExternalMdmMessage(token: VppToken): NotificationMessage {
  const name = escapeMarkdown(token.displayName);
  const text = `Intune reports that another MDM now manages the VPP token "${name}", so Intune can no longer license its books, and I stopped syncing it.`;
  return {
    text,
    card: notificationCard({
      title: '⚠️ Token taken over by another MDM',
      text,
      facts: [...facts(token), { title: 'Managed by', value: 'another MDM (Intune does not say which)' }],
      nextStep: `If that was not intended, give it back to Intune: download its newest token ${WHERE_TOKENS_ARE_DOWNLOADED} and type **renew ${name}**; I show what taking control means, and Intune takes it back only once you confirm. Otherwise remove it (type **remove ${name}**): that removes it from Intune too.`,
      actions: actions(token, 'status'),
    }),
  };
}

/** A token for an Apple location another token already serves: it is not synced until one of the two goes. */
function duplicateLocationMessage(token: VppToken): NotificationMessage {
  const name = escapeMarkdown(token.displayName);
  const location = token.locationName ? ` ("${escapeMarkdown(token.locationName)}")` : '';
  const text = heldByIntune(token)
    ? `Intune reports that the VPP token "${name}" is for an Apple location${location} another of its tokens already covers, so it is not synced.`
    : `The VPP token "${name}" is for an Apple location${location} another token already covers, so it is not synced.`;
  return {
    text,
    card: notificationCard({
      title: '⚠️ Two tokens for one Apple location',
      text,
      facts: [...facts(token), { title: 'Location', value: token.locationName ? escapeMarkdown(token.locationName) : 'unknown' }],
      nextStep: heldByIntune(token)
        ? `The token that serves the location already keeps working (type **tokens** to see both): assign the location's books from that one. Removing "${name}" (type **remove ${name}**) also deletes it in Intune, with its books there and their assignments.`
        : `Keep one token per location: remove this one (type **remove ${name}**) or the other one.`,
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
      text: heldByIntune(token)
        ? `Under "${tokenName}", seen by a scheduled sync. Once none are left, Intune cannot license new members of the groups a book is assigned to. Buy more licenses in ${APPLE_PORTALS}, then sync.`
        : `Under "${tokenName}", seen by a scheduled sync. Buy more licenses in ${APPLE_PORTALS}, then sync.`,
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
  duplicateLocation: duplicateLocationMessage,
  lowLicenses: lowLicensesMessage,
  syncResult: syncResultMessage,
  syncSummary: syncSummaryMessage,
};
