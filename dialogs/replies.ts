import { CardFactory, MessageFactory, type Activity, type TurnContext } from 'botbuilder';
import type { AdaptiveCardJson } from '../cards/cardTemplates';

/** Wraps a rendered template into the message activity Teams expects for an Adaptive Card; `text` (Markdown) goes above it. */
export function cardMessage(card: AdaptiveCardJson, text?: string): Partial<Activity> {
  return MessageFactory.attachment(CardFactory.adaptiveCard(card), text);
}

export async function sendCard(context: TurnContext, card: AdaptiveCardJson): Promise<void> {
  await context.sendActivity(cardMessage(card));
}

/**
 * Channels whose connector replaces a message the bot sent (Bot Connector `PUT /v3/conversations/{id}/activities/{activityId}`):
 * Teams, and the Agents Playground, which plays Teams (`-c msteams`). `test` is botbuilder's TestAdapter.
 */
const UPDATING_CHANNELS = new Set(['msteams', 'emulator', 'webchat', 'directline', 'test']);

/**
 * The card a turn came from: Teams puts the card's activity id in `replyToId` of an Action.Submit. Undefined
 * for typed text (its replyToId, in a channel thread, is the thread's first message, no card of ours).
 */
export function clickedCardId(context: TurnContext): string | undefined {
  const { value, replyToId } = context.activity;
  return typeof value === 'object' && value !== null && replyToId ? replyToId : undefined;
}

/**
 * Replaces the message `activityId` with `card`, where the channel can. False when it cannot or the
 * connector refused (a message too old, a client that cannot edit): the old message then stays as it was.
 */
export async function replaceCard(context: TurnContext, activityId: string | undefined, card: AdaptiveCardJson, text?: string): Promise<boolean> {
  if (!activityId || !UPDATING_CHANNELS.has(context.activity.channelId)) return false;
  try {
    await context.updateActivity({ ...cardMessage(card, text), id: activityId });
    return true;
  } catch {
    return false;
  }
}

/**
 * Shows `card` in place of the card whose button started this turn (a page, a search), or as a new message
 * when the turn was typed, the channel cannot update, or the update failed: either way the admin sees it.
 */
export async function replaceOrSendCard(context: TurnContext, card: AdaptiveCardJson): Promise<'replaced' | 'sent'> {
  if (await replaceCard(context, clickedCardId(context), card)) return 'replaced';
  await sendCard(context, card);
  return 'sent';
}
