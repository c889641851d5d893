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

/** `my books`: what the member may get (with Get) and what is theirs already. */
export function myBooksCard(view: MyBooksView): AdaptiveCardJson {
  const empty = view.offered.length === 0 && view.yours.length === 0;
  return renderCard(myBooksTemplate, {
    intro: view.offered.length > 0 ? 'Books your organisation makes available to you. Press **Get** and the book is yours.' : 'Books your organisation gave you, and any you may get.',
    hasOffered: view.offered.length > 0,
    hasYours: view.yours.length > 0,
    offered: view.offered.map(bookData),
    yours: view.yours.map(bookData),
    emptyText: empty ? 'No books are available to you right now. When your IT team makes a book available to a group you are in, it shows up here.' : '',
  });
}

/**
 * What someone who is not a VPP Books admin may type, as their help card lists it; their typo suggestions
 * come from the same list (dialogs/members/memberCommands.ts), so nobody is pointed at a command that would
 * only refuse them.
 */
export function memberHelpCommands(options: { approver: boolean }): Array<{ command: string; description: string }> {
  return [
    { command: 'my books', description: 'The books available to you, with a Get button, and the books already yours.' },
    ...(options.approver ? [{ command: 'approvals', description: 'Assignment requests waiting for your decision.' }] : []),
    { command: 'help', description: 'Show this help.' },
  ];
}

/** `help` for someone who is not a VPP Books admin: the little they can do. */
export function memberHelpCard(options: { approver: boolean }): AdaptiveCardJson {
  return renderCard(memberHelpTemplate, { commands: memberHelpCommands(options) });
}
