import { escapeMarkdown } from './chatText';

/** People named in one line of a chat message (Markdown, names escaped): "A, B and C", or the first ten and how many more. */
export function nameList(names: readonly string[], most = 10): string {
  const shown = names.slice(0, most).map(escapeMarkdown);
  const more = names.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : (shown[0] ?? '');
}
