import 'dotenv/config';
import { loadConfig } from '../services/config/config';
import { ConfigError } from '../services/errors';
import { createLogger } from '../services/logging/logger';
import { startApplication } from './application';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { memberPlaygroundConfig, secondUserPlaygroundConfig, startPlayground, type RunningPlayground } from './playground';
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
  const app = await startApplication(config, logger);

  const playgrounds: RunningPlayground[] = [];
  if (config.playground.enabled) {
    const main = await startPlayground({ botUrl: app.url, port: config.playground.port, logger });
    playgrounds.push(main);
    let approverLine = '';
    if (config.playground.approver.enabled) {
      const configFile = path.resolve(config.localDataDir, 'playground-megan.yml');
      await mkdir(path.dirname(configFile), { recursive: true });
      await writeFile(configFile, secondUserPlaygroundConfig());
      const approver = await startPlayground({ botUrl: app.url, port: config.playground.approver.port, logger, configFile });
      playgrounds.push(approver);
      approverLine = `  Approve assignments as Megan Bowen: ${approver.url}\n`;
    }
    let memberLine = '';
    if (config.playground.member.enabled) {
      const configFile = path.resolve(config.localDataDir, 'playground-adele.yml');
      await mkdir(path.dirname(configFile), { recursive: true });
      await writeFile(configFile, memberPlaygroundConfig());
      const member = await startPlayground({ botUrl: app.url, port: config.playground.member.port, logger, configFile });
      playgrounds.push(member);
      memberLine = `  Get books as Adele Vance, a member (type "my books"): ${member.url}\n`;
    }
    process.stdout.write(
      `\n  VPP Books bot is running (local mode).\n  Open the chat: ${main.url}\n${approverLine}${memberLine}  Type "help" to see the commands.\n\n`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      await Promise.all(playgrounds.map((p) => p.stop()));
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
