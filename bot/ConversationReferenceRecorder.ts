import { TurnContext, type Activity } from 'botbuilder';
import type { ConversationReferenceRepository } from '../services/store/repositories/ConversationReferenceRepository';
import { conversationReferenceJsonSchema, type StoredConversation } from '../services/store/entities/conversation';
import type { Logger } from '../services/logging/logger';

type Scope = StoredConversation['scope'];

function scopeOf(activity: Partial<Activity>): Scope {
  const type = activity.conversation?.conversationType;
  if (type === 'channel') return 'channel';
  if (type === 'groupChat' || activity.conversation?.isGroup) return 'groupChat';
  return 'personal';
}

function tenantOf(activity: Partial<Activity>): string | undefined {
  const channelData = activity.channelData as { tenant?: { id?: unknown } } | undefined;
  const fromChannelData = typeof channelData?.tenant?.id === 'string' ? channelData.tenant.id : undefined;
  return fromChannelData ?? activity.conversation?.tenantId;
}

function isUninstall(activity: Partial<Activity>): boolean {
  if (activity.type === 'installationUpdate') return activity.action === 'remove' || activity.action === 'remove-upgrade';
  // A channel or group chat the bot was removed from: the bot itself left the members.
  return activity.type === 'conversationUpdate' && (activity.membersRemoved ?? []).some((m) => m.id === activity.recipient?.id);
}

export type ReferenceChange = 'saved' | 'unchanged' | 'deleted' | 'ignored';

/**
 * Keeps the store's conversation references current, so proactive messages reach admins: saved on
 * every activity (the repository writes only when something changed), deleted on uninstall. Never
 * throws: losing a reference must not break the turn that carried it.
 */
export class ConversationReferenceRecorder {
  constructor(
    private readonly conversations: ConversationReferenceRepository,
    private readonly logger?: Logger,
  ) {}

  async record(context: TurnContext): Promise<ReferenceChange> {
    const activity = context.activity;
    try {
      const tenantId = tenantOf(activity);
      const conversationId = activity.conversation?.id;
      if (!tenantId || !conversationId) return 'ignored';
      if (isUninstall(activity)) {
        await this.conversations.deleteByConversationId(tenantId, conversationId);
        return 'deleted';
      }
      const scope = scopeOf(activity);
      const userAadObjectId = activity.from?.aadObjectId;
      // A personal reference is keyed by its user; without an Entra id there is no admin to reach.
      if (scope === 'personal' && !userAadObjectId) return 'ignored';
      const parsed = conversationReferenceJsonSchema.safeParse(JSON.parse(JSON.stringify(TurnContext.getConversationReference(activity))));
      if (!parsed.success) return 'ignored';
      // activityId points at this one message; keeping it would make every message a "change".
      const { activityId: _activityId, ...reference } = parsed.data;
      const result = await this.conversations.save({
        tenantId,
        scope,
        userAadObjectId: scope === 'personal' ? userAadObjectId : undefined,
        conversationId,
        reference,
      });
      return result.written ? 'saved' : 'unchanged';
    } catch (err) {
      this.logger?.warn({ err, conversationId: activity.conversation?.id }, 'conversation reference not recorded');
      return 'ignored';
    }
  }
}
