/**
 * `text` cut to at most `limit` UTF-16 units, the unit zod's `.max()` and Cosmos' JSON count, so a cut
 * value always passes the schema it was cut for. A cut never splits a surrogate pair (half an emoji
 * stored or shown); with an `ellipsis` the spaces before it go too, and the ellipsis counts in `limit`.
 */
export function truncate(text: string, limit: number, ellipsis = ''): string {
  if (text.length <= limit) return text;
  let end = Math.max(0, limit - ellipsis.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  const kept = text.slice(0, end);
  return ellipsis ? `${kept.trimEnd()}${ellipsis}` : kept;
}
