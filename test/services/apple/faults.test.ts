import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { VppError } from '../../../services/apple/VppError';
import { backoffDelay, parseRetryAfter } from '../../../services/common/retry';
import { DEFAULT_RETRY } from '../../../services/apple/VppTransport';
import { startTestSandbox, type TestSandbox } from './helpers';

/**
 * A clock that moves only when the client sleeps. Every sleep is recorded; `hold` keeps the first one
 * pending (until `release`) so a test can act while a request waits.
 */
function sleepClock(options: { hold?: boolean } = {}) {
  let clock = Date.now();
  const sleeps: number[] = [];
  let release = (): void => undefined;
  let heldSleep = (): void => undefined;
  const firstSleep = new Promise<void>((resolve) => {
    heldSleep = resolve;
  });
  return {
    now: () => new Date(clock),
    sleeps,
    firstSleep,
    release: () => release(),
    sleep: (ms: number): Promise<void> => {
      sleeps.push(ms);
      if (options.hold && sleeps.length === 1) {
        heldSleep();
        return new Promise<void>((resolve) => {
          release = () => {
            clock += ms;
            resolve();
          };
        });
      }
      clock += ms;
      return Promise.resolve();
    },
  };
}

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
    const time = sleepClock();
    // FAST_RETRY's backoff is at most 40 ms: only Retry-After makes it wait a second.
    const config = await t.client({ sleep: time.sleep, now: time.now }).getClientConfig();
    assert.equal(config.locationName, 'Test School');
    assert.deepEqual(time.sleeps, [1000]);
    assert.equal(t.sandbox.stats.count('GET', '/client/config'), 2);
  });

  it('pauses every request of the token while Apple asks it to', async () => {
    t.sandbox.faults.failNext('/assets', 1, { kind: 'status', status: 429, errorNumber: 9646, retryAfter: 1 });
    const time = sleepClock({ hold: true });
    const client = t.client({ sleep: time.sleep, now: time.now });
    const assets = client.listAssets();
    // The first call waits out Retry-After; a second call of the same token starts now, in the pause.
    await time.firstSleep;
    await client.getClientConfig();
    assert.deepEqual(time.sleeps, [1000, 1000], 'the second call waited for the pause too');
    assert.equal(t.sandbox.stats.count('GET', '/client/config'), 1, 'and asked Apple only once');
    time.release();
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
    // The limiter's schedule on a fake clock, with Apple answering at once: a busy machine can neither
    // bunch the requests nor spread them out.
    const clock = sinon.useFakeTimers({ now: Date.UTC(2030, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const starts: number[] = [];
    try {
      const client = t.client({
        rateLimit: undefined,
        fetch: async () => {
          starts.push(Date.now());
          return new Response(JSON.stringify({ locationName: 'Test School' }), { status: 200, headers: { 'content-type': 'application/json' } });
        },
      });
      const all = Promise.all(Array.from({ length: 24 }, () => client.getClientConfig()));
      await clock.tickAsync(5000);
      assert.equal((await all).length, 24);
    } finally {
      clock.restore();
    }
    assert.equal(starts.length, 24);
    const gaps = starts.slice(1).map((at, i) => at - (starts[i] as number));
    assert.ok(Math.min(...gaps) >= 1000 / 15, `requests ${JSON.stringify(gaps)} ms apart`);
    const busiestSecond = Math.max(...starts.map((from) => starts.filter((at) => at >= from && at < from + 1000).length));
    assert.ok(busiestSecond <= 15, `${busiestSecond} requests in the busiest second`);
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
