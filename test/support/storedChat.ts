import type { Store } from '../../services/store/Store';

/** A personal chat with the bot as Teams would have left it: the user's Teams id (MRI) and a serviceUrl. */
export async function storeTeamsChat(store: Store, chat: { tenantId: string; aadObjectId: string; mri: string; conversationId?: string }): Promise<void> {
  const conversationId = chat.conversationId ?? `a:chat-${chat.aadObjectId}`;
  await store.conversations.save({
    tenantId: chat.tenantId,
    scope: 'personal',
    userAadObjectId: chat.aadObjectId,
    conversationId,
    reference: { bot: { id: 'bot' }, user: { id: chat.mri, aadObjectId: chat.aadObjectId }, conversation: { id: conversationId }, channelId: 'msteams', serviceUrl: 'https://smba.example/emea/' },
  });
}
