import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { CosmosClient, type PartitionKeyDefinition } from '@azure/cosmos';
import { z } from 'zod';
import type { Logger } from '../../services/logging/logger';

/** The local server accepts any key; this one only has to be valid base64 for the client's signer. */
export const EMBEDDED_COSMOS_KEY = 'bG9jYWwtY29zbW9zLWtleS1ub3QtYS1zZWNyZXQ=';

const SYSTEM_PROPERTIES = ['_rid', '_self', '_etag', '_ts', '_attachments', '_lsn'];

const snapshotSchema = z.object({
  format: z.literal(1),
  savedAt: z.string(),
  databases: z.array(
    z.object({
      id: z.string(),
      containers: z.array(
        z.object({
          id: z.string(),
          partitionKey: z.object({ paths: z.array(z.string()), kind: z.string().optional(), version: z.number().optional() }),
          defaultTtl: z.number().optional(),
          items: z.array(z.record(z.string(), z.unknown())),
        }),
      ),
    }),
  ),
});
type Snapshot = z.infer<typeof snapshotSchema>;

export interface EmbeddedCosmosOptions {
  port?: number;
  /** File that keeps the contents across restarts; omit for a purely in-memory server (tests). */
  snapshotFile?: string;
  /** How often to save while running, besides on stop. */
  snapshotIntervalMs?: number;
  logger?: Logger;
  /** Called with the HTTP server before it listens (benchmarks add what the emulator lacks). */
  configureServer?: (server: Server) => void;
}

/**
 * A Cosmos-protocol server on 127.0.0.1 (@vercel/cosmosdb-server) for local mode and tests. The server
 * itself is memory-only, so persistence is a snapshot read and restored through the real
 * @azure/cosmos client: the store code path is the same one production uses.
 */
export class EmbeddedCosmos {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  endpoint = '';

  constructor(private readonly options: EmbeddedCosmosOptions = {}) {}

  get key(): string {
    return EMBEDDED_COSMOS_KEY;
  }

  async start(): Promise<void> {
    // Keep-alive: otherwise every Cosmos call of every turn opens a new TCP connection.
    const server = createHttpServer({ keepAlive: true });
    this.options.configureServer?.(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (this.options.snapshotFile) {
      await this.restore(this.options.snapshotFile);
      const interval = this.options.snapshotIntervalMs ?? 15_000;
      this.timer = setInterval(() => void this.save().catch((err: unknown) => this.options.logger?.warn({ err }, 'local store snapshot failed')), interval);
      this.timer.unref();
    }
  }

  client(): CosmosClient {
    return new CosmosClient({ endpoint: this.endpoint, key: EMBEDDED_COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
  }

  /** Saves the whole contents atomically (write a temp file, then rename), serialised with other saves. */
  save(): Promise<void> {
    const file = this.options.snapshotFile;
    if (!file || !this.server) return this.saving;
    this.saving = this.saving.catch(() => undefined).then(async () => {
      const snapshot = await this.readAll();
      await fs.mkdir(path.dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(temp, JSON.stringify(snapshot), { mode: 0o600 });
      await fs.rename(temp, file);
    });
    return this.saving;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (!this.server) return;
    await this.save();
    const server = this.server;
    this.server = undefined;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async readAll(): Promise<Snapshot> {
    const client = this.client();
    const snapshot: Snapshot = { format: 1, savedAt: new Date().toISOString(), databases: [] };
    const { resources: databases } = await client.databases.readAll().fetchAll();
    for (const db of databases) {
      const database = client.database(db.id);
      const { resources: containers } = await database.containers.readAll().fetchAll();
      const entry: Snapshot['databases'][number] = { id: db.id, containers: [] };
      for (const c of containers) {
        const { resources: items } = await database.container(c.id).items.readAll().fetchAll();
        entry.containers.push({
          id: c.id,
          partitionKey: (c.partitionKey ?? { paths: ['/id'] }) as Snapshot['databases'][number]['containers'][number]['partitionKey'],
          defaultTtl: c.defaultTtl,
          items: items.map((item) => stripSystemProperties(item as Record<string, unknown>)),
        });
      }
      snapshot.databases.push(entry);
    }
    return snapshot;
  }

  private async restore(file: string): Promise<void> {
    let raw: string;
    try {
      raw = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const parsed = snapshotSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) {
      // Keep the unreadable file for inspection rather than overwriting the admin's data.
      const aside = `${file}.unreadable-${Date.now()}`;
      await fs.rename(file, aside);
      this.options.logger?.error({ file: aside }, 'local store snapshot unreadable; starting empty and kept the old file aside');
      return;
    }
    const client = this.client();
    for (const db of parsed.data.databases) {
      const { database } = await client.databases.createIfNotExists({ id: db.id });
      for (const c of db.containers) {
        const { container } = await database.containers.createIfNotExists({
          id: c.id,
          partitionKey: c.partitionKey as PartitionKeyDefinition,
          defaultTtl: c.defaultTtl,
        });
        for (const item of c.items) await container.items.upsert(item);
      }
    }
    this.options.logger?.info({ file, databases: parsed.data.databases.length }, 'local store restored from snapshot');
  }
}

function stripSystemProperties(item: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...item };
  for (const key of SYSTEM_PROPERTIES) delete copy[key];
  return copy;
}
