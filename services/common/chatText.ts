/**
 * Text bound for chat. Teams reads a message's text as Markdown, and an Adaptive Card's TextBlock and
 * FactSet (title and value) as a Markdown subset: `**bold**`, `_italic_`, `[text](url)`, `- ` and `1. ` lists.
 * Names and titles come from Entra and Apple, where whoever may create a group or publish a book chooses
 * them, and arguments come from whoever typed them: both must show as written, never as formatting or a
 * disguised link. Choice and button titles, alt texts and input values are plain text: they take the raw name.
 */
import { truncate } from './truncate';

/** Markdown punctuation that acts wherever it stands: emphasis, links, code, strikethrough, HTML and autolinks, escapes. */
const ANYWHERE = /[\\`*_[\]<~]/g;
/** An entity reference (`&#42;`, `&lt;`) would be decoded into the character it names. */
const ENTITY = /&(?=#?[A-Za-z0-9]{1,32};)/g;
/** At the start of a line only: a heading, a quote, a bullet, a numbered item ("7. Form" is a list item, "Year 7. Form" is not). */
const LINE_START = /^([#>+-])|^(\d{1,9})([.)])/;

/**
 * Escapes `text` so that Teams shows it literally, in a message and in a card. Only what would act is
 * escaped, so the backslashes of renderers that show them (some older mobile clients) stay rare: "Year 7 - Group A",
 * "St. Mary's" and "Smith & Jones" come back unchanged. Line breaks become spaces: a name is one line, and
 * a line break would let it start a list. A bare web address may still be turned into a link by Teams; it then
 * shows its own address, so nothing is disguised. Escape each value once, where it is put into Markdown.
 */
export function escapeMarkdown(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine
    .replace(ANYWHERE, (c) => `\\${c}`)
    .replace(ENTITY, '\\&')
    .replace(LINE_START, (match: string, mark: string | undefined, digits: string | undefined, dot: string | undefined) =>
      mark !== undefined ? `\\${mark}` : `${digits ?? ''}\\${dot ?? ''}`,
    );
}

/** Long runs of Base64 / Base64url characters: a VPP token is hundreds of them, a word or a title never 40 in a row. */
const TOKEN_RUN = /[A-Za-z0-9+/=_-]{40,}/g;
/** What random key material has and a row of one key held down ("xxxx…", "----…") has not: letters, digits, variety. */
const looksRandom = (run: string): boolean => /[A-Za-z]/.test(run) && /[0-9]/.test(run) && new Set(run.slice(0, 200)).size >= 10;
/** The JSON inside a .vpptoken file, pasted decoded (its `token` field is itself a long run). */
const TOKEN_JSON = /"(?:s?token|orgName|expDate)"\s*:/i;

/**
 * True when `text` looks like a VPP token or holds one: a .vpptoken file (Base64 of JSON), its inner token,
 * or the decoded JSON. Such text is never repeated in chat, which may be a channel everyone reads.
 */
export function looksLikeToken(text: string): boolean {
  if (TOKEN_JSON.test(text)) return true;
  for (const [run] of text.matchAll(TOKEN_RUN)) if (looksRandom(run)) return true;
  return false;
}

/** The most characters of an argument repeated back: enough to recognise it, too few to carry much. */
export const ECHO_MAX_LENGTH = 60;

/** Stands where a token-like argument would have been repeated. */
export const TOKEN_NOT_REPEATED = 'what you typed (it looks like a VPP token, so I will not repeat it here; if you posted it where others can read it, delete that message)';

/**
 * The one way a reply repeats what someone typed: quoted, on one line, at most ECHO_MAX_LENGTH characters and
 * escaped; or, when it looks like a token, a phrase saying so instead. Fits in a sentence: `No book matches ${echoArgument(text)}.`
 */
export function echoArgument(text: string): string {
  if (looksLikeToken(text)) return TOKEN_NOT_REPEATED;
  return `"${escapeMarkdown(truncate(text.replace(/\s+/g, ' ').trim(), ECHO_MAX_LENGTH, '…'))}"`;
}

/**
 * The whole answer to a command or message that carries something token-like: nothing is done with it,
 * and the admin is told to remove it from where others can read it.
 */
export const TOKEN_LIKE_MESSAGE =
  'That looks like a VPP token, so I did nothing with it and will not repeat it here. If it was posted in a channel or group chat, delete that message: ' +
  'whoever has a token can use it. To add or renew a token, type **upload token** or **renew** in a 1:1 chat with me and attach the .vpptoken file.';

/** A Markdown link whose text is escaped and whose address cannot close the link early; plain text for anything but http(s). */
export function markdownLink(text: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return escapeMarkdown(text);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return escapeMarkdown(text);
  const href = parsed.href.replace(/[()<> ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `[${escapeMarkdown(text)}](${href})`;
}
