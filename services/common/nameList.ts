import { escapeMarkdown } from './chatText';

/** More names than this make a line nobody reads; the rest are counted. */
const MOST_NAMES = 10;

/** People named in one line of a chat message (Markdown, names escaped): "A, B and C", or the first ten and how many more. */
export function nameList(names: readonly string[]): string {
  const shown = names.slice(0, MOST_NAMES).map(escapeMarkdown);
  const more = names.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : (shown[0] ?? '');
}
