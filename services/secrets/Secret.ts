import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Every secret value the process has seen. The logger scrubs these from every line, so a token that
 * slips into an error message or a request dump still never reaches a log.
 */
const knownSecretValues = new Set<string>();

/** Shortest value worth scrubbing: shorter strings would redact ordinary words. */
const MIN_SCRUBBED_LENGTH = 8;

/**
 * A value that must never be printed: toString, JSON and util.inspect all show a redaction. The only
 * way to the plain value is `reveal()`, which makes every use greppable.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    if (value.length >= MIN_SCRUBBED_LENGTH) knownSecretValues.add(value);
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

/** Registers a value derived from a secret (a decoded inner token, say) so logs scrub it too. */
export function registerSecretValue(value: string): void {
  if (value.length >= MIN_SCRUBBED_LENGTH) knownSecretValues.add(value);
}

/** Replaces every known secret value inside `text` with a redaction marker. */
export function scrubSecrets(text: string): string {
  let result = text;
  for (const value of knownSecretValues) {
    if (result.includes(value)) result = result.split(value).join(REDACTED);
  }
  return result;
}
