import { escapeMarkdown } from '../common/chatText';
import { UserFacing } from '../errors';
import { scrubSecrets } from '../secrets/Secret';

/** What kind of trouble an Intune call met; callers branch on this (or `code`), never on text. */
export type IntuneErrorKind =
  | 'auth' // 401, or no access token: the app registration's credentials
  | 'permission' // 403: an application permission is missing or not consented
  | 'notFound' // 404: the token or book is gone
  | 'refused' // another 4xx: Intune refused what was sent (its reason, made safe, is in userMessage)
  | 'throttled' // 429 after the retries
  | 'unavailable' // 5xx or no answer after the retries
  | 'response'; // an answer that is not what Graph documents

export interface IntuneErrorInit {
  status?: number | undefined;
  /** Graph's `error.code`: for the log and for branching, never shown. */
  graphCode?: string | undefined;
  /** Graph's `request-id`: what Microsoft support asks for. Log only. */
  requestId?: string | undefined;
  /** Technical detail for the log (status, Graph's code and message, path); never a request body. */
  detail?: string | undefined;
}

const ADD_PERMISSION =
  'Entra ID > App registrations > API permissions > Add a permission > Microsoft Graph > Application permissions, then Grant admin consent';

/**
 * An Intune call through Microsoft Graph failed. `userMessage` is for the admin in chat (what happened, what
 * to do); `code` is stable; `message` adds the technical detail for the log. Graph's code and request id
 * are kept as properties for the log only. Every text is scrubbed of known secrets (a `.vpptoken` sent in a
 * request is one), whatever Graph echoed back.
 */
export class IntuneError extends UserFacing {
  override name = 'IntuneError';
  readonly userMessage: string;
  readonly status: number | undefined;
  readonly graphCode: string | undefined;
  readonly requestId: string | undefined;

  constructor(
    userMessage: string,
    readonly code: string,
    readonly kind: IntuneErrorKind,
    init: IntuneErrorInit = {},
  ) {
    const safe = scrubSecrets(userMessage);
    super(init.detail ? `${safe} (${scrubSecrets(init.detail)})` : safe);
    this.userMessage = safe;
    this.status = init.status;
    this.graphCode = init.graphCode;
    this.requestId = init.requestId;
  }
}

/** 401, or Entra ID gave no access token: the tenant, client id or secret is wrong, or the secret expired. */
export class IntuneAuthError extends IntuneError {
  override name = 'IntuneAuthError';

  constructor(init: IntuneErrorInit = {}) {
    super(
      'I could not sign in to Microsoft Graph to reach Intune. Check my app registration (tenant ID, client ID and client secret; secrets expire) or my managed identity, then try again. Nothing was changed.',
      'intune_auth_failed',
      'auth',
      { status: 401, ...init },
    );
  }
}

/**
 * 403: the app registration lacks `permission` (the least privileged one the call documents), or its consent.
 * `alternative`: the permission older revisions of the page named instead, for a tenant that still wants it.
 */
export class IntunePermissionError extends IntuneError {
  override name = 'IntunePermissionError';

  constructor(
    readonly permission: string,
    purpose: string,
    init: IntuneErrorInit & { alternative?: string | undefined } = {},
  ) {
    const { alternative, ...rest } = init;
    const orOlder = alternative ? ` If it has that already, add ${alternative} as well: older Microsoft pages name it for this.` : '';
    super(
      `Intune refused to let me ${purpose}: my app registration needs the Microsoft Graph application permission ${permission} (${ADD_PERMISSION}).${orOlder} ` +
        'The tenant also needs an active Intune license. Nothing was changed.',
      'intune_permission_missing',
      'permission',
      { status: 403, ...rest },
    );
  }
}

/** 404: `what` (a token or a book, in the admin's words) is not in Intune (any more). */
export class IntuneNotFoundError extends IntuneError {
  override name = 'IntuneNotFoundError';

  constructor(
    what: string,
    private readonly init: IntuneErrorInit = {},
  ) {
    super(`${what} was not found in Intune. It may have been deleted there; nothing was changed.`, 'intune_not_found', 'notFound', { status: 404, ...init });
  }

  /** The same 404 saying what was missing in other words: Graph's path names a book or token only by Intune's id. */
  naming(what: string): IntuneNotFoundError {
    return new IntuneNotFoundError(what, this.init);
  }
}

async function naming<T>(call: Promise<T>, what: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw err instanceof IntuneNotFoundError ? err.naming(what) : err;
  }
}

/** An Intune call about one book whose 404 names the book by its title, not by Intune's id. */
export function namingTheBook<T>(call: Promise<T>, book: { title: string }): Promise<T> {
  return naming(call, `The book "${escapeMarkdown(book.title)}"`);
}

/** An Intune call about one token whose 404 names the token by its name, not by Intune's id. */
export function namingTheToken<T>(call: Promise<T>, token: { displayName: string }): Promise<T> {
  return naming(call, `The VPP token "${escapeMarkdown(token.displayName)}"`);
}

/**
 * Another 4xx: Intune refused the request. `reason` is Graph's message already made safe for chat (Intune's
 * support ids and internal URLs cut, secrets scrubbed, Markdown escaped), or undefined when it said nothing useful.
 */
export class IntuneRefusedError extends IntuneError {
  override name = 'IntuneRefusedError';

  constructor(purpose: string, reason: string | undefined, init: IntuneErrorInit = {}) {
    super(
      `Intune refused to ${purpose}${reason ? `: ${reason}` : '.'}${/[.!?]$/.test(reason ?? '.') ? '' : '.'} Nothing was changed.`,
      init.status === 409 ? 'intune_conflict' : 'intune_bad_request',
      'refused',
      init,
    );
  }
}

/**
 * Still throttled (429) or unavailable (5xx, no answer) when the retries ran out. `outcomeUnknown`: the
 * request may have reached Intune before the connection dropped (a create), so the admin checks before repeating it.
 */
export class IntuneUnavailableError extends IntuneError {
  override name = 'IntuneUnavailableError';

  constructor(purpose: string, init: IntuneErrorInit & { outcomeUnknown?: boolean } = {}) {
    const throttled = init.status === 429;
    const what = throttled ? 'Microsoft Graph is throttling my requests to Intune' : 'Intune is busy or could not be reached through Microsoft Graph';
    const outcome = init.outcomeUnknown
      ? 'I cannot tell whether the change was made: check the list in Intune before trying again.'
      : 'Nothing was changed; try again in a few minutes.';
    super(`${what}, so I could not ${purpose}. ${outcome}`, throttled ? 'intune_throttled' : 'intune_unavailable', throttled ? 'throttled' : 'unavailable', init);
  }
}

/** Graph answered something that does not match its documentation (validated with zod). */
export class IntuneResponseError extends IntuneError {
  override name = 'IntuneResponseError';

  constructor(purpose: string, init: IntuneErrorInit = {}) {
    super(
      `Microsoft Graph sent an answer from Intune I did not understand, so I could not ${purpose}. Try again; if it keeps happening, report it with the time it happened.`,
      'intune_bad_response',
      'response',
      init,
    );
  }
}
