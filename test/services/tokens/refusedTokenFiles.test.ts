import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { RECENT_THROTTLES } from '../../../services/apple/tokenThrottle';
import { DEFAULT_SECRET_REGISTRY_LIMITS } from '../../../services/secrets/Secret';

const PROBE = path.resolve(__dirname, '../../support/refusedTokenFilesProbe.ts');

const figuresSchema = z.object({
  heapAfterThousand: z.number(),
  heapAfterTwentyThousand: z.number(),
  scrubAfterThousand: z.number(),
  scrubAfterTwentyThousand: z.number(),
  knownSecrets: z.number(),
  throttles: z.object({ recent: z.number(), tracked: z.number() }),
});

describe('20,000 refused token files', function () {
  this.timeout(60_000);

  it('keep heap, the scrubbing registry, the throttle registry and scrub time flat', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', PROBE], { cwd: path.resolve(__dirname, '../../..') });
    const f = figuresSchema.parse(JSON.parse(stdout.trim().split('\n').pop() ?? '{}'));
    assert.ok(f.knownSecrets <= DEFAULT_SECRET_REGISTRY_LIMITS.maxValues, `scrubbing registry: ${f.knownSecrets} values`);
    assert.ok(f.throttles.recent <= RECENT_THROTTLES, `throttles held: ${f.throttles.recent}`);
    assert.ok(f.throttles.tracked <= RECENT_THROTTLES + 1000, `throttles tracked after collection: ${f.throttles.tracked}`);
    // Before the bounds, 20,000 files added about 116 MB (a Bottleneck and two strings each, forever).
    assert.ok(f.heapAfterTwentyThousand - f.heapAfterThousand < 8, `heap ${f.heapAfterThousand.toFixed(1)} MB after 1,000, ${f.heapAfterTwentyThousand.toFixed(1)} MB after 20,000`);
    assert.ok(f.scrubAfterTwentyThousand < f.scrubAfterThousand * 2 + 1, `scrub ${f.scrubAfterThousand.toFixed(2)} µs after 1,000, ${f.scrubAfterTwentyThousand.toFixed(2)} µs after 20,000`);
  });
});
