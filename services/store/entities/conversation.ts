import { z } from 'zod';
import { deterministicId } from '../ids';
import { dateTimeSchema, idSchema } from './common';

// Loose objects: the Bot Framework adds fields over time and the notifier must hand back exactly what
// it was given; only the fields proactive messaging depends on are checked.
const channelAccountSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().optional(),
  aadObjectId: z.string().optional(),
  role: z.string().optional(),
});

const conversationAccountSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().optional(),
  isGroup: z.boolean().optional(),
  conversationType: z.string().optional(),
  tenantId: z.string().optional(),
});

/** The Bot Framework ConversationReference as plain JSON (services never import botbuilder). */
export const conversationReferenceJsonSchema = z.looseObject({
  activityId: z.string().optional(),
  user: channelAccountSchema.optional(),
  bot: channelAccountSchema,
  conversation: conversationAccountSchema,
  channelId: z.string().min(1),
  locale: z.string().optional(),
  serviceUrl: z.url(),
});
export type ConversationReferenceJson = z.infer<typeof conversationReferenceJsonSchema>;

/** Where the bot can post proactively: an admin's personal chat, or a channel. */
export const storedConversationSchema = z.object({
  id: idSchema,
  tenantId: z.string().min(1).max(128),
  scope: z.enum(['personal', 'channel', 'groupChat']),
  /** The admin's Entra object id, for personal conversations. */
  userAadObjectId: z.string().max(128).optional(),
  conversationId: z.string().min(1).max(1024),
  reference: conversationReferenceJsonSchema,
  updatedDateTime: dateTimeSchema,
});
export type StoredConversation = z.infer<typeof storedConversationSchema>;

/** Personal chats are keyed by user (one per admin), others by conversation id. */
export function conversationDocId(scope: StoredConversation['scope'], key: string): string {
  return scope === 'personal' ? deterministicId('user', key) : deterministicId('conversation', key);
}
