import { z } from 'zod';
import { LIMITS, actorSchema, adamIdSchema, dateTimeSchema, idSchema } from './common';
import { conversationReferenceJsonSchema } from './conversation';

const count = z.number().int().min(0);

/** The low-license books a sync result names; more would not fit a card. */
export const LOW_LICENSE_BOOKS_LIMIT = 50;

/** What a chat is told about one token's sync: the fields of the result card (and of the summary). */
export const syncResultSchema = z.object({
  status: z.enum(['completed', 'failed', 'skipped']),
  runId: idSchema.optional(),
  books: count,
  licenses: z.object({ total: count, used: count, available: count }),
  changes: z.object({ booksAdded: count, booksUpdated: count, booksRemoved: count, usersChanged: count, assignmentsChanged: count }),
  durationMs: count,
  error: z.object({ code: z.string().max(LIMITS.errorCode), message: z.string().max(LIMITS.message) }).optional(),
  lowLicenseBooks: z.array(z.object({ adamId: adamIdSchema, title: z.string().max(LIMITS.title), available: count, total: count })).max(LOW_LICENSE_BOOKS_LIMIT),
  finishedDateTime: dateTimeSchema,
});
export type StoredSyncResult = z.infer<typeof syncResultSchema>;

/**
 * A sync an admin asked for in chat, kept until its result has been posted to that chat. Whichever
 * process finishes a token's sync writes the token's result here; the one that completes the request
 * posts it. So a restart, or another instance finishing the sync, does not lose the answer.
 */
export const syncRequestSchema = z.object({
  id: idSchema,
  tenantId: z.string().min(1).max(128),
  requestedBy: actorSchema.optional(),
  requestedDateTime: dateTimeSchema,
  /** Set once the chat was told the sync started: the result is posted after that reply, never before. */
  acknowledgedDateTime: dateTimeSchema.optional(),
  /** Where the result goes: the conversation that asked. */
  conversationId: z.string().min(1).max(1024),
  reference: conversationReferenceJsonSchema,
  tokens: z.array(z.object({ tokenId: idSchema, tokenName: z.string().max(LIMITS.displayName), result: syncResultSchema.optional() })).max(256),
  /** Ids of the tokens still without a result: what a finished sync looks for (ARRAY_CONTAINS). */
  waitingFor: z.array(idSchema).max(256),
  /** Syncs restarted for this request after the process running them died; bounded. */
  resumes: z.number().int().min(0),
  /** Seconds until Cosmos removes a request nobody could answer. */
  ttl: z.number().int().positive().optional(),
});
export type SyncRequest = z.infer<typeof syncRequestSchema>;
