import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { Secret } from '../../../services/secrets/Secret';
import { Keyring } from '../../../services/crypto/Keyring';
import { TokenCipher, type EncryptedSecret } from '../../../services/crypto/TokenCipher';
import { KeyConfigurationError, TokenDecryptionError } from '../../../services/crypto/errors';
import { keyringFromSettings, loadOrCreateLocalKey, LOCAL_KEY_FILE } from '../../../services/crypto/keyConfig';

const key = (fill: number) => Buffer.alloc(32, fill);
const token = new Secret('eyJ0b2tlbiI6InNlY3JldC12cHAtdG9rZW4tdmFsdWUiLCJvcmdOYW1lIjoiQ29udG9zbyJ9');

function flipFirstByte(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
  return bytes.toString('base64');
}

function assertRejected(fn: () => unknown, reason: TokenDecryptionError['reason']): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TokenDecryptionError, `expected TokenDecryptionError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    assert.match(err.message, /^Cannot decrypt: /);
    return true;
  });
}

describe('TokenCipher (AES-256-GCM)', () => {
  const cipher = new TokenCipher(new Keyring('k1', new Map([['k1', key(1)]])));

  it('round-trips a secret and never stores it in the clear', () => {
    const encrypted = cipher.encrypt(token, 'tenant/token-1');
    assert.equal(encrypted.keyId, 'k1');
    assert.equal(Buffer.from(encrypted.iv, 'base64').length, 12);
    assert.equal(Buffer.from(encrypted.authTag, 'base64').length, 16);
    assert.ok(!JSON.stringify(encrypted).includes(token.reveal()));
    assert.equal(cipher.decrypt(encrypted, 'tenant/token-1').reveal(), token.reveal());
  });

  it('uses a fresh IV every time', () => {
    const a = cipher.encrypt(token);
    const b = cipher.encrypt(token);
    assert.notEqual(a.iv, b.iv);
    assert.notEqual(a.ciphertext, b.ciphertext);
  });

  for (const field of ['ciphertext', 'authTag', 'iv'] as const) {
    it(`rejects a tampered ${field}`, () => {
      const encrypted = cipher.encrypt(token);
      const tampered: EncryptedSecret = { ...encrypted, [field]: flipFirstByte(encrypted[field]) };
      assertRejected(() => cipher.decrypt(tampered), 'tampered');
    });
  }

  it('rejects a value moved onto another record (different context)', () => {
    const encrypted = cipher.encrypt(token, 'tenant-a/token-1');
    assertRejected(() => cipher.decrypt(encrypted, 'tenant-b/token-1'), 'tampered');
  });

  it('rejects a truncated IV or tag as malformed', () => {
    const encrypted = cipher.encrypt(token);
    assertRejected(() => cipher.decrypt({ ...encrypted, iv: Buffer.alloc(4).toString('base64') }), 'malformed');
  });

  it('rejects an unknown key id with a message naming it', () => {
    const encrypted = { ...cipher.encrypt(token), keyId: 'gone' };
    assertRejected(() => cipher.decrypt(encrypted), 'unknown_key');
    assert.throws(() => cipher.decrypt(encrypted), /"gone" is not configured/);
  });

  it('rejects the right key id with the wrong key bytes', () => {
    const other = new TokenCipher(new Keyring('k1', new Map([['k1', key(2)]])));
    assertRejected(() => other.decrypt(cipher.encrypt(token)), 'tampered');
  });

  it('never prints key material', () => {
    const ring = new Keyring('k1', new Map([['k1', key(9)]]));
    const printed = `${inspect(ring)} ${JSON.stringify(ring)}`;
    assert.ok(!printed.includes(key(9).toString('base64')));
    assert.match(printed, /k1/);
  });
});

describe('key rotation', () => {
  it('decrypts with the stored key id and encrypts with the current one', () => {
    const before = new TokenCipher(new Keyring('k1', new Map([['k1', key(1)]])));
    const old = before.encrypt(token, 'ctx');
    const after = new TokenCipher(keyringFromSettings({ keyId: 'k2', key: key(2).toString('base64'), oldKeys: `k1:${key(1).toString('base64')}` }));
    assert.equal(after.decrypt(old, 'ctx').reveal(), token.reveal());
    const rotated = after.reEncrypt(old, 'ctx');
    assert.equal(rotated.keyId, 'k2');
    assert.equal(after.decrypt(rotated, 'ctx').reveal(), token.reveal());
    // Once the old key is dropped, the rotated value still reads and the old one is refused clearly.
    const newOnly = new TokenCipher(new Keyring('k2', new Map([['k2', key(2)]])));
    assert.equal(newOnly.decrypt(rotated, 'ctx').reveal(), token.reveal());
    assert.throws(() => newOnly.decrypt(old, 'ctx'), /"k1" is not configured/);
  });

  it('tells the current key from the old ones kept for decryption (what the re-encryption sweep reports on)', () => {
    const rotating = new TokenCipher(keyringFromSettings({ keyId: 'k3', key: key(3).toString('base64'), oldKeys: `k1:${key(1).toString('base64')},k2:${key(2).toString('base64')}` }));
    assert.equal(rotating.currentKeyId, 'k3');
    assert.deepEqual(rotating.oldKeyIds.sort(), ['k1', 'k2']);
    assert.deepEqual(new TokenCipher(new Keyring('k3', new Map([['k3', key(3)]]))).oldKeyIds, []);
  });

  const refusals: Array<[string, Parameters<typeof keyringFromSettings>[0], RegExp]> = [
    ['a short key', { keyId: 'k1', key: Buffer.alloc(16).toString('base64') }, /must be 32 bytes/],
    ['a malformed old key list', { keyId: 'k1', key: key(1).toString('base64'), oldKeys: 'nocolon' }, /id:base64/],
    ['a short old key', { keyId: 'k1', key: key(1).toString('base64'), oldKeys: `k0:${Buffer.alloc(8).toString('base64')}` }, /"k0" must be 32 bytes/],
    ['a duplicate old key id', { keyId: 'k2', key: key(2).toString('base64'), oldKeys: `k1:${key(1).toString('base64')},k1:${key(1).toString('base64')}` }, /twice/],
    ['a conflicting key under the current id', { keyId: 'k1', key: key(1).toString('base64'), oldKeys: `k1:${key(3).toString('base64')}` }, /different key/],
    ['a bad key id', { keyId: 'bad id!', key: key(1).toString('base64') }, /key id/],
  ];
  for (const [name, settings, message] of refusals) {
    it(`refuses ${name}`, () => {
      assert.throws(() => keyringFromSettings(settings), (err: unknown) => err instanceof KeyConfigurationError && message.test(err.message));
    });
  }
});

describe('loadOrCreateLocalKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vpp-key-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates a 0600 key file once and returns the same key afterwards', async () => {
    const first = await loadOrCreateLocalKey(path.join(dir, 'data'));
    const file = path.join(dir, 'data', LOCAL_KEY_FILE);
    const stat = await fs.stat(file);
    if (process.platform !== 'win32') assert.equal(stat.mode & 0o777, 0o600);
    assert.equal(Buffer.from(first.key, 'base64').length, 32);
    const second = await loadOrCreateLocalKey(path.join(dir, 'data'));
    assert.deepEqual(second, first);
    const cipher = new TokenCipher(keyringFromSettings(second));
    assert.equal(new TokenCipher(keyringFromSettings(first)).decrypt(cipher.encrypt(token)).reveal(), token.reveal());
  });

  it('gives one key to concurrent first starts', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateLocalKey(dir)));
    for (const r of results) assert.deepEqual(r, results[0]);
  });

  it('refuses a corrupt key file instead of replacing it', async () => {
    await fs.writeFile(path.join(dir, LOCAL_KEY_FILE), JSON.stringify({ keyId: 'local-1', key: randomBytes(5).toString('base64') }));
    await assert.rejects(loadOrCreateLocalKey(dir), KeyConfigurationError);
  });
});
