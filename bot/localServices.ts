import path from 'node:path';
import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';
import { EMBEDDED_COSMOS_KEY, EmbeddedCosmos } from '../services/store/local/EmbeddedCosmos';
import { startAppleSandbox } from '../services/apple/sandbox/AppleSandboxServer';
import { startLocalDirectory } from '../services/directory/local/LocalDirectoryServer';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE } from '../services/directory/local/DirectoryState';

export const SNAPSHOT_FILE_NAME = 'cosmos-snapshot.json';

/** Where the bot finds its backing services, whether embedded (local mode) or in Azure. */
export interface ServiceEndpoints {
  cosmos: { endpoint: string; key: string | undefined; useManagedIdentity: boolean; database: string };
  appleBaseUrl: string;
  appleMetadataUrl: string | undefined;
  graphBaseUrl: string;
  managedAppleIdAttribute: string | undefined;
}

export interface StartedServices {
  endpoints: ServiceEndpoints;
  /** Stops what was started here, in reverse order; the local store is saved on the way out. */
  stops: Array<() => Promise<void>>;
}

/**
 * Local mode: starts the embedded Cosmos-protocol server (persisted under LOCAL_DATA_DIR), the Apple
 * sandbox and the local directory, unless an endpoint for one of them is configured (COSMOS_ENDPOINT,
 * APPLE_VPP_BASE_URL, GRAPH_BASE_URL). Production: the configured endpoints as they are.
 */
export async function startServices(config: AppConfig, logger: Logger): Promise<StartedServices> {
  const stops: Array<() => Promise<void>> = [];
  if (config.mode === 'production') {
    if (!config.cosmos.endpoint || !config.apple.baseUrl || !config.directory.graphBaseUrl) {
      throw new Error('production configuration lacks Cosmos, Apple or Graph endpoints');
    }
    return {
      stops,
      endpoints: {
        cosmos: { ...config.cosmos, endpoint: config.cosmos.endpoint },
        appleBaseUrl: config.apple.baseUrl,
        appleMetadataUrl: config.apple.metadataUrl,
        graphBaseUrl: config.directory.graphBaseUrl,
        managedAppleIdAttribute: config.directory.managedAppleIdAttribute,
      },
    };
  }

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
      endpoints: {
        cosmos,
        appleBaseUrl,
        appleMetadataUrl,
        graphBaseUrl,
        managedAppleIdAttribute,
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}
