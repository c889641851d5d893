import { setTimeout as sleep } from 'node:timers/promises';
import type { Container, ItemDefinition, OperationInput, OperationResponse, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { z } from 'zod';
import { forEachLimited } from '../common/forEachLimited';
import { StoreConcurrencyError, StoreConflictError, StoreValidationError, cosmosStatus } from './errors';
import { SYSTEM_PROPERTIES, sameContent } from './stable';

/** An entity as read, with the ETag that a conditional write needs. */
export interface Versioned<T> {
  value: T;
  etag: string;
}

export interface WriteResult<T> extends Versioned<T> {
  /** False when nothing was written (the content was already there, or the mutation made no change). */
  written: boolean;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Undefined on the last page. */
  continuationToken: string | undefined;
}

export interface QueryOptions {
  /** Single-partition query when set (cheap, the hot path); a cross-partition query otherwise. */
  partitionKey?: string;
}

/** The keys of T whose value is always a string: only those can be a partition key. */
export type StringField<T> = { [K in keyof T]-?: T[K] extends string ? K : never }[keyof T] & string;

export interface DocumentStoreOptions<T> {
  container: Container;
  schema: z.ZodType<T>;
  /** Written as `type` on every document and checked on every read, so a container can hold several kinds. */
  docType: string;
  /** The field the container is partitioned on (its partition key path without the slash). */
  partitionKeyField: StringField<T>;
  /** Fields that change on every write (timestamps) and so must not count as a change in upsertIfChanged. */
  volatileFields?: readonly string[];
  /** Fields upsertIfChanged keeps from the stored document (createdDateTime): a re-sync is not a creation. */
  preservedFields?: readonly (keyof T & string)[];
  /** Bound on read-modify-write attempts when other writers keep winning. */
  maxAttempts?: number;
}

/** A document to write if it changed, with what a partition query found for it (null: absent). */
export interface PendingWrite<T> {
  entity: T;
  current: Versioned<T> | null;
}

export interface ManyWriteOptions {
  /** Batches in flight at once. */
  concurrency?: number;
  /** Checked before each batch: stop writing when the caller lost its lease. */
  signal?: AbortSignal | undefined;
}

type Mutation<T> = (current: T) => T | undefined | Promise<T | undefined>;

const DEFAULT_MAX_ATTEMPTS = 40;

/**
 * Items per page when a query is read to the end. The SDK's default (100) costs a round trip per
 * hundred documents, and the local emulator scans the whole container for every page, so a token's
 * 2,000 users took 20 scans; Cosmos still cuts a page short at its 4 MB / time limits and fetchAll
 * follows the continuation, so a bigger page changes cost, never results.
 */
const QUERY_PAGE_SIZE = 1000;

/** Every query filters on the document type; the partition filter is attached to this condition. */
const TYPE_FILTER = /\bc\.type\s*=\s*@type\b/gi;
const PARTITION_PARAMETER = '@partitionKey';

/** Cosmos's cap on operations in one transactional batch. */
const MAX_BATCH_OPERATIONS = 100;
const DEFAULT_BATCH_CONCURRENCY = 4;

/**
 * Typed, validated access to one kind of document: every write is validated before it is sent, every
 * read before it is returned, and every update is a conditional replace (If-Match the ETag read) that
 * is retried on 412, so concurrent writers never overwrite each other's changes.
 */
export class DocumentStore<T extends { id: string }> {
  readonly container: Container;
  readonly docType: string;
  private readonly schema: z.ZodType<T>;
  readonly partitionKeyField: StringField<T>;
  private readonly volatileFields: readonly string[];
  private readonly preservedFields: readonly (keyof T & string)[];
  private readonly maxAttempts: number;

  constructor(options: DocumentStoreOptions<T>) {
    this.container = options.container;
    this.schema = options.schema;
    this.docType = options.docType;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.partitionKeyField)) {
      throw new Error(`${options.docType}: partition key field "${options.partitionKeyField}" is not a plain property name`);
    }
    this.partitionKeyField = options.partitionKeyField;
    this.volatileFields = options.volatileFields ?? [];
    this.preservedFields = options.preservedFields ?? [];
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  private partitionKeyOf(entity: T): string {
    return entity[this.partitionKeyField] as string;
  }

  /** Validates an entity the way a write would, without writing (for callers that build documents). */
  validate(entity: T): T {
    const parsed = this.schema.safeParse(entity);
    if (!parsed.success) throw new StoreValidationError('write', this.docType, String(entity.id), parsed.error);
    return parsed.data;
  }

  /** Turns a raw Cosmos item into an entity, or throws naming the document and the bad fields. */
  fromDocument(raw: ItemDefinition): Versioned<T> {
    const { type, ...rest } = raw as Record<string, unknown>;
    const id = typeof rest.id === 'string' ? rest.id : '(no id)';
    const etag = typeof rest._etag === 'string' ? rest._etag : '';
    for (const key of SYSTEM_PROPERTIES) delete rest[key];
    if (type !== this.docType) {
      const issue = { code: 'custom' as const, path: ['type'], message: `expected "${this.docType}", found ${JSON.stringify(type)}`, input: type };
      throw new StoreValidationError('read', this.docType, id, new z.ZodError([issue]));
    }
    const parsed = this.schema.safeParse(rest);
    if (!parsed.success) throw new StoreValidationError('read', this.docType, id, parsed.error);
    return { value: parsed.data, etag };
  }

  private toDocument(entity: T): ItemDefinition {
    return { ...this.validate(entity), type: this.docType };
  }

  async read(id: string, partitionKey: string): Promise<Versioned<T> | undefined> {
    try {
      const { resource } = await this.container.item(id, partitionKey).read<ItemDefinition>();
      return resource ? this.fromDocument(resource) : undefined;
    } catch (err) {
      if (cosmosStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async get(id: string, partitionKey: string): Promise<T | undefined> {
    return (await this.read(id, partitionKey))?.value;
  }

  /** Creates the document; throws StoreConflictError when the id is taken. */
  async create(entity: T): Promise<Versioned<T>> {
    const created = await this.tryCreate(entity);
    if (!created) throw new StoreConflictError(this.docType, entity.id);
    return created;
  }

  /** Creates the document, or returns undefined when the id is already taken (someone else won). */
  async tryCreate(entity: T): Promise<Versioned<T> | undefined> {
    try {
      const { resource } = await this.container.items.create(this.toDocument(entity));
      if (!resource) throw new Error(`Cosmos returned no body creating ${this.docType} "${entity.id}"`);
      return this.fromDocument(resource);
    } catch (err) {
      if (cosmosStatus(err) === 409) return undefined;
      throw err;
    }
  }

  /** Replaces the document only if it still has `etag`; undefined when it changed or vanished meanwhile. */
  async tryReplace(entity: T, etag: string): Promise<Versioned<T> | undefined> {
    try {
      const { resource } = await this.container
        .item(entity.id, this.partitionKeyOf(entity))
        .replace(this.toDocument(entity), { accessCondition: { type: 'IfMatch', condition: etag } });
      if (!resource) throw new Error(`Cosmos returned no body replacing ${this.docType} "${entity.id}"`);
      return this.fromDocument(resource);
    } catch (err) {
      const status = cosmosStatus(err);
      if (status === 412 || status === 404) return undefined;
      throw err;
    }
  }

  /** Last writer wins: only for documents with a single writer or whose content is the whole truth. */
  async upsert(entity: T): Promise<Versioned<T>> {
    const { resource } = await this.container.items.upsert(this.toDocument(entity));
    if (!resource) throw new Error(`Cosmos returned no body upserting ${this.docType} "${entity.id}"`);
    return this.fromDocument(resource);
  }

  /**
   * Read → mutate → replace If-Match, retried (bounded, jittered) when another writer got there first,
   * so every writer's change lands. The mutation may run more than once: keep it free of side effects.
   * Returns undefined when the document does not exist.
   */
  async update(id: string, partitionKey: string, mutate: Mutation<T>): Promise<WriteResult<T> | undefined> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const current = await this.read(id, partitionKey);
      if (!current) return undefined;
      const next = await mutate(structuredClone(current.value));
      if (next === undefined) return { ...current, written: false };
      this.assertSameIdentity(current.value, next);
      const replaced = await this.tryReplace(next, current.etag);
      if (replaced) return { ...replaced, written: true };
      await backoff(attempt);
    }
    throw new StoreConcurrencyError(this.docType, id, this.maxAttempts);
  }

  /**
   * Writes `entity` only if the stored content differs (ignoring volatile fields), so repeating a sync
   * that found nothing new costs reads but no writes. Pass `current` (from a list query, say) to skip
   * the read; `null` means "known to be absent".
   */
  async upsertIfChanged(entity: T, current?: Versioned<T> | null): Promise<WriteResult<T>> {
    const desired = this.validate(entity);
    let known: Versioned<T> | null | undefined = current;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const existing = known === undefined ? await this.read(desired.id, this.partitionKeyOf(desired)) : (known ?? undefined);
      known = undefined;
      const candidate = existing ? this.keepPreserved(desired, existing.value) : desired;
      if (existing && sameContent(existing.value as Record<string, unknown>, candidate as Record<string, unknown>, this.volatileFields)) {
        return { ...existing, written: false };
      }
      const written = existing ? await this.tryReplace(candidate, existing.etag) : await this.tryCreate(desired);
      if (written) return { ...written, written: true };
      await backoff(attempt);
    }
    throw new StoreConcurrencyError(this.docType, desired.id, this.maxAttempts);
  }

  /**
   * upsertIfChanged for many documents of one partition whose stored versions the caller has already
   * read: unchanged documents cost nothing, the rest go to Cosmos as transactional batches of up to 100
   * conditional writes (create, or replace If-Match), one round trip per batch instead of per document.
   * A write that loses a race (409/412), or a batch Cosmos refuses as a whole (Azure rolls the batch
   * back; the emulator stops at the failure), falls back to upsertIfChanged one document at a time,
   * which re-reads and so never overwrites someone else's change. Results are in input order.
   */
  async upsertManyIfChanged(partitionKey: string, writes: readonly PendingWrite<T>[], options: ManyWriteOptions = {}): Promise<WriteResult<T>[]> {
    const results = new Array<WriteResult<T>>(writes.length);
    const pending: Array<{ index: number; entity: T; operation: OperationInput }> = [];
    writes.forEach(({ entity, current }, index) => {
      const desired = this.validate(entity);
      if (this.partitionKeyOf(desired) !== partitionKey) throw new Error(`${this.docType} "${desired.id}" is not in partition "${partitionKey}"`);
      const candidate = current ? this.keepPreserved(desired, current.value) : desired;
      if (current && sameContent(current.value as Record<string, unknown>, candidate as Record<string, unknown>, this.volatileFields)) {
        results[index] = { ...current, written: false };
        return;
      }
      const resourceBody = { ...candidate, type: this.docType };
      const operation: OperationInput = current
        ? { operationType: 'Replace', id: candidate.id, partitionKey, resourceBody, ifMatch: current.etag }
        : { operationType: 'Create', partitionKey, resourceBody };
      pending.push({ index, entity: candidate, operation });
    });
    const batches: Array<typeof pending> = [];
    for (let i = 0; i < pending.length; i += MAX_BATCH_OPERATIONS) batches.push(pending.slice(i, i + MAX_BATCH_OPERATIONS));
    await forEachLimited(batches, options.concurrency ?? DEFAULT_BATCH_CONCURRENCY, async (batch) => {
      options.signal?.throwIfAborted();
      const answers = await this.tryBatch(partitionKey, batch.map((p) => p.operation));
      for (const [i, { index, entity }] of batch.entries()) {
        const answer = answers?.[i];
        const written = answer && answer.statusCode >= 200 && answer.statusCode < 300 ? this.batchResult(entity, answer) : undefined;
        results[index] = written ?? (await this.upsertIfChanged(entity));
      }
    });
    return results;
  }

  /** The per-operation answers of a transactional batch, or undefined when Cosmos refused it as a whole. */
  private async tryBatch(partitionKey: string, operations: OperationInput[]): Promise<OperationResponse[] | undefined> {
    try {
      return (await this.container.items.batch(operations, partitionKey)).result;
    } catch {
      // Atomic on Azure: nothing was written, and every document is retried on its own (which surfaces
      // the error, if it was not a lost race, with its real status).
      return undefined;
    }
  }

  private batchResult(sent: T, answer: OperationResponse): WriteResult<T> {
    const stored = answer.resourceBody ? this.fromDocument(answer.resourceBody) : { value: sent, etag: answer.eTag ?? '' };
    return { ...stored, written: true };
  }

  /**
   * Deletes the document; with `etag`, only if it has not changed since it was read. False when there
   * was nothing to delete or (with `etag`) it had changed.
   */
  async delete(id: string, partitionKey: string, etag?: string): Promise<boolean> {
    try {
      await this.container.item(id, partitionKey).delete(etag ? { accessCondition: { type: 'IfMatch', condition: etag } } : undefined);
      return true;
    } catch (err) {
      const status = cosmosStatus(err);
      if (status === 404 || status === 412) return false;
      throw err;
    }
  }

  /**
   * Deletes every document of this type in one partition (a removed token's books, say). Reads ids
   * only, so even documents that no longer pass the schema are removed.
   */
  async deletePartition(partitionKey: string): Promise<number> {
    const { resources } = await this.container.items
      .query<unknown>(this.spec('SELECT VALUE c.id FROM c WHERE c.type = @type', [], partitionKey), { partitionKey, maxItemCount: QUERY_PAGE_SIZE })
      .fetchAll();
    let deleted = 0;
    for (const id of resources) {
      if (typeof id === 'string' && (await this.delete(id, partitionKey))) deleted++;
    }
    return deleted;
  }

  /**
   * Runs a query whose SQL filters on `c.type = @type` (the parameter is supplied here, and with a
   * partition key so is the partition filter: see `spec`).
   */
  async query(sql: string, parameters: SqlParameter[] = [], options: QueryOptions = {}): Promise<Versioned<T>[]> {
    const { resources } = await this.container.items
      .query<ItemDefinition>(this.spec(sql, parameters, options.partitionKey), { partitionKey: options.partitionKey, maxItemCount: QUERY_PAGE_SIZE })
      .fetchAll();
    return resources.map((r) => this.fromDocument(r));
  }

  async queryValues(sql: string, parameters: SqlParameter[] = [], options: QueryOptions = {}): Promise<T[]> {
    return (await this.query(sql, parameters, options)).map((v) => v.value);
  }

  /**
   * One page of a query, of one partition or (partitionKey undefined) across them, which Cosmos fans out in
   * parallel; the continuation token is Cosmos's own, opaque to callers.
   */
  async queryPage(sql: string, parameters: SqlParameter[], partitionKey: string | undefined, pageSize: number, continuationToken?: string): Promise<Page<T>> {
    const iterator = this.container.items.query<ItemDefinition>(this.spec(sql, parameters, partitionKey), { partitionKey, maxItemCount: pageSize, continuationToken });
    // Cosmos may return an empty page with a continuation; keep going until there is something to show.
    let response = await iterator.fetchNext();
    while (response.resources.length === 0 && response.hasMoreResults && response.continuationToken) {
      response = await iterator.fetchNext();
    }
    return {
      items: response.resources.map((r) => this.fromDocument(r).value),
      continuationToken: response.hasMoreResults ? response.continuationToken : undefined,
    };
  }

  /** A scalar query (`SELECT VALUE COUNT(1) ...`), parsed with `schema`. */
  async scalar<V>(sql: string, parameters: SqlParameter[], schema: z.ZodType<V>, options: QueryOptions = {}): Promise<V[]> {
    const { resources } = await this.container.items
      .query<unknown>(this.spec(sql, parameters, options.partitionKey), { partitionKey: options.partitionKey, maxItemCount: QUERY_PAGE_SIZE })
      .fetchAll();
    return resources.map((r) => schema.parse(r));
  }

  private keepPreserved(desired: T, stored: T): T {
    const merged = { ...desired };
    for (const field of this.preservedFields) {
      if (stored[field] !== undefined) merged[field] = stored[field];
    }
    return merged;
  }

  /**
   * The query as sent: `@type` bound and, for a single-partition query, the partition filter written
   * into the SQL (`c.type = @type` becomes `(c.type = @type AND c.<field> = @partitionKey)`). Azure
   * scopes a query by the partition key option alone, but the local emulator ignores that option and
   * would answer with every partition's documents (token A's sync reading token B's users); the
   * filter makes both agree and costs Azure nothing. The type filter must already be a top-level
   * condition for the type check to hold, so the partition filter is one too.
   */
  private spec(sql: string, parameters: SqlParameter[], partitionKey: string | undefined): SqlQuerySpec {
    if (!sql.match(TYPE_FILTER)) {
      throw new Error(`${this.docType} query must filter on "c.type = @type" (the store binds it, and scopes partitions next to it): ${sql}`);
    }
    const bound: SqlParameter[] = [{ name: '@type', value: this.docType }, ...parameters];
    if (partitionKey === undefined) return { query: sql, parameters: bound };
    if (parameters.some((p) => p.name === PARTITION_PARAMETER)) throw new Error(`${PARTITION_PARAMETER} is reserved for the store's partition filter: ${sql}`);
    return {
      query: sql.replace(TYPE_FILTER, `(c.type = @type AND c.${this.partitionKeyField} = ${PARTITION_PARAMETER})`),
      parameters: [...bound, { name: PARTITION_PARAMETER, value: partitionKey }],
    };
  }

  private assertSameIdentity(before: T, after: T): void {
    if (after.id !== before.id || this.partitionKeyOf(after) !== this.partitionKeyOf(before)) {
      throw new Error(`An update of ${this.docType} "${before.id}" tried to change its id or partition key`);
    }
  }
}

/** Full jitter, capped: colliding writers spread out instead of colliding again in lockstep. */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(200, 5 * 2 ** Math.min(attempt, 6));
  return sleep(Math.floor(Math.random() * ceiling));
}
