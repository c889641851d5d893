import { createHash } from 'node:crypto';
import { z } from 'zod';
import { UserFacingError } from '../errors';
import { APPLE_PORTALS, WHERE_TOKENS_ARE_DOWNLOADED } from '../common/appleTerms';
import { escapeMarkdown, looksLikeToken } from '../common/chatText';
import { formatCount, formatDate } from '../common/format';
import { Secret } from '../secrets/Secret';

/** Real token files are a few hundred bytes; the cap stops a pasted novel from reaching the decoder. */
export const MAX_TOKEN_FILE_BYTES = 16 * 1024;

/** A parsed `.vpptoken`. The whole Base64 text is the bearer credential, so it lives in a Secret. */
export interface VppTokenFile {
  /** The whole Base64 file content (whitespace removed): what goes after `Bearer `. */
  readonly secret: Secret;
  readonly orgName: string;
  readonly expiresAt: Date;
  /** Stable, non-reversible id of the credential (sha256 prefix), safe to store and log. */
  readonly fingerprint: string;
}

export interface ParseVppTokenOptions {
  now?: () => Date;
  /** Renewal flows may want to read an expired file to explain it; default false. */
  allowExpired?: boolean;
}

const tokenJsonSchema = z.object({
  token: z.string().min(1),
  expDate: z.string().min(1),
  orgName: z.string().trim().min(1),
});

const APPLE_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses Apple's timestamps (`2030-11-08T22:33:22+0000`). JavaScript's Date only reads offsets with a
 * colon, so the offset is normalised first; impossible calendar dates are refused rather than rolled over.
 */
export function parseAppleDate(value: string): Date | undefined {
  const match = APPLE_DATE.exec(value.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', offset = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const normalisedOffset = offset === 'Z' ? 'Z' : `${offset.slice(0, 3)}:${offset.slice(-2)}`;
  if (normalisedOffset !== 'Z' && (Number(offset.slice(1, 3)) > 14 || Number(offset.slice(-2)) > 59)) return undefined;
  const millis = frac ? frac.slice(0, 4).padEnd(4, '0') : '';
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${millis}${normalisedOffset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Formats a date the way Apple writes it in token files: `2030-11-08T22:33:22+0000`. */
export function formatAppleDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+0000`;
}

/** sha256 prefix of the bearer text: lets stores find duplicates without keeping a second copy of the secret. */
export function tokenFingerprint(bearer: string): string {
  return createHash('sha256').update(bearer).digest('hex').slice(0, 32);
}

function fail(code: string, message: string): never {
  throw new UserFacingError(message, code);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A hundred Base64 characters in a row: less than any real token file, more than any word or command. */
const LONG_BASE64_RUN = /[A-Za-z0-9+/=]{100,}/;

/**
 * Whether typed text may be a pasted token file (whole, cut short or decoded), so worth reading and refusing
 * with a reason. Anything else ("cancle", a question) is no attempt at a file and is not counted as one.
 */
export function mayBeTokenPaste(text: string): boolean {
  return looksLikeToken(text) || LONG_BASE64_RUN.test(text);
}

/**
 * Reads a `.vpptoken` file or pasted token text. Every refusal is a UserFacingError whose message
 * tells the admin what is wrong with the file and never repeats its content.
 */
export function parseVppTokenFile(content: string | Buffer, options: ParseVppTokenOptions = {}): VppTokenFile {
  const size = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
  if (size > MAX_TOKEN_FILE_BYTES) {
    fail(
      'token_too_large',
      `That file is ${formatCount(Math.ceil(size / 1024))} KiB; a VPP token file is well under 1 KiB. Download the token again ${WHERE_TOKENS_ARE_DOWNLOADED} and send me the .vpptoken file as it is.`,
    );
  }
  const text = (typeof content === 'string' ? content : content.toString('utf8')).replace(/^\uFEFF/, '');
  // Mail clients and chat wrap long lines; whitespace is never part of Base64.
  const bearer = text.replace(/\s+/g, '');
  if (bearer.length === 0) {
    fail('token_empty', `The token file is empty. Send me the .vpptoken file you downloaded from ${APPLE_PORTALS}.`);
  }
  if (!BASE64.test(bearer) || bearer.length % 4 === 1) {
    fail(
      'token_not_base64',
      'This is not a VPP token: a .vpptoken file contains a single Base64 text, and this one has other characters or is cut short. Download the token again and send me the whole file.',
    );
  }
  const decoded = Buffer.from(bearer, 'base64').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(decoded);
  } catch {
    fail(
      'token_not_json',
      'This is Base64 but not a VPP token: its content is not the JSON Apple puts in .vpptoken files. Check that you sent the .vpptoken file and not another one, or download it again.',
    );
  }
  const parsed = tokenJsonSchema.safeParse(json);
  if (!parsed.success) {
    const missing = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? 'content')))].join(', ');
    fail(
      'token_missing_fields',
      `This VPP token is incomplete: ${missing} is missing or empty. Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}.`,
    );
  }
  // Before any refusal below: the file's values are scrubbed from logs even when it is refused.
  const secret = new Secret(bearer, { alsoScrub: [parsed.data.token] });
  const expiresAt = parseAppleDate(parsed.data.expDate);
  if (!expiresAt) {
    fail(
      'token_bad_expiry',
      `The expiry date inside this VPP token cannot be read. Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}.`,
    );
  }
  const now = (options.now ?? (() => new Date()))();
  if (!options.allowExpired && expiresAt.getTime() <= now.getTime()) {
    fail(
      'token_expired',
      `The VPP token for ${escapeMarkdown(parsed.data.orgName)} expired on ${formatDate(expiresAt)}. Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED} and send me that one.`,
    );
  }
  return { secret, orgName: parsed.data.orgName, expiresAt, fingerprint: tokenFingerprint(bearer) };
}

const innerTokenSchema = z.object({ token: z.string().min(1) });

/**
 * The bearer of a token that was not parsed here (decrypted from the store, say), kept with its inner
 * `token` so that every reveal registers both for log scrubbing: anyone holding the bearer can decode the
 * inner value, so it must stay scrubbed for as long as the bearer is in use.
 */
export function scrubbingInnerToken(bearer: Secret): Secret {
  let inner: unknown;
  try {
    inner = JSON.parse(Buffer.from(bearer.reveal(), 'base64').toString('utf8'));
  } catch {
    return bearer;
  }
  const parsed = innerTokenSchema.safeParse(inner);
  return parsed.success ? bearer.alsoScrubbing([parsed.data.token]) : bearer;
}

/** Builds the text of a `.vpptoken` file; used by the sandbox and tests to mint tokens. */
export function encodeVppTokenFile(fields: { token: string; expDate: Date | string; orgName: string }): string {
  const expDate = typeof fields.expDate === 'string' ? fields.expDate : formatAppleDate(fields.expDate);
  return Buffer.from(JSON.stringify({ token: fields.token, expDate, orgName: fields.orgName }), 'utf8').toString('base64');
}
