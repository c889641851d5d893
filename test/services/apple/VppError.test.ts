import { strict as assert } from 'node:assert';
import { VppError, VPP_ERROR_MESSAGES, describeVppErrorNumber } from '../../../services/apple/VppError';
import { Secret } from '../../../services/secrets/Secret';

const SPEC_NUMBERS = [9601, 9602, 9609, 9621, 9622, 9625, 9644, 9646, 9700, 9701, 9702, 9703, 9704, 9705, 9706, 9707, 9708, 9709, 9716, 9718, 9719, 9720, 9722, 9729];

describe('VppError', () => {
  it('has an admin message for every error number in the contract', () => {
    for (const n of SPEC_NUMBERS) {
      const info = VPP_ERROR_MESSAGES[n];
      assert.ok(info, `message for ${n}`);
      assert.ok(info.message.length > 30 && /[.!]$/.test(info.message), `${n} is a sentence`);
      const error = new VppError({ errorNumber: n, httpStatus: 400 });
      assert.equal(error.message, info.message);
      assert.equal(error.code, `vpp_${n}`);
    }
  });

  it('classifies token problems and retryable errors', () => {
    for (const n of [9601, 9621, 9622, 9625, 9722]) assert.equal(new VppError({ errorNumber: n }).isTokenProblem, true, String(n));
    for (const n of [9644, 9646, 9729]) assert.equal(new VppError({ errorNumber: n }).isRetryable, true, String(n));
    assert.equal(new VppError({ errorNumber: 9709 }).isRetryable, false);
    assert.equal(new VppError({ errorNumber: 9706 }).kind, 'notRevocable');
  });

  it('falls back to a generic message naming the number or status', () => {
    assert.match(new VppError({ errorNumber: 9999, operation: 'GET /assets' }).message, /error 9999 \(GET \/assets\)/);
    assert.match(new VppError({ httpStatus: 502 }).message, /HTTP 502/);
    assert.match(new VppError({}).message, /could not be reached/);
    assert.match(describeVppErrorNumber(9709), /Not enough licenses/);
    assert.match(describeVppErrorNumber(1234), /error 1234/);
  });

  it('scrubs known secrets from Apple text', () => {
    const secret = new Secret('a-secret-value-that-apple-echoed');
    const error = new VppError({ errorNumber: 9602, appleMessage: `bad ${secret.reveal()}` });
    assert.equal(error.appleMessage, 'bad [redacted]');
  });
});
