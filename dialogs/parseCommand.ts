import { looksLikeToken } from '../services/common/chatText';
import { normaliseName } from '../services/common/nameMatch';
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

const wordCount = (phrase: string): number => phrase.split(' ').length;

/**
 * The first words of a message, as many as a command of `count` words has, compared as names are
 * (nameMatch: "Tokens", "ＴＯＫＥＮＳ" and "tokéns" are "tokens"). The rest is the argument, as typed.
 */
function commandWords(normalised: string): { head: (count: number) => string; rest: (count: number) => string } {
  const words = normalised.split(' ');
  return { head: (count) => normaliseName(words.slice(0, count).join(' ')), rest: (count) => words.slice(count).join(' ') };
}

export function parseCommand(text: string | undefined): ParsedCommand {
  const normalised = normaliseText(text);
  if (normalised.length === 0) return { kind: 'empty' };
  // Before anything else: no command takes a token as its argument (token files come through the upload
  // prompt), so a token-like argument was pasted by mistake and must not reach a search, a log or a reply.
  if (looksLikeToken(normalised)) return { kind: 'tokenLike' };
  const { head, rest } = commandWords(normalised);

  const verb = IRREVOCABLE_VERBS.find((v) => head(wordCount(v)) === v);
  if (verb) return { kind: 'irrevocable', verb };

  const whole = normaliseName(normalised);
  const alias = Object.keys(ALIASES).find((a) => whole === a);
  if (alias) return { kind: 'command', command: ALIASES[alias] ?? alias, argument: '' };

  const command = BY_LENGTH.find((c) => head(wordCount(c)) === c);
  if (command) return { kind: 'command', command, argument: rest(wordCount(command)) };

  return { kind: 'unknown', text: normalised };
}

/** Commands close to what someone typed: `typed` is the words that were compared (to quote them back). */
export interface CommandSuggestion {
  typed: string;
  commands: string[];
}

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and swaps of two neighbours
 * ("hlep" is one swap from "help") each cost one.
 */
function editDistance(a: string, b: string): number {
  let twoBack: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let distance = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, (twoBack[j - 2] ?? 0) + 1);
      current.push(distance);
    }
    twoBack = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** One typo in a short command, two in a longer one: further than that, a guess would mislead more than help. */
const typoAllowance = (spelling: string): number => (spelling.length <= 5 ? 1 : 2);

/**
 * The commands among `allowed` (and the aliases that stand for them) closest to the start of `text`, within
 * a typo or two; several when they are equally close; undefined when none is that close.
 */
export function suggestCommands(text: string, allowed: readonly string[]): CommandSuggestion | undefined {
  const normalised = normaliseText(text);
  const { head } = commandWords(normalised);
  const words = normalised.split(' ');
  const spellings: Array<[string, string]> = [
    ...allowed.map((c): [string, string] => [c, c]),
    // "?" is too short to be mistyped into.
    ...Object.entries(ALIASES).filter(([alias, command]) => alias.length > 1 && allowed.includes(command)),
  ];
  let best: { distance: number; typed: string; commands: string[] } | undefined;
  for (const [spelling, command] of spellings) {
    const count = wordCount(spelling);
    if (words.length < count) continue;
    const typedHead = head(count);
    // The distance is at least the difference in length: a long message is never compared letter by letter.
    if (Math.abs(typedHead.length - spelling.length) > typoAllowance(spelling)) continue;
    const distance = editDistance(typedHead, spelling);
    if (distance === 0 || distance > typoAllowance(spelling)) continue;
    const typed = words.slice(0, count).join(' ');
    if (!best || distance < best.distance) best = { distance, typed, commands: [command] };
    else if (distance === best.distance && !best.commands.includes(command)) {
      best.commands.push(command);
      if (typed.length > best.typed.length) best.typed = typed;
    }
  }
  return best && { typed: best.typed, commands: best.commands };
}
