import { EmbeddedCosmos } from '../../services/store/local/EmbeddedCosmos';
import { announceAndServe } from './childServer';

/**
 * The Cosmos-protocol server in a process of its own, as Azure Cosmos DB is in production: the load
 * benchmark then compares the bot's own work per turn, not the emulator's. Prints `{ endpoint }`.
 */
async function main(): Promise<void> {
  const cosmos = new EmbeddedCosmos();
  await cosmos.start();
  announceAndServe({ endpoint: cosmos.endpoint }, () => cosmos.stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
