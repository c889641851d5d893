import 'dotenv/config';
import { loadConfig } from '../services/config/config';
import { ConfigError } from '../services/errors';
import { createLogger } from '../services/logging/logger';
import { version } from '../package.json';

/** `npm start`: the bot plus, in local mode, its embedded services and the Agents Playground. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, version);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  // Loaded only once the configuration holds: the application and its libraries take seconds to load, which a
  // wrong setting should not cost before its one-line answer.
  const [{ startApplication }, { startPlaygrounds }] = await Promise.all([import('./application.js'), import('./backingServices.js')]);
  const app = await startApplication(config, logger);

  const playgrounds = config.playground.enabled ? await startPlaygrounds(config, app.url, logger) : undefined;
  if (playgrounds) process.stdout.write(playgrounds.banner);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      await Promise.all((playgrounds?.stops ?? []).map((stop) => stop()));
      await app.stop();
      logger.flush();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`Start-up failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
