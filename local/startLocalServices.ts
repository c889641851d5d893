import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';
import type { ServiceEndpoints, StartedPlaygrounds, StartedServices } from '../bot/backingServices';
import { playgroundConfig, startPlayground, type PlaygroundWindow } from './playground';
import { EMBEDDED_COSMOS_KEY, EmbeddedCosmos } from './cosmos/EmbeddedCosmos';
import { startAppleSandbox } from './appleSandbox/AppleSandboxServer';
import { startLocalDirectory } from './directory/LocalDirectoryServer';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE } from './directory/DirectoryState';
import { startLocalIntune } from './intune/LocalIntuneServer';

export const SNAPSHOT_FILE_NAME = 'cosmos-snapshot.json';
/** The Apple sandbox's organisations, tokens, books and users, kept next to the store so the two agree after a restart. */
export const APPLE_SANDBOX_STATE_FILE_NAME = 'apple-sandbox.json';
/** The local Intune's tokens (encrypted under intune.key beside it), books, assignments and devices, so a restart finds what the store names. */
const INTUNE_STATE_FILE_NAME = 'intune.json';

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
      const sandbox = await startAppleSandbox({ port: config.localApplePort, stateFile: path.resolve(config.localDataDir, APPLE_SANDBOX_STATE_FILE_NAME), logger });
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

    // Intune mode: a Graph-shaped Intune that holds the tokens, backed by the Apple sandbox and the directory as
    // the real one is by Apple and Entra ID. Devices check in every 15 s, so a Required book installs while you watch.
    let intuneGraphBaseUrl = config.backend === 'intune' ? config.intune.graphBaseUrl : undefined;
    if (config.backend === 'intune' && !intuneGraphBaseUrl) {
      const intune = await startLocalIntune({ appleBaseUrl, directoryBaseUrl: graphBaseUrl, port: config.localIntunePort, host: LOCAL_HOST, installProgressMs: 15_000, stateFile: path.resolve(config.localDataDir, INTUNE_STATE_FILE_NAME), logger });
      stops.push(() => intune.stop());
      intuneGraphBaseUrl = intune.baseUrl;
    }

    logger.info({ cosmos: cosmos.endpoint, apple: appleBaseUrl, graph: graphBaseUrl, intune: intuneGraphBaseUrl, dataDir: path.resolve(config.localDataDir) }, 'local services started');
    return {
      stops,
      endpoints: { cosmos, appleBaseUrl, appleMetadataUrl, graphBaseUrl, managedAppleIdAttribute, intuneGraphBaseUrl },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * The Agents Playgrounds (the local Teams client): Alex Wilber, the admin; Megan Bowen, the other
 * approver; Adele Vance, a member. Each gets a configuration file in the data folder that fixes its chat,
 * so a chat is the same conversation after a restart. They start side by side. Returns the banner
 * `npm start` prints.
 */
export async function startLocalPlaygrounds(config: AppConfig, botUrl: string, logger: Logger): Promise<StartedPlaygrounds> {
  const windows: Array<{ window: PlaygroundWindow; port: number; line: (url: string) => string }> = [
    { window: 'alex', port: config.playground.port, line: (url) => `  Open the chat: ${url}\n` },
  ];
  if (config.playground.approver.enabled) windows.push({ window: 'megan', port: config.playground.approver.port, line: (url) => `  Approve assignments as Megan Bowen: ${url}\n` });
  if (config.playground.member.enabled) {
    windows.push({ window: 'adele', port: config.playground.member.port, line: (url) => `  Get books as Adele Vance, a member (type "my books"): ${url}\n` });
  }
  const started = await Promise.allSettled(
    windows.map(async ({ window, port }) => {
      const configFile = await writePlaygroundConfig(config, `playground-${window}.yml`, playgroundConfig(window, config.localDataDir));
      return startPlayground({ botUrl, port, logger, configFile });
    }),
  );
  const playgrounds = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(playgrounds.map((p) => p.stop().catch(() => undefined)));
    throw failed.reason;
  }
  const lines = playgrounds.map((p, i) => windows[i]?.line(p.url) ?? '').join('');
  return {
    banner: `\n  VPP Books bot is running (local mode).\n${lines}  Type "help" to see the commands.\n\n`,
    stops: playgrounds.map((p) => () => p.stop()),
  };
}

async function writePlaygroundConfig(config: AppConfig, fileName: string, content: string): Promise<string> {
  const configFile = path.resolve(config.localDataDir, fileName);
  await mkdir(path.dirname(configFile), { recursive: true });
  await writeFile(configFile, content);
  return configFile;
}
