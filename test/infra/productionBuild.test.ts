import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';

const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

/** The packages only local mode and the tests use: none of them may reach the production install. */
const LOCAL_ONLY_PACKAGES = ['@vercel/cosmosdb-server', '@microsoft/m365agentsplayground', 'tsx', 'playwright-core'];

const lockSchema = z.object({ packages: z.record(z.string(), z.object({ dev: z.boolean().optional(), devOptional: z.boolean().optional() })) });

describe('the production build and image', function () {
  this.timeout(60_000);

  it('compiles without the local fakes: nothing in bot, cards, dialogs or services imports local/', async () => {
    const { stdout } = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--listFilesOnly'], { cwd: ROOT });
    const ours = stdout.split('\n').filter((f) => f.startsWith(ROOT) && !f.includes('node_modules'));
    assert.ok(ours.some((f) => f.endsWith('bot/start.ts')), 'the build holds the bot');
    assert.deepEqual(ours.filter((f) => f.includes(`${path.sep}local${path.sep}`)), [], 'no local-only file is compiled into dist/');
  });

  it('leaves the local-only packages out of `npm ci --omit=dev`', async () => {
    const lock = lockSchema.parse(JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8')));
    for (const name of LOCAL_ONLY_PACKAGES) {
      const entry = lock.packages[`node_modules/${name}`];
      assert.ok(entry, `${name} is in the lockfile`);
      assert.ok(entry.dev === true, `${name} is a dev-only package`);
    }
  });

  it('copies no local-only folder into the image', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    assert.ok(copied.includes('services'), `the image is built from the sources: ${copied.join(' ')}`);
    assert.ok(!copied.some((f) => f === 'local' || f.startsWith('local/')), 'local/ stays out of the image');
    assert.match(dockerfile, /npm ci --omit=dev/);
  });
});
