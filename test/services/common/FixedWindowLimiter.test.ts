import { strict as assert } from 'node:assert';
import { FixedWindowLimiter, WindowedEntries } from '../../../services/common/FixedWindowLimiter';

describe('FixedWindowLimiter', () => {
  it('lets `limit` hits through per window, tells the first one over apart, and starts afresh after the window', () => {
    let now = 1_000_000;
    const limiter = new FixedWindowLimiter({ limit: 3, windowMs: 60_000, now: () => now });
    const hits = Array.from({ length: 6 }, () => limiter.hit('alex'));
    assert.deepEqual(hits, ['allowed', 'allowed', 'allowed', 'limited', 'limitedAgain', 'limitedAgain']);
    assert.equal(limiter.hit('megan'), 'allowed', 'keys are counted apart');
    now += 59_999;
    assert.equal(limiter.hit('alex'), 'limitedAgain', 'the window lasts a minute from its first hit');
    now += 1;
    assert.equal(limiter.hit('alex'), 'allowed');
  });

  it('keeps windows across its internal periods until they end', () => {
    let now = 0;
    const limiter = new FixedWindowLimiter({ limit: 2, windowMs: 1000, now: () => now });
    now = 900;
    assert.equal(limiter.hit('k'), 'allowed');
    now = 1500; // a new period began at 1000; k's window (900 to 1900) is still open
    assert.equal(limiter.hit('other'), 'allowed');
    assert.equal(limiter.hit('k'), 'allowed');
    assert.equal(limiter.hit('k'), 'limited');
    now = 1899;
    assert.equal(limiter.hit('k'), 'limitedAgain');
    now = 1900;
    assert.equal(limiter.hit('k'), 'allowed');
  });

  it('stays bounded under a flood of distinct keys', () => {
    let now = 0;
    const windows = new WindowedEntries<{ startedAt: number }>({ windowMs: 60_000, maxKeys: 1000, now: () => now });
    for (let i = 0; i < 50_000; i++) {
      windows.open(`user-${i}`, (t) => ({ startedAt: t }));
      now += 1;
    }
    assert.ok(windows.size <= 2000, `${windows.size} keys tracked`);
  });
});
