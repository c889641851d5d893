import { CosmosClient, type Database } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import type { CosmosSettings } from '../config/config';

export interface ResolvedCosmosSettings extends CosmosSettings {
  endpoint: string;
}

/**
 * One CosmosClient per process: it holds the connection pool and the partition map. 429s are retried
 * by the SDK itself (retryOptions), so repositories never see a throttle unless it lasts > 30 s.
 */
export function createCosmosClient(settings: ResolvedCosmosSettings): CosmosClient {
  const common = {
    endpoint: settings.endpoint,
    connectionPolicy: {
      enableEndpointDiscovery: !settings.endpoint.startsWith('http://'),
      retryOptions: { maxRetryAttemptCount: 9, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 30 },
    },
  };
  if (settings.useManagedIdentity) {
    return new CosmosClient({ ...common, aadCredentials: new DefaultAzureCredential() });
  }
  return new CosmosClient({ ...common, key: settings.key ?? '' });
}

/** Creates the database if it is missing (idempotent); containers are the repositories' business. */
export async function openDatabase(client: CosmosClient, databaseId: string): Promise<Database> {
  const { database } = await client.databases.createIfNotExists({ id: databaseId });
  return database;
}

/** True when the account answers a cheap metadata read; used by /readyz (through a cache). */
export async function isStoreReachable(database: Database): Promise<boolean> {
  try {
    await database.read();
    return true;
  } catch {
    return false;
  }
}
