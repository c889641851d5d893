import { ActivityTypes, type InvokeResponse, type TurnContext } from 'botbuilder';
import { FixedWindowLimiter, type Admission } from '../services/common/FixedWindowLimiter';
import type { Logger } from '../services/logging/logger';

export const RATE_LIMITED_TEXT = "You're sending messages faster than I can handle. Please wait a minute and try again.";

/** Per minute; 0 turns a limit off. */
export interface TurnRateLimits {
  userPerMinute: number;
  conversationPerMinute: number;
}

export interface TurnRateLimiterOptions {
  now?: () => number;
  logger?: Logger;
}

const WINDOW_MS = 60_000;
/** Universal Actions' "show this text" answer: what Teams shows the person who clicked. */
const INVOKE_MESSAGE = 'application/vnd.microsoft.activity.message';

/** A channel's threads are one conversation here: Teams adds `;messageid=…` per thread. */
function conversationKey(context: TurnContext): string | undefined {
  const id = context.activity.conversation?.id;
  return id ? id.split(';messageid=')[0] : undefined;
}

/** An Action.Execute Teams sent by itself (`refresh`), not a click. */
function isAutomaticRefresh(context: TurnContext): boolean {
  const value: unknown = context.activity.value;
  return context.activity.type === ActivityTypes.Invoke && typeof value === 'object' && value !== null && (value as { trigger?: unknown }).trigger === 'automatic';
}

function userKey(context: TurnContext): string | undefined {
  const { from, conversation } = context.activity;
  const who = from?.aadObjectId ?? from?.id;
  return who ? `${conversation?.tenantId ?? ''}|${who}` : undefined;
}

/**
 * Caps how many messages and card clicks a user, and a conversation, may send per minute, before any
 * dialog, store read or audit write: a flood gets one polite answer and then silence until its minute
 * is over. A click over the limit still gets a valid invoke response (with the same text), since Teams
 * shows an error for an invoke left unanswered.
 */
export class TurnRateLimiter {
  private readonly perUser: FixedWindowLimiter | undefined;
  private readonly perConversation: FixedWindowLimiter | undefined;

  constructor(
    limits: TurnRateLimits,
    private readonly options: TurnRateLimiterOptions = {},
  ) {
    const { now } = options;
    this.perUser = limits.userPerMinute > 0 ? new FixedWindowLimiter({ limit: limits.userPerMinute, windowMs: WINDOW_MS, now }) : undefined;
    this.perConversation = limits.conversationPerMinute > 0 ? new FixedWindowLimiter({ limit: limits.conversationPerMinute, windowMs: WINDOW_MS, now }) : undefined;
  }

  /** True: run the turn. False: it was over a limit and has been answered (or deliberately not) here. */
  async admit(context: TurnContext): Promise<boolean> {
    const type = context.activity.type;
    if (type !== ActivityTypes.Message && type !== ActivityTypes.Invoke) return true;
    const user = userKey(context);
    const conversation = conversationKey(context);
    let admission: Admission = user && this.perUser ? this.perUser.hit(user) : 'allowed';
    // A user already over their limit does not use up the conversation's: in a 1:1 chat they would
    // otherwise get a second notice when the conversation's limit is reached too. Teams' automatic card
    // refreshes come from everyone viewing a channel's approval card at once (up to 60): the user's own
    // limit is enough for those.
    if (admission === 'allowed' && conversation && this.perConversation && !isAutomaticRefresh(context)) admission = this.perConversation.hit(conversation);
    if (admission === 'allowed') return true;

    if (admission === 'limited') {
      this.options.logger?.warn({ user: context.activity.from?.aadObjectId ?? context.activity.from?.id, conversation, activityType: type }, 'rate limit reached; ignoring this sender for the rest of the minute');
    }
    if (type === ActivityTypes.Invoke) {
      const response: InvokeResponse = { status: 200, body: { statusCode: 200, type: INVOKE_MESSAGE, value: RATE_LIMITED_TEXT } };
      await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: response });
    } else if (admission === 'limited') {
      await context.sendActivity(RATE_LIMITED_TEXT);
    }
    return false;
  }
}
