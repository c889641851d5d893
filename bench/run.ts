import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Benchmark, BenchResult } from './types';

/**
 * Runs every bench/*.bench.ts (or those whose file name contains argv[2]), prints one table and
 * writes it to BENCHMARKS.md with the machine it ran on.
 */
async function main(): Promise<void> {
  const filter = process.argv[2];
  const dir = __dirname;
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter))).sort();
  const results: BenchResult[] = [];
  for (const file of files) {
    const mod = (await import(path.join(dir, file))) as { default: Benchmark | { default: Benchmark } };
    const bench = 'run' in mod.default ? mod.default : mod.default.default;
    console.log(`running ${bench.title} ...`);
    results.push(...(await bench.run()));
  }
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
  const lines = [
    '# Benchmarks',
    '',
    `Run ${new Date().toISOString()} on ${machine}. Regenerate with \`npm run bench\`.`,
    '',
    '| scenario | measurements | target | met |',
    '| --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${Object.entries(r.metrics)
          .map(([k, v]) => `${k}: ${v}`)
          .join('<br>')} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : 'no'} |`,
    ),
    '',
  ];
  const table = lines.join('\n');
  console.log(table);
  await fs.writeFile(path.join(dir, '..', 'BENCHMARKS.md'), table);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
