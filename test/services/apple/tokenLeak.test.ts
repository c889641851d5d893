import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import pino from 'pino';
import { createLogger } from '../../../services/logging/logger';
import { parseVppTokenFile, encodeVppTokenFile } from '../../../services/apple/VppTokenFile';
import { VppError } from '../../../services/apple/VppError';
import { AppleBooksClient } from '../../../services/apple/AppleBooksClient';
import { startTestSandbox, type TestSandbox, FAST_RETRY, NO_RATE_LIMIT } from './helpers';

const INNER = 'leak-check-inner-token-3f9a7c1e5b';

describe('the VPP token never reaches logs or error messages', () => {
  let t: TestSandbox;
  before(async () => {
    t = await startTestSandbox({ eventDelayMs: 10 });
  });
  after(async () => {
    await t.sandbox.close();
  });

  async function exercise(client: AppleBooksClient, errors: unknown[]): Promise<void> {
    const attempt = async (work: () => Promise<unknown>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        errors.push(error);
      }
    };
    t.sandbox.faults.failNext('/assets', 1, { kind: 'status', status: 429, errorNumber: 9646, retryAfter: 0 });
    t.sandbox.faults.failNext('/users', 1, { kind: 'drop' });
    t.sandbox.faults.add({ path: '/client/config', times: 4, fault: { kind: 'status', status: 500 } });
    await attempt(() => client.listAssets());
    await attempt(() => client.listUsers());
    await attempt(() => client.getClientConfig());
    await attempt(() => client.createUsersAndWait([{ clientUserId: 'leak-1' }]));
    await attempt(() => client.getEventStatus('unknown'));
    await attempt(() => client.associateAssets([{ adamId: '1', pricingParam: 'STDQ' }], ['x']));
    t.sandbox.faults.failNext('/status', 1, { kind: 'garbage' });
    await attempt(() => client.getEventStatus('unknown'));
  }

  it('holds for every request, retry and failure, scrubbed logger or not', async () => {
    const bearer = t.state.mintToken(t.org, { token: INNER });
    const parsed = parseVppTokenFile(bearer);
    const expiredBearer = t.state.mintToken(t.org, { token: `${INNER}-expired`, expiresAt: new Date(Date.now() - 1) });
    const lines: string[] = [];
    const rawLines: string[] = [];
    const logger = createLogger({ level: 'trace', destination: { write: (line: string) => lines.push(line) } });
    // A logger without the scrubbing stream: proves the client never hands the token to a logger at all.
    const rawLogger = pino({ level: 'trace' }, { write: (line: string) => rawLines.push(line) });
    const errors: unknown[] = [];
    const clientOptions = { baseUrl: t.sandbox.baseUrl, retry: FAST_RETRY, rateLimit: NO_RATE_LIMIT, pollIntervalMs: 5 };
    await exercise(new AppleBooksClient({ ...clientOptions, token: parsed.secret, logger }), errors);
    await exercise(new AppleBooksClient({ ...clientOptions, token: parsed.secret, logger: rawLogger }), errors);
    const expired = new AppleBooksClient({ ...clientOptions, token: parseVppTokenFile(expiredBearer, { allowExpired: true }).secret, logger: rawLogger });
    await exercise(expired, errors);
    try {
      parseVppTokenFile(encodeVppTokenFile({ token: INNER, expDate: '2020-01-01T00:00:00+0000', orgName: 'Leak Org' }));
    } catch (error) {
      errors.push(error);
    }
    logger.info({ token: parsed.secret, file: parsed }, 'logging the parsed token object');

    assert.ok(lines.length > 10 && rawLines.length > 10, 'the client logged its requests');
    assert.ok(errors.length >= 8);
    assert.ok(errors.some((e) => e instanceof VppError && e.errorNumber === 9621));
    const secrets = [bearer, INNER, expiredBearer];
    for (const text of [...lines, ...rawLines]) {
      for (const secret of secrets) assert.equal(text.includes(secret), false, `log line leaks the token: ${text}`);
    }
    for (const error of errors) {
      const shown = [String(error), inspect(error, { depth: 6 }), JSON.stringify(error), error instanceof Error ? (error.stack ?? '') : ''].join('\n');
      for (const secret of secrets) assert.equal(shown.includes(secret), false, `error leaks the token: ${shown}`);
    }
  });
});
