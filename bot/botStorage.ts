import { CosmosDbPartitionedStorage } from 'botbuilder-azure';
import { DefaultAzureCredential } from '@azure/identity';
import type { Storage } from 'botbuilder';
import type { ResolvedCosmosSettings } from '../services/store/cosmosClient';

/** Container that holds dialog state; the repositories never use it. */
export const BOT_STATE_CONTAINER = 'botState';

/**
 * Dialog state in Cosmos (botbuilder-azure's partitioned storage) so that a flow in progress survives a
 * restart or moves to another instance.
 */
export function createBotStorage(settings: ResolvedCosmosSettings): Storage {
  return new CosmosDbPartitionedStorage({
    cosmosDbEndpoint: settings.endpoint,
    ...(settings.useManagedIdentity ? { tokenCredential: new DefaultAzureCredential() } : { authKey: settings.key ?? '' }),
    databaseId: settings.database,
    containerId: BOT_STATE_CONTAINER,
    compatibilityMode: false,
    cosmosClientOptions: {
      connectionPolicy: { enableEndpointDiscovery: !settings.endpoint.startsWith('http://') },
    },
  });
}
