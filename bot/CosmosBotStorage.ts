import { createHash } from 'node:crypto';
import type { Container, Database } from '@azure/cosmos';
import type { Storage, StoreItems } from 'botbuilder';
import { z } from 'zod';

/** Container that holds dialog and conversation state; the repositories never use it. */
export const BOT_STATE_CONTAINER = 'botState';

const stateDocumentSchema = z.object({
  id: z.string(),
  realId: z.string(),
  document: z.record(z.string(), z.unknown()),
  _etag: z.string().optional(),
});

/** Cosmos ids may not hold '/', '\\', '?' or '#' and stop at 255 characters; state keys do both. */
function documentId(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * botbuilder's Storage over our own Cosmos client, so dialog state survives restarts and moves between
 * instances. Written here rather than taken from botbuilder-azure: its CosmosDbPartitionedStorage caches
 * the container per process by database and container name, so a second storage in the same process
 * (a restart in tests, a reconfigured client) keeps talking to the first client's endpoint.
 */
export class CosmosBotStorage implements Storage {
  private containerPromise: Promise<Container> | undefined;

  constructor(private readonly database: Database) {}

  private container(): Promise<Container> {
    this.containerPromise ??= this.database.containers
      .createIfNotExists({ id: BOT_STATE_CONTAINER, partitionKey: { paths: ['/id'] } })
      .then((r) => r.container)
      .catch((err: unknown) => {
        this.containerPromise = undefined;
        throw err;
      });
    return this.containerPromise;
  }

  async read(keys: string[]): Promise<StoreItems> {
    const container = await this.container();
    const items: StoreItems = {};
    await Promise.all(
      keys.map(async (key) => {
        const id = documentId(key);
        const { resource } = await container.item(id, id).read();
        if (!resource) return;
        const doc = stateDocumentSchema.parse(resource);
        items[key] = { ...doc.document, eTag: doc._etag };
      }),
    );
    return items;
  }

  async write(changes: StoreItems): Promise<void> {
    const container = await this.container();
    await Promise.all(
      Object.entries(changes).map(async ([key, value]) => {
        const { eTag, ...document } = (value ?? {}) as Record<string, unknown> & { eTag?: unknown };
        const id = documentId(key);
        const body = { id, realId: key, document };
        if (typeof eTag === 'string' && eTag !== '*' && eTag.length > 0) {
          // Optimistic concurrency: another turn saved this conversation meanwhile, so this one must not overwrite it.
          await container.item(id, id).replace(body, { accessCondition: { type: 'IfMatch', condition: eTag } });
          return;
        }
        await container.items.upsert(body);
      }),
    );
  }

  async delete(keys: string[]): Promise<void> {
    const container = await this.container();
    await Promise.all(
      keys.map(async (key) => {
        const id = documentId(key);
        try {
          await container.item(id, id).delete();
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
      }),
    );
  }
}
