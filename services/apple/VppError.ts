import { APPLE_PORTALS, WHERE_TOKENS_ARE_DOWNLOADED } from '../common/appleTerms';
import { UserFacing } from '../errors';
import { scrubSecrets } from '../secrets/Secret';
import type { ErrorInfo as AppleErrorInfo } from './schemas';

/** What kind of trouble an Apple error is; callers branch on this rather than on numbers. */
export type VppErrorKind =
  | 'token' // the token is expired, revoked, invalid or missing: the admin must act on the token
  | 'rateLimit'
  | 'unavailable' // maintenance, 5xx, dropped connections: try again later
  | 'ownership' // another MDM holds the token now: spend nothing until an admin takes it back
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

/** How a new file reaches the bot from outside a token flow; inside one, the flow asks for it itself. */
const SEND_BY_COMMAND = ': type **renew** (or **upload token** if I do not have this token yet)';

const RENEW = `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}, then send it to me${SEND_BY_COMMAND}.`;

const REPORT = 'This is a problem on my side; please report it with the time it happened.';

/**
 * Admin-readable text for each Apple error number, by Apple's documented meaning: the v2 table in
 * "Handling error responses" and /service/config's `errorCodes` (9601–9650, 9700–9728), the asynchronous
 * ones from "Managing assets" / "Managing users" (9609, 9709, 9716), and the legacy v1 list for the
 * 96xx numbers older answers still carry (test/fixtures/apple/NOTES.md quotes each). They say what
 * happened and what to do, and are fixed strings: nothing from a request (least of all the token) is
 * ever interpolated into them.
 */
