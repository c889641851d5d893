import { randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { DocumentStore, type Page } from '../DocumentStore';
import { auditEventSchema, type AuditEvent } from '../entities/audit';
import { clockOf, type RepositoryOptions } from './options';

export type AuditEntry = Omit<AuditEvent, 'id' | 'timestamp'> & Partial<Pick<AuditEvent, 'id' | 'timestamp'>>;

/** Append-only record of admin and system actions, per tenant. The schema refuses anything secret. */
export class AuditLog {
  readonly store: DocumentStore<AuditEvent>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({ container, schema: auditEventSchema, docType: 'audit', partitionKeyField: 'tenantId', maxAttempts: options.maxAttempts });
  }

  /** Records an event; throws StoreValidationError (and writes nothing) if it carries a secret. */
  async record(entry: AuditEntry): Promise<AuditEvent> {
    const event: AuditEvent = { ...entry, id: entry.id ?? randomUUID(), timestamp: entry.timestamp ?? this.now().toISOString() };
    return (await this.store.create(event)).value;
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
