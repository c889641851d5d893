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
  /** Resolves with the posted activity's id when Teams gives one (a card can then be updated in place). */
  send(reference: ConversationReferenceJson, message: NotificationMessage): Promise<string | void>;
}

/**
 * 403 codes that mean the bot can no longer reach this conversation until someone installs or unblocks it
 * again, which Teams then tells the bot with a fresh activity (and the recorder saves a new reference).
 * Teams documents them under "Status code responses" in
 * https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/conversations/conversation-messages#status-code-responses:
 * - BotNotInConversationRoster, "The bot is not part of the conversation roster.": uninstalled / removed;
 * - ConversationBlockedByUser, "User blocked the conversation with the bot.": blocked in 1:1 chat or a channel.
 * BotDisabledByAdmin ("The tenant admin disabled this bot.") is deliberately not here: it is a tenant-wide
 * switch, and when the admin turns the bot back on no activity arrives, so forgetting every reference would
 * silence the bot for good. Every other 403 (MessageWritesBlocked, a thread that is read-only, missing
 * permissions…) keeps the reference and counts as a failed delivery.
 */
const BOT_GONE_CODES = new Set(['BotNotInConversationRoster', 'ConversationBlockedByUser']);
const BOT_GONE_MESSAGE = /not part of the conversation roster|blocked the conversation with the bot/i;

export class ProactiveSendError extends Error {
  override readonly name = 'ProactiveSendError';
  /** Teams' error code from the Bot Framework error body (`{ "error": { "code", "message" } }`). */
  readonly code: string | undefined;
  /** Teams' error message from that body. */
  readonly teamsMessage: string | undefined;

  constructor(
    message: string,
    /** Teams' HTTP status; undefined when the request never got an answer. */
    readonly statusCode: number | undefined,
    /** From Retry-After, when Teams sent one. */
    readonly retryAfterMs?: number | undefined,
    options?: { cause?: unknown; code?: string | undefined; teamsMessage?: string | undefined },
  ) {
    super(message, options);
    this.code = options?.code;
    this.teamsMessage = options?.teamsMessage;
  }

  /** Throttled or a transient gateway/concurrency failure: the same message may be sent again later. */
  get retryable(): boolean {
    return this.statusCode === undefined || [412, 429, 500, 502, 503, 504].includes(this.statusCode);
  }

  /**
   * Teams says the bot is gone from the conversation: forget the reference. 404 is "conversation not found";
   * a 403 only with the codes above (see BOT_GONE_CODES for why).
   */
  get conversationGone(): boolean {
    if (this.statusCode === 404) return true;
    if (this.statusCode !== 403) return false;
    return (this.code !== undefined && BOT_GONE_CODES.has(this.code)) || BOT_GONE_MESSAGE.test(this.teamsMessage ?? '');
  }
}
