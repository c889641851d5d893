import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';

/** Where the bot finds its backing services, whether embedded (local mode) or in Azure. */
export interface ServiceEndpoints {
  cosmos: { endpoint: string; key: string | undefined; useManagedIdentity: boolean; database: string };
  appleBaseUrl: string;
  appleMetadataUrl: string | undefined;
  graphBaseUrl: string;
  managedAppleIdAttribute: string | undefined;
  /** Graph's Intune endpoint (with its version) in Intune mode; undefined in Apple mode. */
  intuneGraphBaseUrl: string | undefined;
}

export interface StartedServices {
  endpoints: ServiceEndpoints;
  /** Stops what was started here, in reverse order; the local store is saved on the way out. */
  stops: Array<() => Promise<void>>;
}

export interface StartedPlaygrounds {
  /** What `npm start` prints: where to open the chats. */
  banner: string;
  stops: Array<() => Promise<void>>;
}

/** What `local/startLocalServices.ts` provides; checked at run time because it is loaded by name. */
interface LocalServicesModule {
  startLocalServices(config: AppConfig, logger: Logger): Promise<StartedServices>;
  startLocalPlaygrounds(config: AppConfig, botUrl: string, logger: Logger): Promise<StartedPlaygrounds>;
}

/**
 * The local fakes are loaded by a computed name so that neither the compiler nor the production build
 * follows it: `dist/` and the image hold no Apple sandbox, local directory or Cosmos emulator.
 */
const LOCAL_SERVICES_MODULE = ['..', 'local', 'startLocalServices'].join('/');

class LocalServicesMissingError extends Error {
  constructor() {
    super('Local mode needs the local services, which only a checkout installed with `npm ci` has (the production build leaves them out). Set MicrosoftAppId and the production settings (docs/deploy.md), or run from a checkout.');
    this.name = 'LocalServicesMissingError';
  }
}

async function loadLocalServices(): Promise<LocalServicesModule> {
  let loaded: unknown;
  try {
    loaded = await import(LOCAL_SERVICES_MODULE);
  } catch (err) {
    if (isModuleMissing(err)) throw new LocalServicesMissingError();
    throw err;
  }
  const module = loaded as Partial<LocalServicesModule> | undefined;
  if (typeof module?.startLocalServices !== 'function' || typeof module.startLocalPlaygrounds !== 'function') throw new LocalServicesMissingError();
  return module as LocalServicesModule;
}

function isModuleMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND';
}

/**
 * Production: the configured endpoints as they are. Local mode: the embedded services, started by
 * `local/startLocalServices.ts` unless an endpoint for one of them is configured.
 */
export async function startServices(config: AppConfig, logger: Logger): Promise<StartedServices> {
  if (config.mode === 'local') {
    const local = await loadLocalServices();
    return local.startLocalServices(config, logger);
  }
  if (!config.cosmos.endpoint || !config.apple.baseUrl || !config.directory.graphBaseUrl || (config.backend === 'intune' && !config.intune.graphBaseUrl)) {
    throw new Error('production configuration lacks Cosmos, Apple, Graph or Intune endpoints');
  }
  return {
    stops: [],
    endpoints: {
      cosmos: { ...config.cosmos, endpoint: config.cosmos.endpoint },
      appleBaseUrl: config.apple.baseUrl,
      appleMetadataUrl: config.apple.metadataUrl,
      graphBaseUrl: config.directory.graphBaseUrl,
      managedAppleIdAttribute: config.directory.managedAppleIdAttribute,
      intuneGraphBaseUrl: config.backend === 'intune' ? config.intune.graphBaseUrl : undefined,
    },
  };
}

/** Local mode's Agents Playgrounds (a devDependency), started once the bot listens at `botUrl`. */
export async function startPlaygrounds(config: AppConfig, botUrl: string, logger: Logger): Promise<StartedPlaygrounds> {
  const local = await loadLocalServices();
  return local.startLocalPlaygrounds(config, botUrl, logger);
}
