import { strict as assert } from 'node:assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_RATE_LIMIT, RECENT_THROTTLES, throttleFor, throttleRegistrySize, type TokenThrottle } from '../../../services/apple/tokenThrottle';

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
    assert.ok(throttleRegistrySize().tracked <= RECENT_THROTTLES + 1000, `${throttleRegistrySize().tracked} keys tracked`);
  });
});
