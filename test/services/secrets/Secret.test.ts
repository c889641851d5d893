import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import sinon from 'sinon';
import { Secret, isolateSecretRegistryForTests, knownSecretCount, scrubSecrets } from '../../../services/secrets/Secret';

const randomValue = (): string => randomBytes(96).toString('base64');
/** Registers a value the way the bot does: by holding it as a Secret. */
const register = (value: string): Secret => new Secret(value);

/** A pino-like line of typical length (about 300 characters). */
const logLine = (inside = ''): string =>
  JSON.stringify({ level: 50, time: '2026-01-15T10:00:00.000Z', service: 'vpp-books-bot', msg: 'Apple request failed; giving up', err: { message: `Apple said: ${inside} (request 4711)`, operation: 'GET /assets' }, attempts: 5 });

/** Fastest of several rounds, in µs per call: the minimum shrugs off a busy machine. */
function microsPerCall(fn: () => void, calls = 2000, rounds = 7): number {
  for (let i = 0; i < calls; i++) fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / calls);
  }
  return best;
}

describe('Secret and the scrubbing registry', () => {
  let restore: () => void = () => undefined;
  afterEach(() => restore());

  it('never prints its value, and logs scrub it', () => {
    restore = isolateSecretRegistryForTests();
    const value = randomValue();
    const secret = new Secret(value);
    assert.equal(String(secret), '[redacted]');
    assert.equal(JSON.stringify({ secret }), '{"secret":"[redacted]"}');
    assert.equal(inspect(secret), 'Secret([redacted])');
    assert.equal(scrubSecrets(`before ${value} after ${value}`), 'before [redacted] after [redacted]');
  });

  it('scrubs the same with a few values as with thousands (linear search and index agree)', () => {
    restore = isolateSecretRegistryForTests();
    const mine = [randomValue(), 'short-but-ok-1', randomValue()];
    const containing = `${mine[0]}-and-more`;
    for (const value of mine) register(value);
    register(containing);
    const text = `a ${mine[0]} b ${mine[1]} c ${containing} d ${mine[2]}${mine[2]} e short`;
    const expected = 'a [redacted] b [redacted] c [redacted] d [redacted][redacted] e short';
    assert.equal(scrubSecrets(text), expected, 'few values');
    for (let i = 0; i < 2000; i++) register(randomValue());
    assert.equal(scrubSecrets(text), expected, 'thousands of values');
    assert.equal(scrubSecrets('value at the very end: '.concat(mine[1]!)), 'value at the very end: [redacted]');
    assert.equal(scrubSecrets(mine[1]!), '[redacted]', 'a line that is only the value');
  });

  it('finds values that share their beginning, as every token file does (the Base64 of {"token":")', () => {
    restore = isolateSecretRegistryForTests();
    const tokenFile = (n: number): string => Buffer.from(JSON.stringify({ token: randomBytes(48).toString('base64'), expDate: '2030-11-08T22:33:22+0000', orgName: `Org ${n}` })).toString('base64');
    const files = Array.from({ length: 500 }, (_, n) => tokenFile(n));
    for (const file of files) register(file);
    assert.ok(files.every((f) => f.startsWith('eyJ0b2tlbiI6')));
    for (const file of [files[0]!, files[250]!, files[499]!]) assert.equal(scrubSecrets(`got ${file}.`), 'got [redacted].');
    assert.equal(scrubSecrets(`cut short: ${files[7]!.slice(0, -2)}`), `cut short: ${files[7]!.slice(0, -2)}`, 'only whole values are redacted');
  });

  it('20,000 registrations keep the registry at its cap and a log line as cheap to scrub as after a few thousand', () => {
    restore = isolateSecretRegistryForTests();
    for (let i = 0; i < 10; i++) register(randomValue());
    const line = logLine('nothing secret here');
    const afterTen = microsPerCall(() => scrubSecrets(line));
    for (let i = 0; i < 1990; i++) register(randomValue());
    const afterTwoThousand = microsPerCall(() => scrubSecrets(line));
    for (let i = 0; i < 18_000; i++) register(randomValue());
    const afterTwentyThousand = microsPerCall(() => scrubSecrets(line));
    assert.ok(knownSecretCount() <= 4096, `the registry holds ${knownSecretCount()} values`);
    // The old registry searched the line for every value: 20,000 values cost about 1,800× what 10 did.
    assert.ok(afterTwentyThousand < afterTwoThousand * 2 + 1, `flat: ${afterTwoThousand.toFixed(2)} µs after 2,000, ${afterTwentyThousand.toFixed(2)} µs after 20,000`);
    assert.ok(afterTwentyThousand < afterTen * 10 + 2, `about the same as after 10: ${afterTen.toFixed(2)} µs, after 20,000: ${afterTwentyThousand.toFixed(2)} µs`);
  });

  it('keeps a secret in use: reveal() brings its value back however many newer values pushed it out', () => {
    restore = isolateSecretRegistryForTests({ maxValues: 50 });
    const value = randomValue();
    const stored = new Secret(value);
    for (let i = 0; i < 200; i++) register(randomValue());
    assert.ok(knownSecretCount() <= 50, `${knownSecretCount()} values kept`);
    // Pushed out while nobody used it; the next use registers it again before its text can go anywhere.
    const revealed = stored.reveal();
    assert.equal(scrubSecrets(`Authorization: Bearer ${revealed}`), 'Authorization: Bearer [redacted]');
    // Kept for at least half the cap's worth of newer values.
    for (let i = 0; i < 24; i++) register(randomValue());
    assert.equal(scrubSecrets(value), '[redacted]', 'still kept 24 values later');
  });

  it('forgets a value nobody used for a day or two, and keeps one used since', () => {
    const clock = sinon.useFakeTimers({ now: new Date('2026-01-15T10:00:00Z'), toFake: ['Date'] });
    try {
      restore = isolateSecretRegistryForTests({ maxIdleMs: 24 * 3_600_000 });
      const idle = randomValue();
      const used = new Secret(randomValue());
      register(idle);
      clock.tick(30 * 3_600_000);
      used.reveal();
      clock.tick(25 * 3_600_000);
      register(randomValue());
      assert.equal(knownSecretCount(), 2, 'the value idle for 55 hours left; the one revealed 25 hours ago and the new one stay');
      assert.equal(scrubSecrets(idle), idle);
      assert.equal(scrubSecrets(used.reveal()), '[redacted]');

      clock.tick(49 * 3_600_000);
      register(randomValue());
      assert.equal(knownSecretCount(), 1, 'after two quiet days only the newest value is left');
    } finally {
      clock.restore();
    }
  });

  it('ignores values too short to scrub without redacting ordinary words', () => {
    restore = isolateSecretRegistryForTests();
    register('abc');
    assert.equal(knownSecretCount(), 0);
    assert.equal(scrubSecrets('abc abc'), 'abc abc');
  });
});
