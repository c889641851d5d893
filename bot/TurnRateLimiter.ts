import { ActivityTypes, type InvokeResponse, type TurnContext } from 'botbuilder';
import { FixedWindowLimiter, type Admission } from '../services/common/FixedWindowLimiter';
import type { Logger } from '../services/logging/logger';

export const RATE_LIMITED_TEXT = "You're sending messages faster than I can handle. Please wait a minute and try again.";

/** Per minute; 0 turns a limit off. */
export interface TurnRateLimits {
  userPerMinute: number;
  /** Counts only turns the sender's own limit let through, so senders over it use none of it. */
  conversationPerMinute: number;
  /**
   * Teams' automatic card refreshes per user, counted apart from the user's messages and clicks: opening a
   * channel refreshes every approval card in view at once. REFRESHES_PER_USER_LIMIT times the user limit
   * by default (off when that is).
   */
  refreshPerMinute?: number;
  /**
   * Typeahead searches per user (a search box asks once per pause in typing), counted apart from messages
   * and clicks so that typing a name does not use up the clicks that follow. SEARCHES_PER_USER_LIMIT times
   * the user limit by default (off when that is).
   */
  searchPerMinute?: number;
}

/** How many automatic refreshes a minute a user may cause for each message or click they may send. */
export const REFRESHES_PER_USER_LIMIT = 10;
/** How many typeahead searches a minute a user may send for each message or click they may send. */
export const SEARCHES_PER_USER_LIMIT = 4;

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
  const { type, name } = context.activity;
  const value: unknown = context.activity.value;
  return type === ActivityTypes.Invoke && name === 'adaptiveCard/action' && typeof value === 'object' && value !== null && (value as { trigger?: unknown }).trigger === 'automatic';
}

/** A typeahead box's query (`Input.ChoiceSet` with `Data.Query`), sent while someone types. */
function isTypeaheadSearch(context: TurnContext): boolean {
  return context.activity.type === ActivityTypes.Invoke && context.activity.name === 'application/search';
}

/** A refused search gets the error a search box shows in its dropdown, not a chat message. */
const REFUSED_SEARCH: InvokeResponse = {
  status: 429,
  body: { statusCode: 429, type: 'application/vnd.microsoft.error', value: { code: 'TooManyRequests', message: RATE_LIMITED_TEXT } },
};

/**
 * A refused refresh gets an error answer, which leaves the card as it is, rather than a text the person,
 * who did nothing, would see as a complaint about their messages.
 */
const REFUSED_REFRESH: InvokeResponse = {
  status: 200,
  body: { statusCode: 429, type: 'application/vnd.microsoft.error', value: { code: 'TooManyRequests', message: 'Too many card refreshes; this card is brought up to date when next shown.' } },
};

function userKey(context: TurnContext): string | undefined {
  const { from, conversation } = context.activity;
  const who = from?.aadObjectId ?? from?.id;
  return who ? `${conversation?.tenantId ?? ''}|${who}` : undefined;
}

/**
 * Caps how many messages and card clicks a user, and a conversation, may send per minute, before any
 * dialog, store read or audit write: a flood gets one polite answer and then silence until its minute
 * is over. A click over the limit still gets a valid invoke response (with the same text), since Teams
 * shows an error for an invoke left unanswered. Teams' automatic card refreshes have a limit of their own.
 */
export class TurnRateLimiter {
  private readonly perUser: FixedWindowLimiter | undefined;
  private readonly perConversation: FixedWindowLimiter | undefined;
  private readonly refreshesPerUser: FixedWindowLimiter | undefined;
  private readonly searchesPerUser: FixedWindowLimiter | undefined;

  constructor(
    limits: TurnRateLimits,
    private readonly options: TurnRateLimiterOptions = {},
  ) {
    const { now } = options;
    this.perUser = limits.userPerMinute > 0 ? new FixedWindowLimiter({ limit: limits.userPerMinute, windowMs: WINDOW_MS, now }) : undefined;
    this.perConversation = limits.conversationPerMinute > 0 ? new FixedWindowLimiter({ limit: limits.conversationPerMinute, windowMs: WINDOW_MS, now }) : undefined;
    const refreshes = limits.refreshPerMinute ?? limits.userPerMinute * REFRESHES_PER_USER_LIMIT;
    this.refreshesPerUser = refreshes > 0 ? new FixedWindowLimiter({ limit: refreshes, windowMs: WINDOW_MS, now }) : undefined;
    const searches = limits.searchPerMinute ?? limits.userPerMinute * SEARCHES_PER_USER_LIMIT;
    this.searchesPerUser = searches > 0 ? new FixedWindowLimiter({ limit: searches, windowMs: WINDOW_MS, now }) : undefined;
  }

  /** True: run the turn. False: it was over a limit and has been answered (or deliberately not) here. */
  async admit(context: TurnContext): Promise<boolean> {
    const type = context.activity.type;
    if (type !== ActivityTypes.Message && type !== ActivityTypes.Invoke) return true;
    const user = userKey(context);
    if (isAutomaticRefresh(context)) {
      // Nobody typed or clicked anything: opening a channel refreshes every approval card in view, for
      // everyone viewing it. So a refresh uses neither the user's message limit nor the conversation's,
      // only its own, far higher one.
      return this.admitInvoke(context, user, this.refreshesPerUser, 'card refresh limit reached; refusing refreshes for the rest of the minute', REFUSED_REFRESH);
    }
    if (isTypeaheadSearch(context)) {
      return this.admitInvoke(context, user, this.searchesPerUser, 'typeahead search limit reached; refusing searches for the rest of the minute', REFUSED_SEARCH);
    }
    const conversation = conversationKey(context);
    let admission: Admission = user && this.perUser ? this.perUser.hit(user) : 'allowed';
    // Only turns within their sender's limit count for the conversation: one or two scripted senders, over
    // their own limits, must not leave the rest of a channel silenced (and in a 1:1 chat the sender would
    // otherwise get a second notice when the conversation's limit is reached too).
    if (admission === 'allowed' && conversation && this.perConversation) admission = this.perConversation.hit(conversation);
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

  /**
   * An invoke with a limit of its own (card refreshes, typeahead searches): refused with its own invoke
   * response, and logged once, when the limit is first reached.
   */
  private async admitInvoke(context: TurnContext, user: string | undefined, limiter: FixedWindowLimiter | undefined, limitReached: string, refusal: InvokeResponse): Promise<boolean> {
    const admission: Admission = user && limiter ? limiter.hit(user) : 'allowed';
    if (admission === 'allowed') return true;
    if (admission === 'limited') this.options.logger?.warn({ user: context.activity.from?.aadObjectId ?? context.activity.from?.id }, limitReached);
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: refusal });
    return false;
  }
}
