import { EmbeddedCosmos } from '../../services/store/local/EmbeddedCosmos';

/**
 * The Cosmos-protocol server in a process of its own, as Azure Cosmos DB is in production: the load
 * benchmark then compares the bot's own work per turn, not the emulator's. Prints `{ endpoint }`.
 */
async function main(): Promise<void> {
  const cosmos = new EmbeddedCosmos();
  await cosmos.start();
  process.stdout.write(`${JSON.stringify({ endpoint: cosmos.endpoint })}\n`);
  const stop = async () => {
    await cosmos.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
