import { TurnContext } from 'botbuilder';
import type { NotificationMessage } from '../../services/notifications/ProactiveSender';
import type { DeliveryResult, Recipient } from '../../services/notifications/NotificationOutbox';
import { conversationReferenceJsonSchema } from '../../services/store/entities/conversation';

/** Posts into a conversation later, outside the turn (the NotificationOutbox, within Teams' limits). */
export interface ConversationPoster {
  send(recipient: Recipient, message: NotificationMessage): Promise<DeliveryResult>;
}

/** Where background results for this turn go: the conversation that asked. */
export function replyTarget(context: TurnContext, tenantId: string): Recipient {
  const raw = JSON.parse(JSON.stringify(TurnContext.getConversationReference(context.activity))) as unknown;
  const { activityId: _activityId, ...reference } = conversationReferenceJsonSchema.parse(raw);
  return { tenantId, conversationId: reference.conversation.id, reference };
}
