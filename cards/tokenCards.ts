import { APPLE_PORTALS } from '../services/common/appleTerms';
import type { BackendKind } from '../services/backend/ports';
import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDate, formatDateTime } from '../services/common/format';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { expiryBar, MAX_CHARTED_ENTRIES } from './charts';
import tokenListTemplate from './tokenList.json';
import tokenPreviewTemplate from './tokenPreview.json';
import tokenRemoveTemplate from './tokenRemoveConfirm.json';
import choiceQuestionTemplate from './choiceQuestion.json';

/** The fields of a stored token the cards show; structurally matches the store's VppToken. */
export interface TokenView {
  id: string;
  displayName: string;
  organizationName: string;
  appleId?: string | undefined;
  locationName: string;
  countryOrRegion?: string | undefined;
  expirationDateTime: string;
  state: 'valid' | 'expired' | 'invalid' | 'assignedToExternalMDM' | 'duplicateLocation';
  externalMdm?: { name: string } | undefined;
  lastSyncDateTime?: string | undefined;
  lastSyncStatus: 'none' | 'inProgress' | 'completed' | 'failed';
}

/** Tokens this close to expiry are highlighted (Intune warns from 30 days). */
const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

function daysLeft(iso: string, now: Date): number {
  return Math.floor((new Date(iso).getTime() - now.getTime()) / DAY_MS);
}

/** "30 Jun 2036 (3,504 days left)", "12 Jan 2026 (expired)". */
export function expiryLabel(iso: string, now: Date): string {
  const days = daysLeft(iso, now);
  if (days < 0) return `${formatDate(iso)} (expired)`;
  if (days === 0) return `${formatDate(iso)} (expires today)`;
  return `${formatDate(iso)} (${formatCount(days)} day${days === 1 ? '' : 's'} left)`;
}

function stateLabel(token: TokenView, now: Date): string {
  if (daysLeft(token.expirationDateTime, now) < 0) return 'Expired';
  switch (token.state) {
    case 'valid':
      return 'Valid';
    case 'expired':
      return 'Expired';
    case 'invalid':
      return 'Invalid: upload a new token file';
    case 'assignedToExternalMDM':
      return `Managed by ${token.externalMdm?.name ? escapeMarkdown(token.externalMdm.name) : 'another MDM'}`;
    case 'duplicateLocation':
      return 'Duplicate location';
  }
}

const SYNC_STATUS: Record<TokenView['lastSyncStatus'], string> = { none: 'not synced yet', inProgress: 'in progress', completed: 'completed', failed: 'failed' };

/** Led by an emoji and in the theme's text colour: Teams' red text fails contrast in its dark theme. */
function warning(token: TokenView, now: Date): string {
  const days = daysLeft(token.expirationDateTime, now);
  if (days < 0) return '⌛ This token has expired: download a new one from Apple and type **renew** to replace it.';
  if (days < EXPIRY_WARNING_DAYS) return `⚠️ Expires in ${formatCount(days)} day${days === 1 ? '' : 's'}: download a new token from Apple and renew it soon.`;
  return '';
}

export function tokenListCard(tokens: readonly TokenView[], now: Date): AdaptiveCardJson {
  const charted = tokens.length <= MAX_CHARTED_ENTRIES;
  return renderCard(tokenListTemplate, {
    count: tokens.length,
    countLabel: formatCount(tokens.length),
    emptyText: `No tokens yet. Type **upload token** to add the .vpptoken file from ${APPLE_PORTALS}.`,
    tokens: tokens.map((t) => ({
      id: t.id,
      displayName: escapeMarkdown(t.displayName),
      organizationName: escapeMarkdown(t.organizationName),
      locationLabel: escapeMarkdown(t.countryOrRegion ? `${t.locationName} (${t.countryOrRegion})` : t.locationName),
      appleIdLabel: t.appleId ? escapeMarkdown(t.appleId) : '—',
      stateLabel: stateLabel(t, now),
      expiresLabel: expiryLabel(t.expirationDateTime, now),
      expiryChart: charted ? expiryBar(daysLeft(t.expirationDateTime, now)) : { show: false },
      warning: warning(t, now),
      lastSyncLabel: t.lastSyncDateTime ? `${formatDateTime(t.lastSyncDateTime)}, ${SYNC_STATUS[t.lastSyncStatus]}` : 'Never',
    })),
  });
}

export interface TokenPreviewData {
  ref: string;
  organizationName: string;
  locationName: string;
  countryOrRegion?: string | undefined;
  expirationDateTime: string;
  bookCount: number;
  appleId: string;
  accountType: 'business' | 'education';
  otherMdmName?: string | undefined;
  /** Who takes the token (VPP_BACKEND): this bot in Apple mode, Intune in Intune mode. Default apple. */
  holder?: BackendKind | undefined;
  /** Intune mode: the MDM Apple names is this bot itself (the token was claimed while it held tokens). */
  otherMdmIsThisBot?: boolean | undefined;
  /** A renewal asking to take the token back, rather than an upload; `bookCount` is then the books synced. */
  renewal?: boolean | undefined;
}