export const VPP_ERROR_MESSAGES: Readonly<Record<number, ErrorInfo>> = {
  // ---- legacy (v1) numbers, still seen on v2 answers ----
  9600: { kind: 'invalidRequest', message: `Apple refused the request because a required value was missing. ${REPORT}` },
  9601: { kind: 'token', message: `Apple says this token is not signed in (login required). ${RENEW}` },
  9602: { kind: 'invalidRequest', message: 'Apple refused a value I sent (invalid argument). Try again; if it keeps happening, report it with the time it happened.' },
  9603: { kind: 'unavailable', message: "Apple's service had an internal error. Try again in a few minutes." },
  9604: { kind: 'notFound', message: 'Apple found nothing for this request (result not found).' },
  9605: { kind: 'invalidRequest', message: `Apple says the account's store country does not match this request (account storefront incorrect). Check the location's country in ${APPLE_PORTALS}.` },
  9606: { kind: 'unavailable', message: 'Apple could not build a token for this request (error constructing token). Try again later.' },
  9607: { kind: 'notRevocable', message: "Book licenses cannot be taken back: Apple treats a book license as the user's once it is assigned (license is irrevocable). Nothing was changed." },
  9608: { kind: 'unavailable', message: "Apple's license service answered with nothing. Try again later." },
  9609: { kind: 'notFound', message: "Apple does not know this user in the organisation's Apps and Books account (or the user was retired). Type **sync** so that I create the user again, then try again." },
  9610: { kind: 'notFound', message: 'Apple found no license for this book and user.' },
  9611: { kind: 'notFound', message: 'Apple found no administrator for this request (admin user not found).' },
  9612: { kind: 'unavailable', message: 'Apple could not start assigning the license (failed to create claim job). Try again later.' },
  9613: { kind: 'unavailable', message: 'Apple could not start releasing the license (failed to create unclaim job). Try again later.' },
  9614: { kind: 'invalidRequest', message: `Apple refused a date I sent (invalid date format). ${REPORT}` },
  9615: { kind: 'invalidRequest', message: `Apple has no country set for this organisation (OrgCountry not found). Check the location's country in ${APPLE_PORTALS}.` },
  9616: { kind: 'licenses', message: 'This user already has a license for this book; nothing more to do.' },
  9617: { kind: 'unavailable', message: "Apple's service has moved; I read the new address from Apple's service configuration. Try again in a few minutes." },
  9618: { kind: 'notFound', message: 'This user has already been retired in the Apps and Books account.' },
  9619: { kind: 'notFound', message: 'This license is not assigned to anyone (license not associated).' },
  9620: { kind: 'notFound', message: 'This user has already been deleted from the Apps and Books account.' },
  9621: { kind: 'token', message: `This VPP token has expired, so Apple refuses every request made with it. ${RENEW}` },
  9622: { kind: 'token', message: `Apple does not accept this VPP token (invalid token). It may have been replaced by a newer download. ${RENEW}` },
  9623: { kind: 'invalidRequest', message: `Apple refused a push notification token (invalid APN token). ${REPORT}` },
  9624: { kind: 'licenses', message: 'This license was refunded and is no longer valid.' },
  9625: { kind: 'token', message: `Apple has revoked this VPP token, usually because someone downloaded a newer one. ${RENEW}` },
  9626: { kind: 'licenses', message: 'This license is already assigned to another user.' },
  9627: { kind: 'rateLimit', message: 'Apple refused to move this license again so soon (frequent reassociation). Wait before trying again.' },
  9628: { kind: 'invalidRequest', message: 'This license cannot be assigned to a device. Books can only be assigned to users.' },
  9629: { kind: 'token', message: `Apple says this token cannot be used for this kind of request (sToken inapplicable). ${RENEW}` },
  9630: { kind: 'rateLimit', message: 'Apple saw too many identical license requests for licenses already assigned. Wait a few minutes before trying again.' },
  9631: { kind: 'rateLimit', message: 'Apple saw too many identical license requests while no license was left. Buy more licenses or wait a few minutes before trying again.' },
  9632: { kind: 'rateLimit', message: 'Apple saw too many identical license requests recently. Wait a few minutes before trying again.' },
  9633: { kind: 'unavailable', message: 'Apple has no data for this request yet (no batch data recovered). Try again later.' },
  9634: { kind: 'unavailable', message: 'Apple says this service is no longer available (service removed). I need an update; please report it.' },
  9635: { kind: 'invalidRequest', message: "This Apple Account can't be linked to the user." },
  9636: { kind: 'notFound', message: 'Apple found no such user in the Apps and Books account (no registered user found).' },
  9637: { kind: 'invalidRequest', message: 'Apple does not allow this operation for this account (facilitator operation not allowed).' },
  9641: { kind: 'invalidRequest', message: 'This Apple Account is already linked to a user in the Apps and Books account.' },
  9642: { kind: 'invalidRequest', message: "This Apple Account can't be used yet: its owner must first accept Apple's terms in the App Store." },
  9643: { kind: 'rateLimit', message: 'This license is locked by a transfer in progress. Try again in a few minutes.' },
  9644: { kind: 'unavailable', message: "Apple's Apps and Books service is down for maintenance. I will try again later; you need not do anything." },
  9646: { kind: 'rateLimit', message: 'Apple is limiting how fast this token may be used (too many requests). I slow down and try again on my own; if this keeps happening, sync less often.' },
  9650: { kind: 'response', message: "Apple's book or user list changed while I read it page by page (page index out of range). I read it again at the next sync." },
  // ---- v2 numbers ----
  9700: { kind: 'invalidRequest', message: `Too many books in one request for Apple (max assets limit). I split requests by Apple's limits; ${REPORT}` },
  9701: { kind: 'invalidRequest', message: `Too many users in one license request for Apple (max clientUserIds limit). I split requests by Apple's limits; ${REPORT}` },
  9702: { kind: 'invalidRequest', message: `Too many devices in one request for Apple (max serialNumbers limit). ${REPORT}` },
  9703: { kind: 'invalidRequest', message: `The same book appeared twice in one request to Apple (duplicate assets). ${REPORT}` },
  9704: { kind: 'invalidRequest', message: `The same user appeared twice in one license request to Apple (duplicate clientUserIds). ${REPORT}` },
  9705: { kind: 'invalidRequest', message: `The same device appeared twice in one request to Apple (duplicate serial numbers). ${REPORT}` },
  9706: { kind: 'notRevocable', message: "Book licenses cannot be taken back: Apple treats a book license as the user's once it is assigned. Nothing was changed." },
  9707: { kind: 'invalidRequest', message: 'Books cannot be assigned to devices, only to users. Assign the book to a user group instead.' },
  9708: { kind: 'notFound', message: 'Apple no longer knows the background job I was waiting for (unknown event). Start the assignment or the sync again.' },
  9709: { kind: 'licenses', message: `Not enough licenses: the organisation has no license left for this book. Buy more licenses in ${APPLE_PORTALS}, type **sync**, then try again.` },
  9710: { kind: 'invalidRequest', message: `Apple needs both a notification address and its secret (notification settings incomplete). ${REPORT}` },
  9711: { kind: 'invalidRequest', message: `Apple refused the notification address or its secret as too long. ${REPORT}` },
  9712: { kind: 'invalidRequest', message: 'Apple only sends notifications to a valid HTTPS address.' },
  9713: { kind: 'invalidRequest', message: `Apple refused my MDM description as too long (MDM metadata exceeds the maximum length). ${REPORT}` },
  9714: { kind: 'invalidRequest', message: `Too many users in one user request for Apple (number of users exceeds the maximum). I split requests by Apple's limits; ${REPORT}` },
  9715: { kind: 'invalidRequest', message: `The same user appeared twice in one user request to Apple (duplicate users). ${REPORT}` },
  9716: { kind: 'invalidRequest', message: 'This user already exists in the Apps and Books account; I use that one.' },
  9717: { kind: 'invalidRequest', message: "Apple refused this user's e-mail address (invalid e-mail address). Correct the user's e-mail address in Entra ID, then assign again." },
  9718: { kind: 'invalidRequest', message: `Apple got a license request without a book (assets are required). ${REPORT}` },
  9719: { kind: 'invalidRequest', message: `Apple got a license request without users (clientUserIds or serialNumbers are required). ${REPORT}` },
  9720: { kind: 'invalidRequest', message: `Apple got a user request without users (users are required). ${REPORT}` },
  9721: { kind: 'response', message: 'Apple no longer accepts the bookmark of the last sync (invalid version ID). I read everything again; you need not do anything.' },
  9722: { kind: 'token', message: `Apple could not read the token I sent (bad Authorization header). Upload the token again; if that does not help, ${RENEW.charAt(0).toLowerCase()}${RENEW.slice(1)}` },
  9723: { kind: 'invalidRequest', message: `Apple needs the MDM's name, id and description to record who manages this token. ${REPORT}` },
  9724: { kind: 'invalidRequest', message: 'Apple refused the MDM id as too long. Set MDM_ID to at most 100 characters.' },
  9725: { kind: 'invalidRequest', message: 'Apple refused the MDM name as too long. Set MDM_NAME to at most 100 characters.' },
  9726: { kind: 'invalidRequest', message: `Apple does not accept this kind of request here (unsupported HTTP method). ${REPORT}` },
  9727: { kind: 'invalidRequest', message: `Apple did not understand the request's format (unsupported Content-Type). ${REPORT}` },
  9728: { kind: 'invalidRequest', message: "Apple could not reach the bot's notification address." },
  // Not on Apple's v2 pages; a captured service configuration lists it. Treated as a passing outage, as Apple's other 5xx answers.
  9729: { kind: 'unavailable', message: "Apple's Apps and Books service is temporarily unavailable. I will try again later." },
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
  /** Who the refusal is about (Apple's `errorInfo`): e.g. the users whose e-mail was refused. */
  errorInfo?: AppleErrorInfo | undefined;
  /** How long Apple asked to wait (Retry-After), when it did. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** An Apple Apps and Books error, translated for an admin. `message` is always safe to show and log. */
export class VppError extends UserFacing {
  override readonly name = 'VppError';
  readonly errorNumber: number | undefined;
  readonly httpStatus: number | undefined;
  readonly appleMessage: string | undefined;
  readonly operation: string | undefined;
  readonly kind: VppErrorKind;
  readonly eventId: string | undefined;
  readonly errorInfo: AppleErrorInfo | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(details: VppErrorDetails) {
    const info = details.errorNumber === undefined ? undefined : VPP_ERROR_MESSAGES[details.errorNumber];
    super(scrubSecrets(details.message ?? info?.message ?? genericMessage(details)), details.cause === undefined ? undefined : { cause: details.cause });
    this.errorNumber = details.errorNumber;
    this.httpStatus = details.httpStatus;
    this.appleMessage = details.appleMessage === undefined ? undefined : scrubSecrets(details.appleMessage);
    this.operation = details.operation;
    this.kind = details.kind ?? info?.kind ?? kindFromStatus(details.httpStatus);
    this.eventId = details.eventId;
    this.errorInfo = details.errorInfo;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** The admin text: the message itself, written and scrubbed for chat by construction. */
  get userMessage(): string {
    return this.message;
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

  /**
   * Worth trying again later without changing anything: Apple busy, rate limiting or down (a 429 or 5xx
   * whatever errorNumber came with it), or an event still pending when the bot stopped waiting.
   */
  get isRetryable(): boolean {
    if (this.httpStatus !== undefined && (this.httpStatus === 429 || this.httpStatus >= 500)) return true;
    if (this.errorNumber !== undefined) return RETRYABLE_NUMBERS.has(this.errorNumber);
    return this.kind === 'unavailable' || this.kind === 'rateLimit' || this.kind === 'eventTimeout';
  }
}

/**
 * The message for a flow that is asking for the token file already: without the commands that would start
 * one, which the flow's own question does not take.
 */
export function withoutSendCommand(message: string): string {
  return message.replace(SEND_BY_COMMAND, '');
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
    return `Apple's Apps and Books service refused the request with error ${details.errorNumber}${where}. Try again later; if it keeps happening, check the token in ${APPLE_PORTALS} and report the error number.`;
  }
  if (details.httpStatus === undefined) {
    return `Apple's Apps and Books service could not be reached${where}. Check the network connection; I will try again at the next sync.`;
  }
  if (details.httpStatus >= 500) {
    return `Apple's Apps and Books service had a problem (HTTP ${details.httpStatus})${where}. I will try again later.`;
  }
  return `Apple's Apps and Books service answered with HTTP ${details.httpStatus}${where}. Try again later; if it keeps happening, report it.`;
}
