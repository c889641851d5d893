import { strict as assert } from 'node:assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import sinon from 'sinon';
import { DEFAULT_RATE_LIMIT, MAX_PINNED_FOR_RATE, RECENT_THROTTLES, lowerRate, throttleFor, throttleRegistrySize, type TokenThrottle } from '../../../services/apple/tokenThrottle';

function exposedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describe('per-token throttles', () => {
  const otherTokens = (from: number, count: number): void => {
    for (let i = from; i < from + count; i++) throttleFor(`other-token-${i}`, DEFAULT_RATE_LIMIT);
  };

  it('two clients of one token share a throttle, even after a thousand other tokens came through', () => {
    const held = throttleFor('held-token', DEFAULT_RATE_LIMIT);
    otherTokens(0, 1000);
    assert.equal(throttleFor('held-token', DEFAULT_RATE_LIMIT), held, 'a throttle a client still holds is found again');
    assert.ok(throttleRegistrySize().recent <= RECENT_THROTTLES);
  });

  it("keeps a recent token's Retry-After pause after its client is gone", () => {
    throttleFor('paused-token', DEFAULT_RATE_LIMIT).notBefore = 4_102_444_800_000;
    otherTokens(2000, RECENT_THROTTLES / 4);
    assert.equal(throttleFor('paused-token', DEFAULT_RATE_LIMIT).notBefore, 4_102_444_800_000);
  });

  /** Full collections with a turn of the event loop between, so unreachable throttles are gone. */
  async function collect(): Promise<void> {
    const gc = exposedGc();
    for (let round = 0; round < 3; round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  describe('between syncs, with many other tokens in between', () => {
    let clock: sinon.SinonFakeTimers | undefined;
    afterEach(() => {
      clock?.restore();
      clock = undefined;
    });

    it("keeps a token's Retry-After pause until it is over, then lets the throttle go", async function () {
      this.timeout(20_000);
      clock = sinon.useFakeTimers({ now: new Date('2026-01-15T10:00:00Z'), toFake: ['Date'] });
      const pauseEnds = Date.now() + 10 * 60_000;
      const key = `paused-between-syncs-${Math.random()}`;
      throttleFor(key, DEFAULT_RATE_LIMIT).notBefore = pauseEnds;
      // The sync's client is gone; 1,000 other token clients come and go before the next sync.
      otherTokens(10_000, 1000);
      await collect();
      const next = new WeakRef(throttleFor(key, DEFAULT_RATE_LIMIT));
      assert.equal(next.deref()?.notBefore, pauseEnds, 'the next sync still waits for the pause Apple asked for');

      clock.tick(10 * 60_000 + 1);
      otherTokens(20_000, 1000);
      await collect();
      assert.equal(next.deref(), undefined, 'once the pause is over, nothing keeps the throttle');
    });

    it('keeps a rate Apple lowered for a token', async function () {
      this.timeout(20_000);
      const key = `lowered-between-syncs-${Math.random()}`;
      lowerRate(throttleFor(key, DEFAULT_RATE_LIMIT), 5);
      otherTokens(30_000, 1000);
      await collect();
      assert.equal(throttleFor(key, DEFAULT_RATE_LIMIT).maxRequestsPerSecond, 5);
    });

    it('keeps at most MAX_PINNED_FOR_RATE throttles for a lowered rate alone', () => {
      for (let i = 0; i < MAX_PINNED_FOR_RATE + 500; i++) lowerRate(throttleFor(`lowered-flood-${i}`, DEFAULT_RATE_LIMIT), 5);
      otherTokens(40_000, RECENT_THROTTLES);
      assert.ok(throttleRegistrySize().pinned <= MAX_PINNED_FOR_RATE + 10, `${throttleRegistrySize().pinned} pinned`);
    });
  });

  it('lets throttles nobody holds be collected, so the registry stays bounded', async function () {
    this.timeout(20_000);
    const gc = exposedGc();
    const weak: Array<WeakRef<TokenThrottle>> = [];
    for (let i = 0; i < 2000; i++) weak.push(new WeakRef(throttleFor(`dropped-token-${i}`, DEFAULT_RATE_LIMIT)));
    for (let round = 0; round < 3; round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const alive = weak.filter((ref) => ref.deref() !== undefined).length;
    assert.ok(alive <= RECENT_THROTTLES, `${alive} of 2,000 dropped throttles still alive`);
    // Finalizers run as tasks of their own, later on a busy machine: give them a moment.
    for (let wait = 0; wait < 50 && throttleRegistrySize().tracked > RECENT_THROTTLES + 1000; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(throttleRegistrySize().tracked <= RECENT_THROTTLES + 1000, `${throttleRegistrySize().tracked} keys tracked`);
  });
});
