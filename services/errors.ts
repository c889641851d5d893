/**
 * The one contract for errors whose text a person reads in chat. `userMessage` is written for them (what
 * happened, what to do) and never carries a secret; `code` is stable, for tests, logs and audit entries.
 * Whatever does not extend it is a bug or an operator's problem: the bot logs it and shows an incident id.
 * An abstract class rather than an interface so that one `instanceof` recognises it without duck typing.
 */
export abstract class UserFacing extends Error {
  abstract readonly userMessage: string;
  abstract readonly code: string;
}

/**
 * An error whose message is written for the admin in chat. Services throw it for anything a person
 * can fix (bad input, a refused rule); the bot shows `message` as is.
 */
export class UserFacingError extends UserFacing {
  override readonly name = 'UserFacingError';

  constructor(
    message: string,
    /** Stable machine-readable reason, for tests and audit entries. */
    readonly code: string = 'user_error',
  ) {
    super(message);
  }

  get userMessage(): string {
    return this.message;
  }
}

/** Start-up configuration is wrong; `message` is one line naming the variable and what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
