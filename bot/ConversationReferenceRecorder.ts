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

/**
 * A channel message's conversation id names its thread (`19:…@thread.tacv2;messageid=…`). Notices go to the
 * channel as new posts, and a mention in the admins' channel should make NOTIFY_CONVERSATION_ID (the channel
 * id) match; it also keeps one reference per channel instead of one per thread.
 */
function channelIdOf(conversationId: string): string {
  const thread = conversationId.indexOf(';messageid=');
  return thread === -1 ? conversationId : conversationId.slice(0, thread);
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
  /**
   * What this process saved lately, per conversation: a repeat of it skips the store's read-and-compare,
   * which would otherwise cost every turn a Cosmos read. Entries age out, so a reference another instance
   * deleted (403/404) is written again within RECENT_MS.
   */
  private readonly recent = new Map<string, { json: string; at: number }>();
  private static readonly RECENT_MS = 5 * 60_000;
  private static readonly RECENT_MAX = 10_000;

  constructor(
    private readonly conversations: ConversationReferenceRepository,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private seenRecently(key: string, json: string): boolean {
    const entry = this.recent.get(key);
    return entry !== undefined && entry.json === json && this.now() - entry.at < ConversationReferenceRecorder.RECENT_MS;
  }

  private remember(key: string, json: string): void {
    this.recent.delete(key);
    this.recent.set(key, { json, at: this.now() });
    if (this.recent.size > ConversationReferenceRecorder.RECENT_MAX) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  async record(context: TurnContext): Promise<ReferenceChange> {
    const activity = context.activity;
    try {
      const tenantId = tenantOf(activity);
      const scope = scopeOf(activity);
      const conversationId = activity.conversation?.id && (scope === 'channel' ? channelIdOf(activity.conversation.id) : activity.conversation.id);
      if (!tenantId || !conversationId) return 'ignored';
      if (isUninstall(activity)) {
        for (const key of [...this.recent.keys()]) if (key.startsWith(`${tenantId}|${conversationId}|`)) this.recent.delete(key);
        await this.conversations.deleteByConversationId(tenantId, conversationId);
        return 'deleted';
      }
      const userAadObjectId = activity.from?.aadObjectId;
      // A personal reference is keyed by its user; without an Entra id there is no admin to reach.
      if (scope === 'personal' && !userAadObjectId) return 'ignored';
      // activityId points at this one message; keeping it would make every message a "change".
      const { activityId: _activityId, ...reference } = TurnContext.getConversationReference(activity);
      const candidate = { ...reference, conversation: { ...reference.conversation, id: conversationId } };
      const key = `${tenantId}|${conversationId}|${userAadObjectId ?? ''}`;
      const json = JSON.stringify(candidate);
      // Checked before validating: a repeat (nearly every turn) then costs one stringify.
      if (this.seenRecently(key, json)) return 'unchanged';
      const parsed = conversationReferenceJsonSchema.safeParse(JSON.parse(json));
      if (!parsed.success) return 'ignored';
      const result = await this.conversations.save({
        tenantId,
        scope,
        userAadObjectId: scope === 'personal' ? userAadObjectId : undefined,
        conversationId,
        reference: parsed.data,
      });
      this.remember(key, json);
      return result.written ? 'saved' : 'unchanged';
    } catch (err) {
      this.logger?.warn({ err, conversationId: activity.conversation?.id }, 'conversation reference not recorded');
      return 'ignored';
    }
  }
}
