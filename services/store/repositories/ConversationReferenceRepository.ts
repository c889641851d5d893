import type { Container } from '@azure/cosmos';
import { DocumentStore, type WriteResult } from '../DocumentStore';
import {
  conversationDocId,
  storedConversationSchema,
  type ConversationReferenceJson,
  type StoredConversation,
} from '../entities/conversation';
import { clockOf, type RepositoryOptions } from './options';

export interface SaveConversationInput {
  tenantId: string;
  scope: StoredConversation['scope'];
  userAadObjectId?: string;
  conversationId: string;
  reference: ConversationReferenceJson;
}

/**
 * Where proactive messages go, per tenant. Saved on every message, but only written when the reference
 * actually changed, so chatting with the bot does not cost a write per message.
 */
export class ConversationReferenceRepository {
  readonly store: DocumentStore<StoredConversation>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({
      container,
      schema: storedConversationSchema,
      docType: 'conversation',
      partitionKeyField: 'tenantId',
      volatileFields: ['updatedDateTime'],
      maxAttempts: options.maxAttempts,
    });
  }

  async save(input: SaveConversationInput): Promise<WriteResult<StoredConversation>> {
    if (input.scope === 'personal' && !input.userAadObjectId) throw new Error('A personal conversation reference needs the user\'s aadObjectId');
    const key = input.scope === 'personal' ? (input.userAadObjectId as string) : input.conversationId;
    return this.store.upsertIfChanged({
      id: conversationDocId(input.scope, key),
      tenantId: input.tenantId,
      scope: input.scope,
      userAadObjectId: input.userAadObjectId,
      conversationId: input.conversationId,
      reference: input.reference,
      updatedDateTime: this.now().toISOString(),
    });
  }

  getForUser(tenantId: string, userAadObjectId: string): Promise<StoredConversation | undefined> {
    return this.store.get(conversationDocId('personal', userAadObjectId), tenantId);
  }

  async getForConversation(tenantId: string, conversationId: string): Promise<StoredConversation | undefined> {
    const [found] = await this.store.queryValues(
      'SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.conversationId = @conversationId',
      [
        { name: '@tenantId', value: tenantId },
        { name: '@conversationId', value: conversationId },
      ],
      { partitionKey: tenantId },
    );
    return found;
  }

  listByTenant(tenantId: string, scope?: StoredConversation['scope']): Promise<StoredConversation[]> {
    const filter = scope ? ' AND c.scope = @scope' : '';
    return this.store.queryValues(
      `SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId${filter}`,
      [{ name: '@tenantId', value: tenantId }, ...(scope ? [{ name: '@scope', value: scope }] : [])],
      { partitionKey: tenantId },
    );
  }

  /** On uninstall, 403 or 404 from Teams: forget every reference to that conversation. */
  async deleteByConversationId(tenantId: string, conversationId: string): Promise<number> {
    const found = await this.store.queryValues(
      'SELECT * FROM c WHERE c.type = @type AND c.tenantId = @tenantId AND c.conversationId = @conversationId',
      [
        { name: '@tenantId', value: tenantId },
        { name: '@conversationId', value: conversationId },
      ],
      { partitionKey: tenantId },
    );
    const deleted = await Promise.all(found.map((c) => this.store.delete(c.id, tenantId)));
    return deleted.filter(Boolean).length;
  }
}
