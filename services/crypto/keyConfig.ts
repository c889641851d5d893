import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { KeyConfigurationError } from './errors';
import { KEY_LENGTH_BYTES, Keyring } from './Keyring';

export interface KeySettings {
  /** TOKEN_ENCRYPTION_KEY: 32 bytes, base64. */
  key: string;
  /** TOKEN_ENCRYPTION_KEY_ID */
  keyId: string;
  /** TOKEN_ENCRYPTION_OLD_KEYS: "id:base64,id:base64", keys kept for decryption only. */
  oldKeys?: string | undefined;
}

function decodeKey(id: string, value: string): Buffer {
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length !== KEY_LENGTH_BYTES) {
    throw new KeyConfigurationError(`Encryption key "${id}" must be ${KEY_LENGTH_BYTES} bytes encoded as base64`);
  }
  return key;
}

/** Parses "id:base64,id:base64"; base64 has no ':' so the first colon separates id and key. */
export function parseOldKeys(value: string | undefined): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new KeyConfigurationError('TOKEN_ENCRYPTION_OLD_KEYS must look like "id:base64,id:base64"');
    const id = entry.slice(0, colon);
    if (keys.has(id)) throw new KeyConfigurationError(`TOKEN_ENCRYPTION_OLD_KEYS lists key "${id}" twice`);
    keys.set(id, decodeKey(id, entry.slice(colon + 1)));
  }
  return keys;
}

export function keyringFromSettings(settings: KeySettings): Keyring {
  const keys = parseOldKeys(settings.oldKeys);
  const current = decodeKey(settings.keyId, settings.key);
  const old = keys.get(settings.keyId);
  if (old && !old.equals(current)) {
    throw new KeyConfigurationError(`TOKEN_ENCRYPTION_OLD_KEYS has a different key under the current id "${settings.keyId}"`);
  }
  keys.set(settings.keyId, current);
  return new Keyring(settings.keyId, keys);
}

export const LOCAL_KEY_FILE = 'token-encryption.key';

const localKeyFileSchema = z.object({ keyId: z.string().min(1).max(64), key: z.string().min(1) });

/**
 * Local mode only: a key generated on first start and kept (mode 0600) in the data folder, so the
 * local store's tokens survive restarts without the operator configuring anything. Losing the file
 * makes the stored tokens unreadable, as it should.
 */
export async function loadOrCreateLocalKey(dataDir: string, keyId = 'local-1'): Promise<KeySettings> {
  const file = path.join(dataDir, LOCAL_KEY_FILE);
  try {
    const raw = await fs.readFile(file, 'utf8');
    const parsed = localKeyFileSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) throw new KeyConfigurationError('the local key file is not {"keyId","key"}');
    const stored = parsed.data;
    decodeKey(stored.keyId, stored.key);
    return { keyId: stored.keyId, key: stored.key };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyConfigurationError(`Cannot use the local encryption key ${file}: ${(err as Error).message}`);
    }
  }
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const settings = { keyId, key: randomBytes(KEY_LENGTH_BYTES).toString('base64') };
  // Written aside and hard-linked into place: the link either publishes a complete file or fails
  // with EEXIST, so a concurrent first start never reads half a key and never overwrites one.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(temp, JSON.stringify(settings), { mode: 0o600 });
  try {
    await fs.link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateLocalKey(dataDir, keyId);
    throw err;
  } finally {
    await fs.rm(temp, { force: true });
  }
  return settings;
}
