import { escapeMarkdown } from '../services/common/chatText';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import memberHelpTemplate from './memberHelp.json';
import myBooksTemplate from './myBooks.json';

/** One book on the member's card; structurally matches the service's MemberBook. */
interface MemberBookView {
  tokenId: string;
  title: string;
  author?: string | undefined;
  coverUrl?: string | undefined;
  runId?: string | undefined;
  status: 'offered' | 'waiting' | 'onItsWay' | 'yours' | 'joinVpp';
  invitationUrl?: string | undefined;
}

export interface MyBooksView {
  offered: readonly MemberBookView[];
  yours: readonly MemberBookView[];
}

/** Intune mode; structurally matches the service's IntuneShelf. */
interface IntuneBooksView {
  delivery: 'intune';
  available: readonly IntuneBookView[];
  required: readonly IntuneBookView[];
}

interface IntuneBookView {
  tokenId: string;
  title: string;
  author?: string | undefined;
  coverUrl?: string | undefined;
}

/** Each status in words, led by an emoji rather than a colour: green and yellow text are too faint in Teams' light theme. */
const NOTES: Record<MemberBookView['status'], string> = {
  offered: '',
  waiting: '⏳ You asked for it, but its licenses are all taken: the admins were asked for more, and I will tell you here when it is yours.',
  onItsWay: '⏳ On its way: Apple is still working on it. I will tell you here when it is yours.',
  yours: '✅ Yours: open the Books app to read it.',
  joinVpp: "✉️ Yours once you join your organisation's Apple volume purchasing programme: press **Join**, accept, and the book appears in the Books app.",
};

function bookData(book: MemberBookView): Record<string, unknown> {
  return {
    tokenId: book.tokenId,
    runId: book.runId ?? '',
    title: escapeMarkdown(book.title),
    plainTitle: book.title,
    author: escapeMarkdown(book.author ?? ''),
    coverUrl: book.coverUrl ?? '',
    note: NOTES[book.status],
    // Only a book nobody is working on for them has a Get button; the server checks every click anyway.
    canGet: book.status === 'offered' && book.runId !== undefined,
    invitationUrl: book.status === 'joinVpp' ? (book.invitationUrl ?? '') : '',
  };
}

/** Apple mode's section headings and closing line: the bot licenses, the member reads in the Books app. */
const APPLE_WORDS = {
  offeredHeading: 'Available to you',
  yoursHeading: 'Yours',
  footer: 'Read them in the Books app on your iPhone, iPad or Mac. A book you get stays yours.',
};

/**
 * `my books`: in Apple mode what the member may get (with Get) and what is theirs already; in Intune mode
 * the books assigned to them and where each comes from, with no Get (Intune delivers).
 */
export function myBooksCard(view: MyBooksView | IntuneBooksView): AdaptiveCardJson {
  if ('delivery' in view) return intuneBooksCard(view);
  const empty = view.offered.length === 0 && view.yours.length === 0;
  return renderCard(myBooksTemplate, {
    ...APPLE_WORDS,
    intro: view.offered.length > 0 ? 'Books your organisation makes available to you. Press **Get** and the book is yours.' : 'Books your organisation gave you, and any you may get.',
    hasOffered: view.offered.length > 0,
    hasYours: view.yours.length > 0,
    offered: view.offered.map(bookData),
    yours: view.yours.map(bookData),
    emptyText: empty ? 'No books are available to you right now. When your IT team makes a book available to a group you are in, it shows up here.' : '',
  });
}

const COMPANY_PORTAL_NOTE = '📲 Open Company Portal on your iPad or iPhone and install it from there.';
/** Intune's intent, not a report: whether it is on the device yet is Intune's to say, device by device. */
const INSTALLS_ITSELF_NOTE = '📲 Required: installs on your managed iPad or iPhone by itself.';

/** A book Intune delivers: where it comes from in words, and no button (there is nothing to get from the bot). */
function intuneBookData(book: IntuneBookView, note: string): Record<string, unknown> {
  return {
    tokenId: book.tokenId,
    runId: '',
    title: escapeMarkdown(book.title),
    plainTitle: book.title,
    author: escapeMarkdown(book.author ?? ''),
    coverUrl: book.coverUrl ?? '',
    note,
    canGet: false,
    invitationUrl: '',
  };
}

function intuneBooksCard(view: IntuneBooksView): AdaptiveCardJson {
  const empty = view.available.length === 0 && view.required.length === 0;
  return renderCard(myBooksTemplate, {
    offeredHeading: 'Available to you in Company Portal',
    yoursHeading: 'Required for you',
    footer: 'Intune installs the Required books on the iPads and iPhones your organisation manages, and offers the Available ones in Company Portal. Read them in the Books app.',
    intro: 'Books your organisation assigns to groups you are in. Intune delivers them, so there is nothing to press here.',
    hasOffered: view.available.length > 0,
    hasYours: view.required.length > 0,
    offered: view.available.map((b) => intuneBookData(b, COMPANY_PORTAL_NOTE)),
    yours: view.required.map((b) => intuneBookData(b, INSTALLS_ITSELF_NOTE)),
    emptyText: empty ? 'No books are assigned to you right now. When your IT team assigns a book to a group you are in, it shows up here.' : '',
  });
}

/** `help` for someone who is not a VPP Books admin: the little they can do. */
export function memberHelpCard(commands: ReadonlyArray<{ command: string; description: string }>): AdaptiveCardJson {
  return renderCard(memberHelpTemplate, { commands });
}
