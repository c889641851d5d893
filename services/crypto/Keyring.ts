import { KeyConfigurationError } from './errors';

export const KEY_LENGTH_BYTES = 32;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Every key the process can decrypt with, by id, and the one it encrypts with. Keeping old keys lets
 * an operator rotate: set a new current key, keep the old one until every token is re-encrypted.
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  constructor(currentKeyId: string, keys: ReadonlyMap<string, Buffer>) {
    for (const [id, key] of keys) {
      if (!KEY_ID_PATTERN.test(id)) throw new KeyConfigurationError(`Encryption key id "${id}" must be 1-64 letters, digits, dot, dash or underscore`);
      if (key.length !== KEY_LENGTH_BYTES) throw new KeyConfigurationError(`Encryption key "${id}" must be ${KEY_LENGTH_BYTES} bytes (it is ${key.length})`);
    }
    if (!keys.has(currentKeyId)) throw new KeyConfigurationError(`The current encryption key id "${currentKeyId}" has no key`);
    // Copies, so a caller that zeroes or reuses its buffer cannot change what we encrypt with.
    this.#keys = new Map([...keys].map(([id, key]) => [id, Buffer.from(key)]));
    this.currentKeyId = currentKeyId;
  }

  get current(): Buffer {
    return this.#keys.get(this.currentKeyId) as Buffer;
  }

  key(keyId: string): Buffer | undefined {
    return this.#keys.get(keyId);
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Never print key bytes, even by accident through a logger or a failed assertion. */
  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Keyring(current=${this.currentKeyId}, keys=${this.keyIds.join(',')})`;
  }
}
