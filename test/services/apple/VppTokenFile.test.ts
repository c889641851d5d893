import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { UserFacingError } from '../../../services/errors';
import {
  MAX_TOKEN_FILE_BYTES,
  encodeVppTokenFile,
  mayBeTokenPaste,
  parseAppleDate,
  parseVppTokenFile,
} from '../../../services/apple/VppTokenFile';
import { DEMO_TOKEN_FILES } from '../../../local/appleSandbox/demoData';
import { Secret, isolateSecretRegistryForTests, scrubSecrets } from '../../../services/secrets/Secret';
import { VppTransport } from '../../../services/apple/VppTransport';
import { z } from 'zod';
import sinon from 'sinon';

const NOW = new Date('2026-01-15T10:00:00Z');
const now = (): Date => NOW;
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const VALID = encodeVppTokenFile({ token: 'inner-token-value-1234567890', expDate: '2030-11-08T22:33:22+0000', orgName: 'Contoso School' });

function refusal(input: string | Buffer): string {
  try {
    parseVppTokenFile(input, { now });
  } catch (error) {
    assert.ok(error instanceof UserFacingError, `expected UserFacingError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a refusal');
}

describe('VPP token file parsing', () => {
  it('reads orgName, expiry and keeps the whole Base64 text as the secret', () => {
    const token = parseVppTokenFile(`\n  ${VALID}\r\n`, { now });
    assert.equal(token.orgName, 'Contoso School');
    assert.equal(token.expiresAt.toISOString(), '2030-11-08T22:33:22.000Z');
    assert.equal(token.secret.reveal(), VALID);
    assert.equal(String(token.secret), '[redacted]');
    assert.equal(JSON.stringify(token).includes(VALID), false);
    assert.match(token.fingerprint, /^[0-9a-f]{32}$/);
  });

  it('accepts a Buffer, a byte-order mark and line-wrapped Base64', () => {
    assert.equal(parseVppTokenFile(Buffer.from(VALID), { now }).orgName, 'Contoso School');
    assert.equal(parseVppTokenFile(`\uFEFF${VALID}`, { now }).orgName, 'Contoso School');
    const wrapped = VALID.replace(/(.{40})/g, '$1\n');
    assert.equal(parseVppTokenFile(wrapped, { now }).secret.reveal(), VALID);
  });

  it('registers the inner token so logs scrub it', () => {
    parseVppTokenFile(VALID, { now });
    assert.equal(scrubSecrets('x inner-token-value-1234567890 y'), 'x [redacted] y');
  });

  describe('scrubbing the inner token while the token is in use', () => {
    const INNER = 'inner-token-value-1234567890';
    let restore: (() => void) | undefined;
    let clock: sinon.SinonFakeTimers | undefined;
    afterEach(() => {
      restore?.();
      restore = undefined;
      clock?.restore();
      clock = undefined;
    });
    /** A stream of refused token files' values, enough to push everything older out of the registry. */
    const flood = (): void => {
      for (let i = 0; i < 200; i++) new Secret(`refused-token-file-value-${i}-${Math.random()}`);
    };

    it('after a flood of other values pushed it out, using the token registers the inner token again', () => {
      restore = isolateSecretRegistryForTests({ maxValues: 50 });
      const token = parseVppTokenFile(VALID, { now });
      flood();
      assert.equal(scrubSecrets(INNER), INNER, 'pushed out while nobody used the token');
      token.secret.reveal();
      assert.equal(scrubSecrets(`Apple said: unknown token ${INNER}`), 'Apple said: unknown token [redacted]');
    });

    it('two days after the file was parsed, using the token registers the inner token again', () => {
      clock = sinon.useFakeTimers({ now: NOW, toFake: ['Date'] });
      restore = isolateSecretRegistryForTests({ maxIdleMs: 24 * 3_600_000 });
      const token = parseVppTokenFile(VALID, { now });
      clock.tick(49 * 3_600_000);
      new Secret('some-newer-value-0123456789');
      assert.equal(scrubSecrets(INNER), INNER, 'aged out while nobody used the token');
      token.secret.reveal();
      assert.equal(scrubSecrets(`token ${INNER}`), 'token [redacted]');
    });

    it('a stored token (decrypted, never parsed since the restart) has its inner token scrubbed whenever a request uses it', async () => {
      restore = isolateSecretRegistryForTests({ maxValues: 50 });
      // What TokenCipher.decrypt hands out: the bearer alone.
      const stored = new Secret(VALID);
      const transport = new VppTransport({
        baseUrl: 'https://vpp.example.test/mdm/v2',
        token: stored,
        rateLimit: { maxRequestsPerSecond: 10_000 },
        fetch: async () => new Response(JSON.stringify({ ok: true }), { status: 200 }),
      });
      flood();
      assert.equal(scrubSecrets(INNER), INNER, 'pushed out between syncs');
      await transport.request({ method: 'GET', path: '/client/config', schema: z.object({ ok: z.boolean() }) });
      assert.equal(scrubSecrets(`token ${INNER}`), 'token [redacted]');
    });
  });

  const table: [string, string | Buffer, string][] = [
    ['empty', '   \n', 'token_empty'],
    ['not Base64', 'this is not a token!', 'token_not_base64'],
    ['cut short', VALID.slice(0, 21), 'token_not_base64'],
    ['Base64 but not JSON', b64('hello, world'), 'token_not_json'],
    ['JSON array', b64('[1,2]'), 'token_missing_fields'],
    ['missing token', b64(JSON.stringify({ expDate: '2030-11-08T22:33:22+0000', orgName: 'X' })), 'token_missing_fields'],
    ['blank orgName', b64(JSON.stringify({ token: 't', expDate: '2030-11-08T22:33:22+0000', orgName: ' ' })), 'token_missing_fields'],
    ['unreadable expiry', b64(JSON.stringify({ token: 't', expDate: 'next year', orgName: 'X' })), 'token_bad_expiry'],
    ['impossible date', b64(JSON.stringify({ token: 't', expDate: '2030-02-30T00:00:00+0000', orgName: 'X' })), 'token_bad_expiry'],
    ['expired', encodeVppTokenFile({ token: 'expired-inner-token-abc', expDate: '2025-12-31T23:59:59+0000', orgName: 'X' }), 'token_expired'],
    ['oversized', 'A'.repeat(MAX_TOKEN_FILE_BYTES + 1), 'token_too_large'],
  ];
  for (const [name, input, code] of table) {
    it(`refuses ${name} with ${code}`, () => assert.equal(refusal(input), code));
  }

  it('explains an expired token with its organisation and date, and can read it when asked', () => {
    const expired = encodeVppTokenFile({ token: 'expired-inner-token-abc', expDate: '2025-12-31T23:59:59+0000', orgName: 'Fabrikam' });
    assert.throws(() => parseVppTokenFile(expired, { now }), (e: Error) => /Fabrikam/.test(e.message) && /31 Dec 2025/.test(e.message) && !e.message.includes('expired-inner-token-abc'));
    assert.equal(parseVppTokenFile(expired, { now, allowExpired: true }).orgName, 'Fabrikam');
  });

  it('uses the injected clock for expiry', () => {
    assert.doesNotThrow(() => parseVppTokenFile(VALID, { now: () => new Date('2030-11-08T22:33:21Z') }));
    assert.throws(() => parseVppTokenFile(VALID, { now: () => new Date('2030-11-08T22:33:22Z') }), /expired/);
  });

  const dates: [string, string | undefined][] = [
    ['2030-11-08T22:33:22+0000', '2030-11-08T22:33:22.000Z'],
    ['2030-11-08T22:33:22Z', '2030-11-08T22:33:22.000Z'],
    ['2030-11-08T22:33:22+0200', '2030-11-08T20:33:22.000Z'],
    ['2030-11-08T22:33:22-05:30', '2030-11-09T04:03:22.000Z'],
    ['2030-11-08T22:33:22.5+0000', '2030-11-08T22:33:22.500Z'],
    ['2028-02-29T00:00:00+0000', '2028-02-29T00:00:00.000Z'],
    ['2027-02-29T00:00:00+0000', undefined],
    ['2030-13-01T00:00:00+0000', undefined],
    ['2030-11-08 22:33:22', undefined],
  ];
  for (const [input, expected] of dates) {
    it(`parses Apple date ${input}`, () => assert.equal(parseAppleDate(input)?.toISOString(), expected));
  }

  it('reads the demo token files as their names promise', () => {
    const dir = path.join(__dirname, '../../../local/appleSandbox/tokens');
    const read = (name: string): string => readFileSync(path.join(dir, name), 'utf8');
    for (const [name, content] of Object.entries(DEMO_TOKEN_FILES)) assert.equal(read(name).trim(), content, `${name} matches demoData`);
    assert.equal(parseVppTokenFile(read('demo-valid.vpptoken'), { now }).orgName, 'Northwind Academy');
    assert.equal(parseVppTokenFile(read('demo-valid.vpptoken'), { now }).expiresAt.getUTCFullYear(), 2036);
    assert.equal(refusal(read('demo-expired.vpptoken')), 'token_expired');
    assert.equal(parseVppTokenFile(read('demo-other-mdm.vpptoken'), { now }).orgName, 'Fabrikam Public Library');
    assert.equal(refusal(read('demo-malformed.vpptoken')), 'token_missing_fields');
  });

  describe('properties', () => {
    const future = fc.date({ min: new Date('2026-01-16T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true });
    const orgName = fc.string({ minLength: 1, maxLength: 60 }).filter((s) => s.trim().length > 0 && s === s.trim());

    it('round-trips any token, organisation and future expiry, whatever whitespace surrounds it', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 200 }), orgName, future, fc.constantFrom('', ' ', '\n', '\r\n', '\t  \n'), (token, org, exp, pad) => {
          const file = encodeVppTokenFile({ token, expDate: exp, orgName: org });
          const parsed = parseVppTokenFile(`${pad}${file}${pad}`, { now });
          assert.equal(parsed.orgName, org);
          assert.equal(parsed.expiresAt.getTime(), Math.floor(exp.getTime() / 1000) * 1000);
          assert.equal(parsed.secret.reveal(), file);
        }),
        { numRuns: 200 },
      );
    });

    it('refuses anything else only with a UserFacingError', () => {
      const input = fc.oneof(fc.string({ maxLength: 300 }), fc.base64String({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString('base64')));
      fc.assert(
        fc.property(input, (text) => {
          try {
            parseVppTokenFile(text, { now });
          } catch (error) {
            assert.ok(error instanceof UserFacingError, String(error));
          }
        }),
        { numRuns: 500 },
      );
    });

    it('never repeats the inner token in a refusal', () => {
      const past = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2026-01-14T00:00:00Z'), noInvalidDate: true });
      fc.assert(
        fc.property(fc.string({ minLength: 12, maxLength: 80 }).filter((t) => t.trim().length >= 12), orgName, past, (token, org, exp) => {
          const file = encodeVppTokenFile({ token, expDate: exp, orgName: org });
          try {
            parseVppTokenFile(file, { now });
            assert.fail('expired token accepted');
          } catch (error) {
            assert.ok(error instanceof UserFacingError);
            assert.equal(error.code, 'token_expired');
            assert.equal(error.message.includes(token), org.includes(token));
            assert.equal(error.message.includes(file), false);
          }
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('mayBeTokenPaste', () => {
    it('takes token files, whole, wrapped, cut short or decoded, as pastes worth a specific refusal', () => {
      const file = encodeVppTokenFile({ token: 'abcdef0123456789abcdef0123456789', expDate: '2036-06-30T23:59:59+0000', orgName: 'Northwind Academy' });
      for (const text of [file, file.replace(/(.{60})/g, '$1\n'), file.slice(0, 50), Buffer.from(file, 'base64').toString('utf8'), 'A'.repeat(MAX_TOKEN_FILE_BYTES * 2)]) {
        assert.ok(mayBeTokenPaste(text), text.slice(0, 40));
      }
    });

    it('does not take commands, typos, questions or short fragments for a paste', () => {
      for (const text of ['cancle', 'hlep', 'upload token', 'where do I download it?', 'renew Northwind Academy – Main Campus', 'abc123==', '']) {
        assert.ok(!mayBeTokenPaste(text), text);
      }
    });
  });
});
