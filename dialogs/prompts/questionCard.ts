import type { TurnContext } from 'botbuilder';
import type { PromptOptions } from 'botbuilder-dialogs';
import { z } from 'zod';

/** What a prompt keeps between turns (dialog state): the activity id of the question card it sent. */
const promptCardSchema = z.object({ cardId: z.string().min(1).max(1_000).optional() });

/**
 * Sends a prompt's question (or its retry). A typed answer carries no id of the card it answers, so a
 * question sent as a card keeps its activity id in the prompt's state, for replacing it once answered; a
 * retry that is text leaves the card's id as it was.
 */
export async function sendQuestion(context: TurnContext, state: object, options: PromptOptions, isRetry: boolean): Promise<void> {
  const message = isRetry && options.retryPrompt ? options.retryPrompt : options.prompt;
  if (!message) return;
  const sent = await context.sendActivity(message);
  if (sent?.id && typeof message === 'object' && (message.attachments?.length ?? 0) > 0) (state as { cardId?: string }).cardId = sent.id;
}

/** The question card's activity id that sendQuestion kept, if it sent a card. */
export function questionCardId(state: object): string | undefined {
  return promptCardSchema.safeParse(state).data?.cardId;
}
