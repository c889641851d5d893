import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';
import type { ServiceEndpoints, StartedPlaygrounds, StartedServices } from '../bot/backingServices';
import { memberPlaygroundConfig, secondUserPlaygroundConfig, startPlayground, type RunningPlayground } from './playground';
import { EMBEDDED_COSMOS_KEY, EmbeddedCosmos } from './cosmos/EmbeddedCosmos';
import { startAppleSandbox } from './appleSandbox/AppleSandboxServer';
import { startLocalDirectory } from './directory/LocalDirectoryServer';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE } from './directory/DirectoryState';

export const SNAPSHOT_FILE_NAME = 'cosmos-snapshot.json';

/** Every local listener binds here: local mode skips authentication, so nobody else on the network may reach it. */
export const LOCAL_HOST = '127.0.0.1';

/**
 * Local mode: starts the embedded Cosmos-protocol server (persisted under LOCAL_DATA_DIR), the Apple
 * sandbox and the local directory, unless an endpoint for one of them is configured (COSMOS_ENDPOINT,
 * APPLE_VPP_BASE_URL, GRAPH_BASE_URL). Loaded with a dynamic import only in local mode, so the
 * production build and image carry none of it.
 */
export async function startLocalServices(config: AppConfig, logger: Logger): Promise<StartedServices> {
  const stops: Array<() => Promise<void>> = [];
  try {
    // A configured Cosmos endpoint (the Azure Cosmos DB emulator, a shared test server) replaces the embedded one.
    let cosmos: ServiceEndpoints['cosmos'];
    if (config.cosmos.endpoint) {
      // The embedded server and emulators accept any key; the client still needs one to sign with.
      cosmos = { ...config.cosmos, endpoint: config.cosmos.endpoint, key: config.cosmos.key ?? EMBEDDED_COSMOS_KEY };
    } else {
      const embedded = new EmbeddedCosmos({ port: config.localCosmosPort, snapshotFile: path.resolve(config.localDataDir, SNAPSHOT_FILE_NAME), logger });
      await embedded.start();
      stops.push(() => embedded.stop());
      cosmos = { ...config.cosmos, endpoint: embedded.endpoint, key: embedded.key, useManagedIdentity: false };
    }

    let appleBaseUrl = config.apple.baseUrl;
    let appleMetadataUrl = config.apple.metadataUrl;
    if (!appleBaseUrl) {
      const sandbox = await startAppleSandbox({ port: config.localApplePort });
      stops.push(() => sandbox.close());
      appleBaseUrl = sandbox.baseUrl;
      appleMetadataUrl ??= sandbox.metadataUrl;
    }

    let graphBaseUrl = config.directory.graphBaseUrl;
    let managedAppleIdAttribute = config.directory.managedAppleIdAttribute;
    if (!graphBaseUrl) {
      const directory = await startLocalDirectory({ port: config.localDirectoryPort });
      stops.push(() => directory.close());
      graphBaseUrl = directory.baseUrl;
      managedAppleIdAttribute ??= LOCAL_MANAGED_APPLE_ID_ATTRIBUTE;
    }

    logger.info({ cosmos: cosmos.endpoint, apple: appleBaseUrl, graph: graphBaseUrl, dataDir: path.resolve(config.localDataDir) }, 'local services started');
    return {
      stops,
      endpoints: { cosmos, appleBaseUrl, appleMetadataUrl, graphBaseUrl, managedAppleIdAttribute },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * The Agents Playgrounds (the local Teams client): Alex Wilber, the admin; Megan Bowen, the other
 * approver; Adele Vance, a member. Returns the banner `npm start` prints.
 */
export async function startLocalPlaygrounds(config: AppConfig, botUrl: string, logger: Logger): Promise<StartedPlaygrounds> {
  const playgrounds: RunningPlayground[] = [];
  const stops = () => playgrounds.map((p) => () => p.stop());
  try {
    const main = await startPlayground({ botUrl, port: config.playground.port, logger });
    playgrounds.push(main);
    let lines = '';
    if (config.playground.approver.enabled) {
      const configFile = await writePlaygroundConfig(config, 'playground-megan.yml', secondUserPlaygroundConfig());
      const approver = await startPlayground({ botUrl, port: config.playground.approver.port, logger, configFile });
      playgrounds.push(approver);
      lines += `  Approve assignments as Megan Bowen: ${approver.url}\n`;
    }
    if (config.playground.member.enabled) {
      const configFile = await writePlaygroundConfig(config, 'playground-adele.yml', memberPlaygroundConfig());
      const member = await startPlayground({ botUrl, port: config.playground.member.port, logger, configFile });
      playgrounds.push(member);
      lines += `  Get books as Adele Vance, a member (type "my books"): ${member.url}\n`;
    }
    return {
      banner: `\n  VPP Books bot is running (local mode).\n  Open the chat: ${main.url}\n${lines}  Type "help" to see the commands.\n\n`,
      stops: stops(),
    };
  } catch (err) {
    await Promise.all(stops().map((stop) => stop().catch(() => undefined)));
    throw err;
  }
}

async function writePlaygroundConfig(config: AppConfig, fileName: string, content: string): Promise<string> {
  const configFile = path.resolve(config.localDataDir, fileName);
  await mkdir(path.dirname(configFile), { recursive: true });
  await writeFile(configFile, content);
  return configFile;
}
