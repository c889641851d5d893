import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { announceAndServe } from '../../local/announceAndServe';
import { countWrites } from './emulatorStats';
import { scopeQueriesByPartition } from './partitionScopedEmulator';

/**
 * The Cosmos-protocol server in a process of its own, as Azure Cosmos DB is in production: a benchmark
 * then measures the bot's own work (CPU, memory) apart from the emulator's. Prints `{ endpoint }`.
 *
 * Options (both off unless asked for, so other benchmarks get the emulator as shipped):
 * - `--partition-index`: single-partition queries read their partition only, as on Azure (see
 *   partitionScopedEmulator.ts).
 * - `--stats`: counts writes per container as the server saw them and answers `GET /_bench/stats`
 *   (see emulatorStats.ts).
 */

async function main(): Promise<void> {
  const indexed = process.argv.includes('--partition-index');
  const stats = process.argv.includes('--stats');
  const cosmos = new EmbeddedCosmos({
    configureServer: (server) => {
      if (indexed) scopeQueriesByPartition(server);
      if (stats) countWrites(server);
    },
  });
  await cosmos.start();
  announceAndServe({ endpoint: cosmos.endpoint }, () => cosmos.stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
