import { looksLikeToken } from '../services/common/chatText';
import { COMMANDS } from './commandCatalog';

export type ParsedCommand =
  | { kind: 'command'; command: string; argument: string }
  | { kind: 'irrevocable'; verb: string }
  | { kind: 'empty' }
  | { kind: 'unknown'; text: string }
  /** The message carries something token-like: no command runs with it, and nothing repeats it. */
  | { kind: 'tokenLike' };

/** Longest first, so "upload token" wins over a shorter command that prefixes it. */
const BY_LENGTH = [...COMMANDS].map((c) => c.command).sort((a, b) => b.length - a.length);

const ALIASES: Record<string, string> = {
  '?': 'help',
  menu: 'help',
  upload: 'upload token',
  'add token': 'upload token',
  token: 'tokens',
  'list tokens': 'tokens',
  book: 'books',
  approval: 'approvals',
  stop: 'cancel',
  quit: 'cancel',
};

/** Book licenses cannot be reclaimed (Apple error 9706); these verbs get that answer, not an attempt. */
const IRREVOCABLE_VERBS = ['unassign', 'revoke', 'reclaim', 'disassociate', 'remove assignment'];

/** Removes Teams' <at>Bot</at> mention markup and normalises spacing and case. */
export function normaliseText(text: string | undefined): string {
  return (text ?? '')
    .replace(/<at>[^<]*<\/at>/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function parseCommand(text: string | undefined): ParsedCommand {
  const normalised = normaliseText(text);
  const lower = normalised.toLowerCase();
  if (lower.length === 0) return { kind: 'empty' };
  // Before anything else: no command takes a token as its argument (token files come through the upload
  // prompt), so a token-like argument was pasted by mistake and must not reach a search, a log or a reply.
  if (looksLikeToken(normalised)) return { kind: 'tokenLike' };

  const verb = IRREVOCABLE_VERBS.find((v) => lower === v || lower.startsWith(`${v} `));
  if (verb) return { kind: 'irrevocable', verb };

  const alias = Object.keys(ALIASES).find((a) => lower === a);
  if (alias) return { kind: 'command', command: ALIASES[alias] ?? alias, argument: '' };

  const command = BY_LENGTH.find((c) => lower === c || lower.startsWith(`${c} `));
  if (command) return { kind: 'command', command, argument: normalised.slice(command.length).trim() };

  return { kind: 'unknown', text: normalised };
}
