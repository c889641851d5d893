/**
 * A stored token could not be decrypted. The message never contains key material or ciphertext, only
 * what an operator needs: which key id, and whether the data or the configuration is at fault.
 */
export class TokenDecryptionError extends Error {
  override readonly name = 'TokenDecryptionError';

  constructor(
    message: string,
    readonly reason: 'unknown_key' | 'tampered' | 'malformed',
  ) {
    super(message);
  }
}

/** The encryption keys in the configuration are unusable; start-up should stop. */
export class KeyConfigurationError extends Error {
  override readonly name = 'KeyConfigurationError';
}
