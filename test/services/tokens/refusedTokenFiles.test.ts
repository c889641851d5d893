import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { AppleBooksClient } from '../../../services/apple/AppleBooksClient';
import { encodeVppTokenFile, parseVppTokenFile } from '../../../services/apple/VppTokenFile';
import { RECENT_THROTTLES, throttleRegistrySize } from '../../../services/apple/tokenThrottle';
import { silentLogger } from '../../../services/logging/logger';
import { DEFAULT_SECRET_REGISTRY_LIMITS, isolateSecretRegistryForTests, knownSecretCount, scrubSecrets } from '../../../services/secrets/Secret';

/** The test process's gc: mocha does not pass --expose-gc, so the flag is set now and the function fetched. */
function exposedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap in MB after full collections, with a turn of the event loop between for finalizers to run. */
async function settledHeapMb(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed / 1e6;
}

function scrubMicros(line: string): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) scrubSecrets(line);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / 1000);
  }
  return best;
}

/**
 * What the token service does with a file Apple then refuses: parse it (registering its values for log
 * scrubbing) and make an Apple client for it (getting the token's throttle). Nothing holds either afterwards.
 */
const logger = silentLogger();

function refusedTokenFile(n: number): void {
  const text = encodeVppTokenFile({ token: createHash('sha256').update(`refused ${n}`).digest('base64'), expDate: '2030-11-08T22:33:22+0000', orgName: `Org ${n}` });
  const file = parseVppTokenFile(text);
  // With the deployment's logger, as AppleClientFactory makes them.
  new AppleBooksClient({ baseUrl: 'http://127.0.0.1:9', token: file.secret, logger });
}

describe('20,000 refused token files', function () {
  this.timeout(30_000);
  let restore: () => void = () => undefined;
  after(() => restore());

  it('keep heap, the scrubbing registry, the throttle registry and scrub time flat', async () => {
    restore = isolateSecretRegistryForTests();
    const gc = exposedGc();
    const line = JSON.stringify({ level: 40, service: 'vpp-books-bot', msg: 'token refused by Apple', err: { message: 'Apple said the token is invalid (9621)' }, tokenFingerprint: 'f'.repeat(32) });
    for (let n = 0; n < 1000; n++) refusedTokenFile(n);
    const heapAfterThousand = await settledHeapMb(gc);
    const scrubAfterThousand = scrubMicros(line);

    for (let n = 1000; n < 20_000; n++) refusedTokenFile(n);
    const heapAfterTwentyThousand = await settledHeapMb(gc);
    const scrubAfterTwentyThousand = scrubMicros(line);

    assert.ok(knownSecretCount() <= DEFAULT_SECRET_REGISTRY_LIMITS.maxValues, `scrubbing registry: ${knownSecretCount()} values`);
    const throttles = throttleRegistrySize();
    assert.ok(throttles.recent <= RECENT_THROTTLES, `throttles held: ${throttles.recent}`);
    assert.ok(throttles.tracked <= RECENT_THROTTLES + 1000, `throttles tracked after collection: ${throttles.tracked}`);
    // Before the bounds, 20,000 files added about 116 MB (a Bottleneck and two strings each, forever).
    assert.ok(heapAfterTwentyThousand - heapAfterThousand < 8, `heap ${heapAfterThousand.toFixed(1)} MB after 1,000, ${heapAfterTwentyThousand.toFixed(1)} MB after 20,000`);
    assert.ok(scrubAfterTwentyThousand < scrubAfterThousand * 2 + 1, `scrub ${scrubAfterThousand.toFixed(2)} µs after 1,000, ${scrubAfterTwentyThousand.toFixed(2)} µs after 20,000`);
  });
});
