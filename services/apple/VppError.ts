import { scrubSecrets } from '../secrets/Secret';

/** What kind of trouble an Apple error is; callers branch on this rather than on numbers. */
export type VppErrorKind =
  | 'token' // the token is expired, revoked, invalid or missing: the admin must act on the token
  | 'rateLimit'
  | 'unavailable' // maintenance, 5xx, dropped connections: try again later
  | 'invalidRequest'
  | 'licenses'
  | 'notFound'
  | 'notRevocable'
  | 'eventTimeout'
  | 'response' // Apple answered something we cannot read
  | 'unknown';

interface ErrorInfo {
  kind: VppErrorKind;
  message: string;
}

const RENEW = 'Download a new token from Apple Business Manager or Apple School Manager (Settings → Payments and Billing) and upload it to the bot.';

/**
 * Admin-readable text for each Apple error number. They say what happened and what to do, and are
 * fixed strings: nothing from a request (least of all the token) is ever interpolated into them.
 */
export const VPP_ERROR_MESSAGES: Readonly<Record<number, ErrorInfo>> = {
  9600: { kind: 'invalidRequest', message: 'Apple refused the request because a required value was missing. This is a bot problem; please report it.' },
  9601: { kind: 'token', message: `Apple says this token is not signed in (login required). ${RENEW}` },
  9602: { kind: 'invalidRequest', message: 'Apple refused a value the bot sent (invalid argument). Try again; if it keeps happening, report it with the time it happened.' },
  9603: { kind: 'unavailable', message: "Apple's service had an internal error. Try again in a few minutes." },
  9609: { kind: 'notFound', message: "Apple does not know this user in the organisation's Apps and Books account (or the user was retired). Run a sync so the bot creates the user again, then retry." },
  9610: { kind: 'notFound', message: 'Apple found no license for this book and user.' },
  9618: { kind: 'licenses', message: 'This user already has a license for this book; nothing more to do.' },
  9619: { kind: 'notFound', message: 'This user has already been retired in Apple Business Manager.' },
  9621: { kind: 'token', message: `This VPP token has expired, so Apple refuses every request made with it. ${RENEW}` },
  9622: { kind: 'token', message: `Apple does not accept this VPP token (invalid token). It may have been replaced by a newer download. ${RENEW}` },
  9625: { kind: 'token', message: `Apple has revoked this VPP token, usually because someone downloaded a newer one. Upload the newest token from Apple Business Manager or Apple School Manager.` },
  9630: { kind: 'rateLimit', message: 'Apple saw too many identical license requests in a short time. Wait a few minutes before trying again.' },
  9631: { kind: 'rateLimit', message: 'Apple saw too many "already assigned" errors recently. Wait a few minutes before trying again.' },
  9632: { kind: 'rateLimit', message: 'Apple saw too many license requests recently. Wait a few minutes before trying again.' },
  9644: { kind: 'unavailable', message: "Apple's Apps and Books service is down for maintenance. The bot will try again later; nothing needs to be done." },
  9646: { kind: 'rateLimit', message: 'Apple is limiting how fast this token may be used (too many requests). The bot slows down and retries on its own; if this persists, sync less often.' },
  9700: { kind: 'invalidRequest', message: 'Too many books in one request for Apple (limit per request exceeded). The bot splits requests; please report this.' },
  9701: { kind: 'invalidRequest', message: 'Too many users in one license request for Apple (limit per request exceeded). The bot splits requests; please report this.' },
  9702: { kind: 'invalidRequest', message: 'Too many devices in one request for Apple. Books can only be assigned to users anyway.' },
  9703: { kind: 'invalidRequest', message: 'Too many users in one user request for Apple (limit per request exceeded). The bot splits requests; please report this.' },
  9704: { kind: 'invalidRequest', message: 'The same book appeared twice in one request to Apple. Please report this.' },
  9705: { kind: 'invalidRequest', message: 'The same user appeared twice in one request to Apple. Please report this.' },
  9706: { kind: 'notRevocable', message: 'Book licenses cannot be taken back: Apple treats a book license as the user\'s once it is assigned. Nothing was changed.' },
  9707: { kind: 'invalidRequest', message: 'Books cannot be assigned to devices, only to users. Assign the book to a user group instead.' },
  9708: { kind: 'notFound', message: 'Apple no longer knows the background job the bot was waiting for (unknown event). Run the assignment or sync again.' },
  9709: { kind: 'licenses', message: 'Not enough licenses: the organisation has no license left for this book. Buy more licenses in Apple Business Manager or Apple School Manager, sync, then retry.' },
  9716: { kind: 'invalidRequest', message: 'This user already exists in the Apps and Books account; the bot will reuse it.' },
  9718: { kind: 'invalidRequest', message: 'The request named no books, or books this organisation does not own. Sync the token so the book list is current, then retry.' },
  9719: { kind: 'invalidRequest', message: 'The request named no users, or users Apple does not know. Sync the token so users are created, then retry.' },
  9720: { kind: 'invalidRequest', message: 'The user request was empty or named users Apple does not know. Sync the token, then retry.' },
  9722: { kind: 'token', message: `Apple could not read the token the bot sent (bad Authorization header). Upload the token again; if that does not help, ${RENEW.charAt(0).toLowerCase()}${RENEW.slice(1)}` },
  9729: { kind: 'unavailable', message: "Apple's Apps and Books service is temporarily unavailable. The bot will try again later." },
};

