import type { StoredConversation } from '../store/entities/conversation';
import type { Store } from '../store/Store';

/** Who hears about a tenant's tokens. */
export interface RecipientResolver {
  forTenant(tenantId: string): Promise<StoredConversation[]>;
}

export interface AdminRecipientsOptions {
  store: Store;
  /** Whether a user is (still) a bot admin; personal chats of anyone else get no notices. */
  isAdmin?: ((tenantId: string, aadObjectId: string) => Promise<boolean>) | undefined;
  /** A channel the admins chose for notices; used instead of personal chats once the bot has a reference to it. */
  adminChannelConversationId?: string | undefined;
}

/** Admins' personal chats with the bot, or the configured admin channel. */
export class AdminRecipients implements RecipientResolver {
  constructor(private readonly options: AdminRecipientsOptions) {}

  async forTenant(tenantId: string): Promise<StoredConversation[]> {
    const { store, adminChannelConversationId, isAdmin } = this.options;
    if (adminChannelConversationId) {
      const channel = await store.conversations.getForConversation(tenantId, adminChannelConversationId);
      if (channel) return [channel];
    }
    const personal = await store.conversations.listByTenant(tenantId, 'personal');
    if (!isAdmin) return personal;
    const admins: StoredConversation[] = [];
    for (const conversation of personal) {
      if (conversation.userAadObjectId && (await isAdmin(tenantId, conversation.userAadObjectId))) admins.push(conversation);
    }
    return admins;
  }
}
