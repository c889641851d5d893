import { strict as assert } from 'node:assert';
import { VppError } from '../../../services/apple/VppError';
import { backoffDelay, parseRetryAfter, DEFAULT_RETRY } from '../../../services/apple/retry';
import { startTestSandbox, type TestSandbox } from './helpers';

describe('AppleBooksClient retries, backoff and rate limits', () => {
  let t: TestSandbox;
  beforeEach(async () => {
    t = await startTestSandbox();
  });
  afterEach(async () => {
    await t.sandbox.close();
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    t.sandbox.faults.failNext('/client/config', 1, { kind: 'status', status: 429, errorNumber: 9646, retryAfter: 1 });
    const started = Date.now();
    const config = await t.client().getClientConfig();
    assert.equal(config.locationName, 'Test School');
    assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
    assert.equal(t.sandbox.stats.count('GET', '/client/config'), 2);
  });

  it('pauses every request of the token while Apple asks it to', async () => {
    t.sandbox.faults.failNext('/assets', 1, { kind: 'status', status: 429, errorNumber: 9646, retryAfter: 1 });
    const client = t.client();
    const started = Date.now();
    const assets = client.listAssets();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.getClientConfig();
    assert.ok(Date.now() - started >= 900, 'the second call waited for the pause too');
    assert.equal((await assets).items.length, 12);
  });

  it('retries 500 and 503 (9729) with backoff', async () => {
    t.sandbox.faults
      .failNext('/users', 1, { kind: 'status', status: 500 })
      .failNext('/users', 1, { kind: 'status', status: 503, errorNumber: 9729, retryAfter: 0 });
    const users = await t.client().listUsers();
    assert.equal(users.items.length, 0);
    assert.equal(t.sandbox.stats.count('GET', '/users'), 3);
  });

  it('retries a dropped connection', async () => {
    t.sandbox.faults.failNext('/assets', 2, { kind: 'drop' });
    const assets = await t.client().listAssets();
    assert.equal(assets.items.length, 12);
    assert.equal(t.sandbox.stats.count('GET', '/assets'), 3 + 2);
  });

  it('gives up after the configured attempts with a clear VppError', async () => {
    t.sandbox.faults.add({ path: '/client/config', times: Infinity, fault: { kind: 'status', status: 503, errorNumber: 9729 } });
    await assert.rejects(t.client({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } }).getClientConfig(), (e: unknown) => {
      assert.ok(e instanceof VppError);
      assert.equal(e.errorNumber, 9729);
      assert.equal(e.httpStatus, 503);
      assert.equal(e.isRetryable, true);
      assert.match(e.message, /temporarily unavailable.*Gave up after 3 attempts/);
      return true;
    });
    assert.equal(t.sandbox.stats.count('GET', '/client/config'), 3);
  });

  it('gives up on a connection that keeps dropping', async () => {
    t.sandbox.faults.add({ path: '/users', times: Infinity, fault: { kind: 'drop' } });
    await assert.rejects(t.client({ retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 } }).listUsers(), (e: unknown) => {
      assert.ok(e instanceof VppError);
      assert.equal(e.kind, 'unavailable');
      assert.match(e.message, /could not be reached.*Gave up after 2 attempts/);
      return true;
    });
  });

  it('does not retry a refusal that will not change (9602)', async () => {
    t.sandbox.faults.failNext('/assets', 3, { kind: 'status', status: 400, errorNumber: 9602 });
    await assert.rejects(t.client().listAssets(), (e: unknown) => e instanceof VppError && e.errorNumber === 9602);
    assert.equal(t.sandbox.stats.count('GET', '/assets'), 1);
  });

  it('retries a request that hangs past the request timeout', async () => {
    t.sandbox.faults.failNext('/client/config', 1, { kind: 'latency', ms: 400 });
    const config = await t.client({ requestTimeoutMs: 150 }).getClientConfig();
    assert.equal(config.locationName, 'Test School');
    assert.equal(t.sandbox.stats.count('GET', '/client/config'), 2);
  });

  it('keeps one token under 15 requests per second with the default limits', async () => {
    const client = t.client({ rateLimit: undefined });
    const started = Date.now();
    await Promise.all(Array.from({ length: 24 }, () => client.getClientConfig()));
    const elapsed = Date.now() - started;
    assert.ok(t.sandbox.stats.maxRequestsPerSecond() <= 15, `saw ${t.sandbox.stats.maxRequestsPerSecond()} in a second`);
    assert.ok(elapsed >= 1400, `24 requests took only ${elapsed} ms`);
  });

  it('shares the limit between clients of the same token and keeps at most 5 requests in flight', async () => {
    t.sandbox.faults.latencyMs = 80;
    const a = t.client({ rateLimit: { maxRequestsPerSecond: 1000 } });
    const b = t.client({ rateLimit: { maxRequestsPerSecond: 1000 } });
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).getClientConfig()));
    assert.equal(t.sandbox.stats.maxInFlight, 5);
  });

  it('computes backoff with jitter, capped, and never shorter than Retry-After', () => {
    const settings = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay(1, settings, undefined, () => 0), 50);
    assert.equal(backoffDelay(1, settings, undefined, () => 1), 100);
    assert.equal(backoffDelay(3, settings, undefined, () => 1), 400);
    assert.equal(backoffDelay(10, settings, undefined, () => 1), 1000);
    assert.equal(backoffDelay(1, settings, 2000, () => 1), 2000);
    assert.equal(backoffDelay(1, { ...settings, maxRetryAfterMs: 500 }, 9_000_000, () => 0), 500);
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});