/** The button that agrees to take control, as chat also accepts it typed (plain text: names as they are). */
export function takeOverButtonTitle(data: Pick<TokenPreviewData, 'holder' | 'otherMdmName'>): string {
  return data.holder === 'intune' ? 'Let Intune take control' : `Take control from ${data.otherMdmName ?? ''}`;
}

/** What taking control means, by who takes it and from whom (names escaped here). */
function takeOverWords(data: TokenPreviewData): { takeOverHeading: string; takeOverText: string } {
  const mdm = data.otherMdmName ? escapeMarkdown(data.otherMdmName) : '';
  if (data.holder !== 'intune') {
    return {
      takeOverHeading: `This token is managed by ${mdm}`,
      takeOverText: `Apple lets only one MDM manage a token. If VPP Books takes control, ${mdm} stops managing it: the licenses it assigned and its user records can be lost, and it will show sync errors. Take control only if you are moving this location to VPP Books.`,
    };
  }
  if (data.otherMdmIsThisBot) {
    return {
      takeOverHeading: 'I manage this token myself, not Intune',
      takeOverText:
        'It was added while I held the VPP tokens myself, so Apple names me as its MDM. If Intune takes control, Intune licenses and installs its books from now on and I no longer use the token with Apple myself. ' +
        'The licenses I assigned stay with their users (book licenses cannot be reclaimed). Take control only if Intune is to manage this location.',
    };
  }
  return {
    takeOverHeading: `This token is managed by ${mdm}`,
    takeOverText: `Apple lets only one MDM manage a token. If Intune takes control, ${mdm} stops managing it: the licenses it assigned and its user records can be lost, and it will show sync errors. Take control only if you are moving this location to Intune.`,
  };
}

export function tokenPreviewCard(data: TokenPreviewData, now: Date): AdaptiveCardJson {
  return renderCard(tokenPreviewTemplate, {
    ref: data.ref,
    title: data.renewal ? 'Renew the VPP token' : 'Confirm the VPP token',
    organizationName: escapeMarkdown(data.organizationName),
    locationName: escapeMarkdown(data.locationName),
    appleId: escapeMarkdown(data.appleId),
    // FactSet values must be strings: a bare number would be rendered as a JSON number.
    bookCount: formatCount(data.bookCount),
    bookCountTitle: data.renewal ? 'Books' : 'Books found',
    countryLabel: data.countryOrRegion ? escapeMarkdown(data.countryOrRegion) : 'unknown',
    expiresLabel: expiryLabel(data.expirationDateTime, now),
    accountTypeLabel: data.accountType === 'education' ? 'Education (Apple School Manager)' : 'Business (Apple Business Manager)',
    otherMdmName: data.otherMdmName ? escapeMarkdown(data.otherMdmName) : '',
    ...(data.otherMdmName ? takeOverWords(data) : { takeOverHeading: '', takeOverText: '' }),
    // A button title is plain text: the name as Apple gave it.
    takeOverButton: takeOverButtonTitle(data),
  });
}

export interface TokenRemoveData {
  ref: string;
  displayName: string;
  bookCount: number;
  /** Intune mode, a token Intune has: removing it deletes it in Intune, with its books and their assignments. */
  deletesInIntune?: boolean | undefined;
}

/** The button that goes on with a removal, as the card says it (plain text). */
export function removeButtonTitle(data: Pick<TokenRemoveData, 'deletesInIntune'>): string {
  return data.deletesInIntune ? 'Delete from Intune' : 'Remove token';
}

export function tokenRemoveCard(data: TokenRemoveData): AdaptiveCardJson {
  const name = escapeMarkdown(data.displayName);
  const books = formatCount(data.bookCount);
  const words = data.deletesInIntune
    ? {
        title: `Delete ${name} from Intune?`,
        text:
          `This deletes the token in Intune, not only here, and Intune then deletes its ${books} books and every assignment of them, including those made in Intune directly. ` +
          'Required books stop installing on managed devices, and Company Portal no longer offers the Available ones. ' +
          'Licenses already assigned stay with their users (book licenses cannot be reclaimed), Apple keeps your purchased licenses, and the audit trail stays.',
        warning: `⚠️ Nothing brings the assignments back: to use the token again, you upload it and assign its books again. After **${removeButtonTitle(data)}** I ask you to type the token's name.`,
      }
    : {
        title: `Remove ${name}?`,
        text: `Removing the token deletes it and its ${books} books from VPP Books. The bot stops syncing this location and you can no longer assign its books. Books already assigned stay with their users: book licenses cannot be reclaimed. Apple keeps your purchased licenses, and the audit trail stays. You can upload the token again later.`,
        warning: '',
      };
  return renderCard(tokenRemoveTemplate, { ref: data.ref, ...words, removeButton: removeButtonTitle(data) });
}

export interface ChoiceQuestionData {
  ref: string;
  /** Chat Markdown (the caller escapes any name in it). */
  question: string;
  hint?: string;
  /** Button titles are plain text: names as they are, unescaped. */
  choices: ReadonlyArray<{ title: string; value: string }>;
}

export function choiceQuestionCard(data: ChoiceQuestionData): AdaptiveCardJson {
  return renderCard(choiceQuestionTemplate, { hint: '', ...data });
}
