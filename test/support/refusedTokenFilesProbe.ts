/**
 * Run in a fresh process by test/services/tokens/refusedTokenFiles.test.ts: heap figures taken inside the
 * mocha process move with whatever the other suites left behind, so the measurement gets a process of its own.
 * Prints one JSON line with the figures.
 */
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { AppleBooksClient } from '../../services/apple/AppleBooksClient';
import { encodeVppTokenFile, parseVppTokenFile } from '../../services/apple/VppTokenFile';
import { throttleRegistrySize } from '../../services/apple/tokenThrottle';
import { silentLogger } from '../../services/logging/logger';
import { isolateSecretRegistryForTests, knownSecretCount, scrubSecrets } from '../../services/secrets/Secret';

/** The test process's gc: mocha does not pass --expose-gc, so the flag is set now and the function fetched. */
function exposedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * Heap in MB after full collections. FinalizationRegistry callbacks (which drop the registries' dead
 * entries) run as tasks after a collection, so it collects and yields until the heap stops shrinking.
 */
async function settledHeapMb(gc: () => void): Promise<number> {
  let previous = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const used = process.memoryUsage().heapUsed / 1e6;
    if (i >= 2 && used >= previous - 0.05) return used;
    previous = used;
  }
  return previous;
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


async function main(): Promise<void> {
  isolateSecretRegistryForTests();
  const gc = exposedGc();
  const line = JSON.stringify({ level: 40, service: 'vpp-books-bot', msg: 'token refused by Apple', err: { message: 'Apple said the token is invalid (9621)' }, tokenFingerprint: 'f'.repeat(32) });
  for (let n = 0; n < 1000; n++) refusedTokenFile(n);
  const heapAfterThousand = await settledHeapMb(gc);
  const scrubAfterThousand = scrubMicros(line);

  for (let n = 1000; n < 20_000; n++) refusedTokenFile(n);
  const heapAfterTwentyThousand = await settledHeapMb(gc);
  const scrubAfterTwentyThousand = scrubMicros(line);
  const throttles = throttleRegistrySize();
  process.stdout.write(`${JSON.stringify({ heapAfterThousand, heapAfterTwentyThousand, scrubAfterThousand, scrubAfterTwentyThousand, knownSecrets: knownSecretCount(), throttles })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
