import { UserFacing } from '../errors';

/**
 * Graph failures with a message an admin can act on (`userMessage`, shown in chat as is) and a stable
 * `code` for tests and logs. `message` carries the technical detail for the log.
 */
export class DirectoryError extends UserFacing {
  override name = 'DirectoryError';

  constructor(
    readonly userMessage: string,
    readonly code: string,
    readonly status?: number,
    detail?: string,
  ) {
    super(detail ? `${userMessage} (${detail})` : userMessage);
  }
}

/** 403: the app registration lacks an application permission (or admin consent for it). */
export class DirectoryPermissionError extends DirectoryError {
  override name = 'DirectoryPermissionError';

  constructor(
    readonly permission: string,
    purpose: string,
    detail?: string,
  ) {
    super(
      `Microsoft Graph refused to ${purpose}: my app registration needs the application permission ${permission} ` +
        '(Entra ID > App registrations > API permissions > Microsoft Graph > Application permissions, then Grant admin consent).',
      'graph_permission_missing',
      403,
      detail,
    );
  }
}

/** 404: the group or user does not exist (any more). */
export class DirectoryNotFoundError extends DirectoryError {
  override name = 'DirectoryNotFoundError';

  constructor(what: string, detail?: string) {
    super(`${what} was not found in Entra ID. It may have been deleted; search again.`, 'graph_not_found', 404, detail);
  }
}

/** 401 or a failed token request: the client id, secret or tenant is wrong or the secret expired. */
export class DirectoryAuthError extends DirectoryError {
  override name = 'DirectoryAuthError';

  constructor(detail?: string) {
    super(
      'I could not sign in to Microsoft Graph. Check my app registration (tenant ID, client ID and client secret; secrets expire), then try again.',
      'graph_auth_failed',
      401,
      detail,
    );
  }
}

/** Still throttled (429/503) after the bounded retries, or Graph unreachable. */
export class DirectoryUnavailableError extends DirectoryError {
  override name = 'DirectoryUnavailableError';

  constructor(status: number | undefined, detail?: string) {
    super(
      'Microsoft Graph is busy or unreachable right now, so I could not read the directory. Nothing was changed; please try again in a few minutes.',
      status === 429 ? 'graph_throttled' : 'graph_unavailable',
      status,
      detail,
    );
  }
}

/** Graph answered something that does not match what we expect (validated with zod). */
export class DirectoryResponseError extends DirectoryError {
  override name = 'DirectoryResponseError';

  constructor(detail: string, status?: number) {
    super('Microsoft Graph sent an answer I did not understand, so I could not read the directory. Please try again.', 'graph_bad_response', status, detail);
  }
}
