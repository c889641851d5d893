import type { Container, ContainerRequest, Database } from '@azure/cosmos';

/** The bot's dialog state (bot/CosmosBotStorage) lives here; the store never creates or touches it. */
export const RESERVED_CONTAINER = 'botState';

/**
 * Every container the store uses and its partition key. DESIGN.md explains each choice by the queries
 * it serves; change both together.
 */
export const CONTAINER_DEFINITIONS = {
  tokens: { id: 'tokens', partitionKey: { paths: ['/tenantId'] } },
  books: { id: 'books', partitionKey: { paths: ['/tokenId'] } },
  assignments: { id: 'assignments', partitionKey: { paths: ['/tokenId'] } },
  vppUsers: { id: 'vppUsers', partitionKey: { paths: ['/tokenId'] } },
  // -1: TTL on, nothing expires unless the item carries its own `ttl` (sync runs do, to cap history).
  syncRuns: { id: 'syncRuns', partitionKey: { paths: ['/tokenId'] }, defaultTtl: -1 },
  // Open chat requests for a sync result; items carry a one-day ttl.
  syncRequests: { id: 'syncRequests', partitionKey: { paths: ['/tenantId'] }, defaultTtl: -1 },
  approvals: { id: 'approvals', partitionKey: { paths: ['/tenantId'] } },
  conversations: { id: 'conversations', partitionKey: { paths: ['/tenantId'] } },
  notifications: { id: 'notifications', partitionKey: { paths: ['/tokenId'] } },
  audit: { id: 'audit', partitionKey: { paths: ['/tenantId'] } },
  leases: { id: 'leases', partitionKey: { paths: ['/id'] } },
} as const satisfies Record<string, ContainerRequest & { id: string }>;

export type ContainerName = keyof typeof CONTAINER_DEFINITIONS;
export type StoreContainers = Record<ContainerName, Container>;

/**
 * Creates every container that is missing (idempotent; run at start-up) and returns handles to all.
 * Existing containers are left as they are: changing a partition key means a migration, not this.
 */
export async function ensureContainers(database: Database): Promise<StoreContainers> {
  const entries = await Promise.all(
    (Object.keys(CONTAINER_DEFINITIONS) as ContainerName[]).map(async (name) => {
      const { container } = await database.containers.createIfNotExists(CONTAINER_DEFINITIONS[name]);
      return [name, container] as const;
    }),
  );
  return Object.fromEntries(entries) as StoreContainers;
}

/** Handles without the create round-trips, for code that runs after ensureContainers did its job. */
export function containersOf(database: Database): StoreContainers {
  const names = Object.keys(CONTAINER_DEFINITIONS) as ContainerName[];
  return Object.fromEntries(names.map((name) => [name, database.container(CONTAINER_DEFINITIONS[name].id)])) as StoreContainers;
}
