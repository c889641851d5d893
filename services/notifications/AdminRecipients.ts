import { conversationDocId, type StoredConversation } from '../store/entities/conversation';
import type { Store } from '../store/Store';

/** Who hears about a tenant's tokens. */
export interface RecipientResolver {
  forTenant(tenantId: string): Promise<StoredConversation[]>;
}

export interface AdminRecipientsOptions {
  store: Store;
  /** Whether a user is (still) a bot admin; personal chats of anyone else get no notices. */
  isAdmin?: ((tenantId: string, aadObjectId: string) => Promise<boolean>) | undefined;
  /**
   * A channel the admins chose for notices (NOTIFY_CONVERSATION_ID), any channel of a team the bot is in;
   * used instead of personal chats once the bot knows the tenant (see channelReference).
   */
  adminChannelConversationId?: string | undefined;
}

const newestFirst = (a: StoredConversation, b: StoredConversation) => b.updatedDateTime.localeCompare(a.updatedDateTime);

/**
 * A reference to the admin channel, built from what the bot stored for this tenant.
 *
 * Why build it: Teams tells a bot about a team (installation, conversationUpdate) in the team's General
 * channel only (conversation.id is the General channel's id, which is also channelData.team.id), so the bot
 * never gets an activity, and so never a reference, for the team's other channels unless someone mentions
 * it there. Posting to another channel needs only that channel's id as conversation.id with the same
 * serviceUrl (Teams' serviceUrl is per region/tenant, not per conversation), bot and tenant: Teams accepts
 * it when the bot is installed in the channel's team, and answers 403 BotNotInConversationRoster otherwise.
 *
 * Which stored reference lends those: the exact one if the bot was ever mentioned in that channel; else a
 * team (channel) reference, the newest first: an activity never names the team of an arbitrary channel id,
 * so any team reference of the tenant carries the same serviceUrl, bot and tenant; failing that, any reference
 * of the tenant (a personal chat's serviceUrl is the tenant's too).
 */
async function channelReference(store: Store, tenantId: string, channelId: string): Promise<StoredConversation | undefined> {
  const exact = await store.conversations.getForConversation(tenantId, channelId);
  if (exact) return exact;
  const known = (await store.conversations.listByTenant(tenantId)).sort(newestFirst);
  const template = known.find((c) => c.scope === 'channel') ?? known[0];
  if (!template) return undefined;
  const { channelId: botChannel, serviceUrl, bot, locale } = template.reference;
  return {
    id: conversationDocId('channel', channelId),
    tenantId,
    scope: 'channel',
    conversationId: channelId,
    reference: {
      channelId: botChannel,
      serviceUrl,
      bot,
      ...(locale ? { locale } : {}),
      conversation: { id: channelId, isGroup: true, conversationType: 'channel', tenantId },
    },
    updatedDateTime: template.updatedDateTime,
  };
}

/** Admins' personal chats with the bot, or the configured admin channel. */
export class AdminRecipients implements RecipientResolver {
  constructor(private readonly options: AdminRecipientsOptions) {}

  async forTenant(tenantId: string): Promise<StoredConversation[]> {
    const { store, adminChannelConversationId, isAdmin } = this.options;
    if (adminChannelConversationId) {
      const channel = await channelReference(store, tenantId, adminChannelConversationId);
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
