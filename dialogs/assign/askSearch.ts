import { randomUUID } from 'node:crypto';
import type { DialogTurnResult, WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { typeaheadQuestionCard } from '../../cards/assignCards';
import { replaceCard } from '../replies';
import type { SearchChoiceValidations } from '../search/SearchChoicePrompt';
import { searchQuestion, type SearchBox } from '../search/searchQuestion';

/** An answer refused: what was wrong with it, and the card it answered (to ask again in its place). */
export const refusalSchema = z.object({ message: z.string().max(4_000), cardId: z.string().max(1_000).optional() });
type Refusal = z.infer<typeof refusalSchema>;

const refusalOptionsSchema = z.object({ refusal: refusalSchema.optional() }).loose();

/** The refusal a flow restarted itself with, if any (dialog options come back from storage: checked). */
export function refusalOf(options: unknown): Refusal | undefined {
  return refusalOptionsSchema.safeParse(options).data?.refusal;
}

interface SearchAsk {
  /** The question (chat Markdown), which says how to answer by typing. */
  question: string;
  box: SearchBox;
  retryPrompt: string;
  refusal: Refusal | undefined;
  /** Told the card's id when the question went onto the refused card: a typed answer will not name it. */
  onCardReused: (cardId: string) => void;
}

/**
 * Asks a search question. After a refusal the refused card itself becomes the question again, the refusal
 * above it, so a chat does not stack one card per try and never shows a refused answer as taken; where
 * the card cannot be replaced, the refusal and a new card.
 */
export async function askSearch(step: WaterfallStepContext, promptId: string, ask: SearchAsk): Promise<DialogTurnResult> {
  const ref = randomUUID();
  const validations: SearchChoiceValidations = { ref };
  const { refusal } = ask;
  if (refusal?.cardId && (await replaceCard(step.context, refusal.cardId, typeaheadQuestionCard({ ref, ...ask.box }), `${refusal.message}\n\n${ask.question}`))) {
    ask.onCardReused(refusal.cardId);
    return step.prompt(promptId, { retryPrompt: ask.retryPrompt, validations });
  }
  if (refusal) await step.context.sendActivity(refusal.message);
  return step.prompt(promptId, { prompt: searchQuestion(ask.question, ask.box, ref), retryPrompt: ask.retryPrompt, validations });
}
