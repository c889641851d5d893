/**
 * An error whose message is written for the admin in chat. Services throw it for anything a person
 * can fix (bad input, a refused rule); the bot shows `message` as is.
 */
export class UserFacingError extends Error {
  override readonly name = 'UserFacingError';

  constructor(
    message: string,
    /** Stable machine-readable reason, for tests and audit entries. */
    readonly code: string = 'user_error',
  ) {
    super(message);
  }
}

/** Start-up configuration is wrong; `message` is one line naming the variable and what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
