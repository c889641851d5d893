import type { Container, ContainerDefinition, ContainerRequest, Database } from '@azure/cosmos';
import type { Logger } from '../logging/logger';

/** How long audit documents are kept unless AUDIT_RETENTION_DAYS says otherwise. */
const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const DAY_SECONDS = 86_400;

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
  // Retention: Cosmos deletes an audit document this long after its last write (AUDIT_RETENTION_DAYS).
  audit: { id: 'audit', partitionKey: { paths: ['/tenantId'] }, defaultTtl: DEFAULT_AUDIT_RETENTION_DAYS * DAY_SECONDS },
  leases: { id: 'leases', partitionKey: { paths: ['/id'] } },
} as const satisfies Record<string, ContainerRequest & { id: string }>;

export type ContainerName = keyof typeof CONTAINER_DEFINITIONS;
export type StoreContainers = Record<ContainerName, Container>;

export interface ContainerSettings {
  /** Days an audit document is kept; 0 keeps them for ever. */
  auditRetentionDays?: number;
  /** Told when the audit retention cannot be applied to an existing container. */
  logger?: Logger;
}

/** The definitions with the deployment's settings applied. */
function containerDefinitions(settings: ContainerSettings = {}): Record<ContainerName, ContainerRequest & { id: string }> {
  const days = settings.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
  const { defaultTtl: _default, ...audit } = CONTAINER_DEFINITIONS.audit;
  return { ...CONTAINER_DEFINITIONS, audit: days > 0 ? { ...audit, defaultTtl: days * DAY_SECONDS } : audit };
}

/**
 * Creates every container that is missing (idempotent; run at start-up) and returns handles to all.
 * Existing containers are left as they are (changing a partition key means a migration, not this),
 * except the audit container's retention, which follows the setting: it is a compliance promise.
 */
export async function ensureContainers(database: Database, settings: ContainerSettings = {}): Promise<StoreContainers> {
  const definitions = containerDefinitions(settings);
  const entries = await Promise.all(
    (Object.keys(definitions) as ContainerName[]).map(async (name) => {
      const { container, resource } = await database.containers.createIfNotExists(definitions[name]);
      if (name === 'audit') await applyRetention(container, resource, definitions.audit.defaultTtl, settings.logger);
      return [name, container] as const;
    }),
  );
  return Object.fromEntries(entries) as StoreContainers;
}

/**
 * Sets an existing container's default TTL when it differs. With Cosmos data-plane roles only (managed
 * identity), changing container settings is refused: then the infrastructure template owns the TTL, and
 * the mismatch is logged for the operator rather than stopping the bot.
 */
async function applyRetention(container: Container, resource: ContainerDefinition | undefined, defaultTtl: number | undefined, logger: Logger | undefined): Promise<void> {
  if (!resource || resource.defaultTtl === defaultTtl) return;
  const { defaultTtl: _current, ...rest } = resource;
  try {
    await container.replace(defaultTtl === undefined ? rest : { ...rest, defaultTtl });
  } catch (err) {
    if (!logger) throw err;
    logger.error(
      { err, container: resource.id, defaultTtl: resource.defaultTtl ?? null, wanted: defaultTtl ?? null },
      'could not set the audit retention (AUDIT_RETENTION_DAYS) on the existing audit container; set its default TTL in the infrastructure template',
    );
  }
}
