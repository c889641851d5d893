import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../services/errors';
import type { MemberNotice } from '../services/store/entities/memberNotice';

/** A file served once for a download link. */
export interface CsvFile {
  fileName: string;
  csv: string;
}

/** 256 random bits, base64url: 43 characters, nothing to guess. */
const SECRET_BYTES = 32;
export const exportSecretSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an export link secret');

export const EXPORT_PATH = '/api/exports';

/** A new download link's secret and the id stored for it (its SHA-256: the database never holds a working link). */
export function newExportSecret(): { secret: string; id: string } {
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { secret, id: exportIdOf(secret) };
}

export function exportIdOf(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function exportUrl(publicBaseUrl: string, secret: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${EXPORT_PATH}/${secret}`;
}

/** Where a request path carries an export secret, for logs: the secret is a credential and never logged. */
export function redactExportPath(url: string | undefined): string | undefined {
  return url?.replace(/(\/api\/exports\/)[^?#]*/i, '$1[redacted]');
}

/**
 * One CSV field (RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled). A field that
 * a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with an apostrophe: names
 * come from the directory, and opening the list must not run anything.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const UNREACHABLE_CSV_HEADER = ['name', 'e-mail', 'invitation link', 'reason'] as const;

/**
 * Every unreachable member, one row each: name, e-mail, invitation link, reason. CRLF line ends and a
 * UTF-8 byte order mark, so Excel opens names with accents correctly.
 */
export function unreachableCsv(notices: readonly MemberNotice[]): string {
  const rows = [UNREACHABLE_CSV_HEADER.join(',')];
  for (const notice of notices) {
    rows.push([notice.member.displayName, notice.member.mail ?? '', notice.invitationUrl ?? '', notice.reason ?? ''].map(csvField).join(','));
  }
  return `\uFEFF${rows.join('\r\n')}\r\n`;
}

/** `unreachable-members-<book>-<date>.csv`, in plain ASCII so every browser keeps the name. */
export function unreachableCsvFileName(bookTitle: string, date: Date): string {
  const slug =
    bookTitle
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .replace(/[\s_]+/g, '-')
      .toLowerCase()
      .slice(0, 60) || 'book';
  return `unreachable-members-${slug}-${date.toISOString().slice(0, 10)}.csv`;
}

/** A bare host name (what BOT_HOSTNAME and App Service's WEBSITE_HOSTNAME hold), not a URL. */
const hostNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host name such as vppbooks.azurewebsites.net, without https://');

/**
 * The bot's public https address in production, for download links: BOT_HOSTNAME (the same variable the
 * Teams package uses), else App Service's own WEBSITE_HOSTNAME. Undefined when neither is set: the summary
 * then says so instead of offering a link. A wrong value stops start-up, like every other setting.
 */
export function productionPublicBaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of ['BOT_HOSTNAME', 'WEBSITE_HOSTNAME'] as const) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    const parsed = hostNameSchema.safeParse(value);
    if (!parsed.success) throw new ConfigError(`Invalid configuration: ${name}: ${parsed.error.issues[0]?.message ?? 'a host name'}`);
    return `https://${parsed.data}`;
  }
  return undefined;
}