const RETRYABLE_NUMBERS = new Set([9603, 9644, 9646, 9729]);

export interface VppErrorDetails {
  errorNumber?: number;
  httpStatus?: number;
  /** Apple's own English text, kept for logs and support; scrubbed of known secrets. */
  appleMessage?: string;
  /** Which call failed, e.g. "GET /assets" (never a query string). */
  operation?: string;
  kind?: VppErrorKind;
  message?: string;
  eventId?: string;
  cause?: unknown;
}

/** An Apple Apps and Books error, translated for an admin. `message` is always safe to show and log. */
export class VppError extends Error {
  override readonly name = 'VppError';
  readonly errorNumber: number | undefined;
  readonly httpStatus: number | undefined;
  readonly appleMessage: string | undefined;
  readonly operation: string | undefined;
  readonly kind: VppErrorKind;
  readonly eventId: string | undefined;

  constructor(details: VppErrorDetails) {
    const info = details.errorNumber === undefined ? undefined : VPP_ERROR_MESSAGES[details.errorNumber];
    super(scrubSecrets(details.message ?? info?.message ?? genericMessage(details)), details.cause === undefined ? undefined : { cause: details.cause });
    this.errorNumber = details.errorNumber;
    this.httpStatus = details.httpStatus;
    this.appleMessage = details.appleMessage === undefined ? undefined : scrubSecrets(details.appleMessage);
    this.operation = details.operation;
    this.kind = details.kind ?? info?.kind ?? kindFromStatus(details.httpStatus);
    this.eventId = details.eventId;
  }

  /** Stable reason for audit entries and tests, e.g. "vpp_9621" or "vpp_http_503". */
  get code(): string {
    if (this.errorNumber !== undefined) return `vpp_${this.errorNumber}`;
    if (this.kind === 'eventTimeout') return 'vpp_event_timeout';
    if (this.httpStatus !== undefined) return `vpp_http_${this.httpStatus}`;
    return `vpp_${this.kind}`;
  }

  /** The token itself is the problem: the bot should mark it and ask an admin for a new one. */
  get isTokenProblem(): boolean {
    return this.kind === 'token';
  }

  /** Worth trying again later without changing anything. */
  get isRetryable(): boolean {
    if (this.errorNumber !== undefined) return RETRYABLE_NUMBERS.has(this.errorNumber);
    return this.kind === 'unavailable' || this.kind === 'rateLimit' || this.kind === 'eventTimeout';
  }
}

/** Admin text for an Apple error number; used for per-user failures inside event status. */
export function describeVppErrorNumber(errorNumber: number): string {
  return VPP_ERROR_MESSAGES[errorNumber]?.message ?? genericMessage({ errorNumber });
}

function kindFromStatus(status: number | undefined): VppErrorKind {
  if (status === undefined) return 'unavailable';
  if (status === 429) return 'rateLimit';
  if (status >= 500) return 'unavailable';
  if (status === 401 || status === 403) return 'token';
  if (status === 404) return 'notFound';
  return 'unknown';
}

function genericMessage(details: VppErrorDetails): string {
  const where = details.operation ? ` (${details.operation})` : '';
  if (details.errorNumber !== undefined) {
    return `Apple's Apps and Books service refused the request with error ${details.errorNumber}${where}. Try again later; if it keeps happening, check the token in Apple Business Manager and report the error number.`;
  }
  if (details.httpStatus === undefined) {
    return `Apple's Apps and Books service could not be reached${where}. Check the network connection; the bot will try again at the next sync.`;
  }
  if (details.httpStatus >= 500) {
    return `Apple's Apps and Books service had a problem (HTTP ${details.httpStatus})${where}. The bot will try again later.`;
  }
  return `Apple's Apps and Books service answered with HTTP ${details.httpStatus}${where}. Try again later; if it keeps happening, report it.`;
}
