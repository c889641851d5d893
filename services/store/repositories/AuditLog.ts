import { randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { DocumentStore, type Page } from '../DocumentStore';
import { auditEventSchema, type AuditEvent } from '../entities/audit';
import { clockOf, type RepositoryOptions } from './options';
import { WindowedEntries } from '../../common/FixedWindowLimiter';

export type AuditEntry = Omit<AuditEvent, 'id' | 'timestamp' | 'count' | 'lastTimestamp'> & Partial<Pick<AuditEvent, 'id' | 'timestamp'>>;

/** One repeated event's entry while its window is open: the document as first written, and how often since. */
interface Repeat {
  readonly startedAt: number;
  readonly event: AuditEvent;
  count: number;
  lastTimestamp: string;
  /** The write under way; `dirty` asks it to write once more with the latest count. */
  writing: Promise<void> | undefined;
  dirty: boolean;
}

/** Windows of repeated events kept at most: a flood of distinct keys forgets the oldest rather than grow. */
const MAX_REPEAT_KEYS = 10_000;

/** Append-only record of admin and system actions, per tenant. The schema refuses anything secret. */
export class AuditLog {
  readonly store: DocumentStore<AuditEvent>;
  private readonly now: () => Date;
  private readonly repeats = new Map<number, WindowedEntries<Repeat>>();

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({ container, schema: auditEventSchema, docType: 'audit', partitionKeyField: 'tenantId', maxAttempts: options.maxAttempts });
  }

  /** Records an event; throws StoreValidationError (and writes nothing) if it carries a secret. */
  async record(entry: AuditEntry): Promise<AuditEvent> {
    const event: AuditEvent = { ...entry, id: entry.id ?? randomUUID(), timestamp: entry.timestamp ?? this.now().toISOString() };
    return (await this.store.create(event)).value;
  }

  /**
   * Records an event that may come again and again (a refusal repeated by a script, say): the first
   * occurrence under `key` writes a document, and later ones within `windowMs` of it only raise that
   * document's `count` and `lastTimestamp`. One document per key and window, however many occurrences;
   * writes for one document are coalesced, so a burst costs a few writes, not one each. Resolves once
   * this occurrence is counted in the stored document.
   */
  async recordRepeated(key: string, entry: AuditEntry, windowMs: number): Promise<void> {
    let windows = this.repeats.get(windowMs);
    if (!windows) {
      windows = new WindowedEntries<Repeat>({ windowMs, maxKeys: MAX_REPEAT_KEYS, now: () => this.now().getTime() });
      this.repeats.set(windowMs, windows);
    }
    const at = this.now().toISOString();
    const repeat = windows.open(key, (now) => ({
      startedAt: now,
      event: { ...entry, id: entry.id ?? randomUUID(), timestamp: entry.timestamp ?? at },
      count: 0,
      lastTimestamp: at,
      writing: undefined,
      dirty: false,
    }));
    repeat.count += 1;
    repeat.lastTimestamp = at;
    await this.writeRepeat(repeat);
  }

  private writeRepeat(repeat: Repeat): Promise<void> {
    if (repeat.writing) {
      repeat.dirty = true;
      return repeat.writing;
    }
    const writing = (async () => {
      try {
        do {
          repeat.dirty = false;
          const { count, lastTimestamp } = repeat;
          await this.store.upsert(count === 1 ? { ...repeat.event, count } : { ...repeat.event, count, lastTimestamp });
        } while (repeat.dirty);
      } finally {
        repeat.writing = undefined;
      }
    })();
    repeat.writing = writing;
    return writing;
  }

  /** Newest first, a page at a time. */
  list(tenantId: string, pageSize = 20, continuationToken?: string): Promise<Page<AuditEvent>> {
    return this.store.queryPage(
      'SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId ORDER BY c.timestamp DESC',
      [{ name: '@tenantId', value: tenantId }],
      tenantId,
      pageSize,
      continuationToken,
    );
  }

  /** Everything that happened to one thing (a token, an assignment), oldest first. */
  listForTarget(tenantId: string, targetType: AuditEvent['target']['type'], targetId: string): Promise<AuditEvent[]> {
    return this.store.queryValues(
      'SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.target.type = @targetType AND c.target.id = @targetId ORDER BY c.timestamp',
      [
        { name: '@tenantId', value: tenantId },
        { name: '@targetType', value: targetType },
        { name: '@targetId', value: targetId },
      ],
      { partitionKey: tenantId },
    );
  }
}
