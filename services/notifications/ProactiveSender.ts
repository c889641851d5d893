import type { ConversationReferenceJson } from '../store/entities/conversation';

/** What a proactive message carries: plain text, and optionally an Adaptive Card (text is then its summary). */
export interface NotificationMessage {
  text: string;
  card?: Record<string, unknown> | undefined;
}

/**
 * Posts into a conversation the bot was installed in. Implemented in bot/ with the Bot Framework, so
 * services never import botbuilder. Failures throw ProactiveSendError with the HTTP status Teams gave.
 */
export interface ProactiveSender {
  send(reference: ConversationReferenceJson, message: NotificationMessage): Promise<void>;
}

export class ProactiveSendError extends Error {
  override readonly name = 'ProactiveSendError';

  constructor(
    message: string,
    /** Teams' HTTP status; undefined when the request never got an answer. */
    readonly statusCode: number | undefined,
    /** From Retry-After, when Teams sent one. */
    readonly retryAfterMs?: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Throttled or a transient gateway/concurrency failure: the same message may be sent again later. */
  get retryable(): boolean {
    return this.statusCode === undefined || [412, 429, 500, 502, 503, 504].includes(this.statusCode);
  }

  /** The bot was removed from the conversation, or it no longer exists: forget the reference. */
  get conversationGone(): boolean {
    return this.statusCode === 403 || this.statusCode === 404;
  }
}
