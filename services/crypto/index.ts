export { TokenCipher, encryptedSecretSchema, type EncryptedSecret } from './TokenCipher';
export { Keyring, KEY_LENGTH_BYTES } from './Keyring';
export { keyringFromSettings, loadOrCreateLocalKey, parseOldKeys, LOCAL_KEY_FILE, type KeySettings } from './keyConfig';
export { TokenDecryptionError, KeyConfigurationError } from './errors';
