import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDateTime } from '../services/common/format';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import memberNoticeTemplate from './memberNotice.json';
import reachSummaryTemplate from './memberReachSummary.json';

/** A proactive message: the text Teams shows in notifications, and the card. */
export interface CardMessage {
  text: string;
  card: AdaptiveCardJson;
}

/** The book a member notice is about. */
export interface NoticeBook {
  adamId: string;
  pricingParam: string;
  title: string;
}

/** Unreachable members a summary names at most; the CSV download has all of them. */
const SHOWN_UNREACHABLE = 10;

interface NoticeCardData {
  title: string;
  paragraphs: string[];
  note?: string;
  openUrl?: string;
  openUrlTitle?: string;
  sendText?: string;
  sendTextTitle?: string;
}

function noticeCard(data: NoticeCardData): AdaptiveCardJson {
  return renderCard(memberNoticeTemplate, {
    title: data.title,
    paragraphs: data.paragraphs.map((text) => ({ text })),
    note: data.note ?? '',
    openUrl: data.openUrl ?? '',
    openUrlTitle: data.openUrlTitle ?? '',
    sendText: data.sendText ?? '',
    sendTextTitle: data.sendTextTitle ?? '',
  });
}

/** An http(s) link only: it ends up on a button a member presses. */
function webUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('the invitation link is not a web address');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('the invitation link is not a web address');
  return url.href;
}

/** What a member of an assigned group is told in their personal chat with the bot. */
export function memberMessage(kind: 'licensed' | 'offered', book: NoticeBook): CardMessage;
export function memberMessage(kind: 'invited', book: NoticeBook, invitationUrl: string): CardMessage;
export function memberMessage(kind: 'licensed' | 'invited' | 'offered', book: NoticeBook, invitationUrl?: string): CardMessage {
  const title = escapeMarkdown(book.title || `Book ${book.adamId}`);
  if (kind === 'licensed') {
    const text = `The book "${title}" is yours.`;
    return {
      text,
      card: noticeCard({
        title: text,
        paragraphs: [
          'Open the **Books** app on an iPhone, iPad or Mac signed in with your Apple Account (your Managed Apple Account, if your organisation gave you one).',
          'You find it under your purchases, on every device signed in with that account.',
        ],
      }),
    };
  }
  if (kind === 'invited') {
    const url = webUrl(invitationUrl ?? '');
    const text = `To get "${title}", join your organisation's Apple volume purchasing programme first.`;
    return {
      text,
      card: noticeCard({
        title: text,
        paragraphs: ['Press **Join** to open your invitation, and accept it with your Apple Account (it takes a minute).'],
        note: 'Once you have joined, the book arrives by itself after the next sync with Apple (at most twice a day), in the **Books** app.',
        openUrl: url,
        openUrlTitle: 'Join',
      }),
    };
  }
  const text = `"${title}" is available to you.`;
  return {
    text,
    card: noticeCard({
      title: text,
      paragraphs: ['Your organisation made this book available to you. To get it, type **my books** and press **Get**.'],
      sendText: 'my books',
      sendTextTitle: 'My books',
    }),
  };
}

export interface ReachSummaryInput {
  bookTitle: string;
  told: number;
  unreachable: number;
  firstUnreachable: ReadonlyArray<{ displayName: string; mail?: string | undefined; reason: string }>;
  /** A link to the whole list as CSV; undefined when the bot has no public address. */
  download?: { url: string; expires: Date } | undefined;
}

const members = (n: number, verb: { one: string; many: string }): string => `${formatCount(n)} ${n === 1 ? `member ${verb.one}` : `members ${verb.many}`}`;

/** The requester hears, once per run, how many members were told and who could not be reached. */
export function reachSummaryMessage(input: ReachSummaryInput): CardMessage {
  const bookTitle = escapeMarkdown(input.bookTitle);
  const text = `"${bookTitle}": ${members(input.told, { one: 'was', many: 'were' })} told in Teams; ${formatCount(input.unreachable)} could not be reached.`;
  const shown = input.firstUnreachable.slice(0, SHOWN_UNREACHABLE);
  const shownTitle = input.unreachable > shown.length ? `Could not be reached (the first ${formatCount(shown.length)} of ${formatCount(input.unreachable)})` : 'Could not be reached';
  let note = '';
  if (input.download) note = `The download lists every member who could not be reached; the link works until ${formatDateTime(input.download.expires)}. Anyone who has the link can open the list (names, e-mail addresses, invitation links), so please do not forward it.`;
  else if (input.unreachable > shown.length) note = 'No download of the whole list: the bot has no public address (set BOT_HOSTNAME).';
  return {
    text,
    card: renderCard(reachSummaryTemplate, {
      title: `Who heard about "${bookTitle}"`,
      text,
      facts: [
        { title: 'Told in Teams', value: formatCount(input.told) },
        { title: 'Could not be reached', value: formatCount(input.unreachable) },
      ],
      shownTitle,
      shown: shown.map((m) => ({ text: `${escapeMarkdown(m.displayName)}${m.mail ? ` (${escapeMarkdown(m.mail)})` : ''}: ${m.reason}` })),
      note,
      downloadUrl: input.download?.url ?? '',
    }),
  };
}
