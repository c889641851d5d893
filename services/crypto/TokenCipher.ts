import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { Secret } from '../secrets/Secret';
import { TokenDecryptionError } from './errors';
import type { Keyring } from './Keyring';

const ALGORITHM = 'aes-256-gcm';
/** 96-bit IV: the size GCM is specified for; a fresh random one per encryption. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

/** What is stored in place of a secret. Everything in it is safe to keep in the database. */
export const encryptedSecretSchema = z.strictObject({
  keyId: z.string().min(1).max(64),
  iv: base64,
  ciphertext: base64.min(1),
  authTag: base64,
});
export type EncryptedSecret = z.infer<typeof encryptedSecretSchema>;

/**
 * AES-256-GCM for VPP tokens at rest. `context` is bound as additional authenticated data (the token's
 * tenant and id, say), so an encrypted value copied onto another record does not decrypt.
 */
export class TokenCipher {
  constructor(private readonly keyring: Keyring) {}

  encrypt(secret: Secret, context = ''): EncryptedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.keyring.current, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(secret.reveal(), 'utf8'), cipher.final()]);
    return {
      keyId: this.keyring.currentKeyId,
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      authTag: cipher.getAuthTag().toString('base64'),
    };
  }

  decrypt(encrypted: EncryptedSecret, context = ''): Secret {
    const key = this.keyring.key(encrypted.keyId);
    if (!key) {
      throw new TokenDecryptionError(
        `Cannot decrypt: encryption key "${encrypted.keyId}" is not configured (known: ${this.keyring.keyIds.join(', ')}). Add it to TOKEN_ENCRYPTION_OLD_KEYS.`,
        'unknown_key',
      );
    }
    const iv = Buffer.from(encrypted.iv, 'base64');
    const tag = Buffer.from(encrypted.authTag, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new TokenDecryptionError(`Cannot decrypt: the stored IV or authentication tag has the wrong length (key "${encrypted.keyId}")`, 'malformed');
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(Buffer.from(encrypted.ciphertext, 'base64')), decipher.final()]);
      return new Secret(plain.toString('utf8'));
    } catch {
      // GCM does not say which part failed; any change to ciphertext, tag, IV, context or key lands here.
      throw new TokenDecryptionError(
        `Cannot decrypt: the stored token failed authentication with key "${encrypted.keyId}" (tampered data, wrong key or wrong record)`,
        'tampered',
      );
    }
  }

  /** The key every new encryption uses. */
  get currentKeyId(): string {
    return this.keyring.currentKeyId;
  }

  /** Keys kept for decryption only (TOKEN_ENCRYPTION_OLD_KEYS): a rotation is under way while any are set. */
  get oldKeyIds(): string[] {
    return this.keyring.keyIds.filter((id) => id !== this.keyring.currentKeyId);
  }

  /** Decrypts with the stored key and encrypts again with the current one (key rotation). */
  reEncrypt(encrypted: EncryptedSecret, context = ''): EncryptedSecret {
    return this.encrypt(this.decrypt(encrypted, context), context);
  }
}
