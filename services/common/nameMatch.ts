/**
 * How a typed name is compared with a stored one (a token's location, a book's title, a command). People
 * type a hyphen where Apple wrote an en dash, leave out accents, and add or drop spaces; none of that
 * should make a name unfindable. Pure functions, no I/O.
 */

/** Combining marks, left behind by NFKD: "é" becomes "e" + U+0301. */
const COMBINING_MARKS = /\p{M}+/gu;
/** Letters NFKD leaves whole though people type them plain: "Łódź" is searched as "lodz", "Ærø" as "aero". */
const PLAIN_LETTERS: Readonly<Record<string, string>> = { ł: 'l', Ł: 'L', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D', ħ: 'h', Ħ: 'H', ı: 'i', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE' };
const NOT_DECOMPOSED = new RegExp(`[${Object.keys(PLAIN_LETTERS).join('')}]`, 'g');
/**
 * Every dash and hyphen Unicode has: the dash punctuation category (hyphen-minus, hyphen, non-breaking
 * hyphen, figure, en and em dashes, horizontal bar, the small and full-width forms…) and the minus sign,
 * which is a math symbol but is typed for a dash.
 */
const DASHES = /[\p{Pd}\u2212]/gu;
/** Invisible characters that only hint at a break or a join: the soft hyphen, zero-width spaces and joiners, the BOM. */
const INVISIBLE = /[\u00AD\u200B\u200C\u2060\uFEFF]|\u200D/g;
/** Apostrophes and quotation marks people type straight or curly: ’ ‘ ʼ ′ and “ ” „ ″. */
const APOSTROPHES = /[\u2018\u2019\u201A\u201B\u02BC\u2032\uFF07]/g;
const QUOTES = /[\u201C\u201D\u201E\u201F\u2033\uFF02]/g;
/** Whitespace of every kind: \s covers the Unicode spaces (no-break, thin, ideographic…). */
const SPACES = /\s+/g;
/** "Main - Campus", "Main-Campus" and "Main -Campus" are one name. */
const SPACED_DASH = / ?- ?/g;

/**
 * The form names are compared in: compatibility-decomposed (full-width letters, ligatures and the like
 * become plain ones) without accents or strokes, every dash a hyphen with no spaces around it, quotes straight, one
 * space between words, none at the ends, and case-folded ("Straße" and "STRASSE" meet at "strasse").
 */
export function normaliseName(text: string): string {
  return text
    .normalize('NFKD')
    .replace(COMBINING_MARKS, '')
    .replace(NOT_DECOMPOSED, (letter) => PLAIN_LETTERS[letter] ?? letter)
    .replace(INVISIBLE, '')
    .replace(DASHES, '-')
    .replace(APOSTROPHES, "'")
    .replace(QUOTES, '"')
    .replace(SPACES, ' ')
    .trim()
    .replace(SPACED_DASH, '-')
    .toUpperCase()
    .toLowerCase();
}

/** True when `a` and `b` are the same name once normalised. */
export function namesEqual(a: string, b: string): boolean {
  return normaliseName(a) === normaliseName(b);
}

/** What someone typed, normalised once, to compare with many stored names. */
export interface NameQuery {
  /** The normalised text; empty when only spaces (or nothing) were typed. */
  readonly normalised: string;
  /** True when one of `names` is the typed name. */
  equals(...names: ReadonlyArray<string | undefined>): boolean;
  /** True when one of `names` contains the typed name (an empty query is in every name). */
  within(...names: ReadonlyArray<string | undefined>): boolean;
}

export function nameQuery(typed: string): NameQuery {
  const normalised = normaliseName(typed);
  return {
    normalised,
    equals: (...names) => names.some((name) => name !== undefined && normaliseName(name) === normalised),
    within: (...names) => names.some((name) => name !== undefined && normaliseName(name).includes(normalised)),
  };
}
