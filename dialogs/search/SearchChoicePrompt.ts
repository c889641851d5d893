import { Prompt, type PromptOptions, type PromptRecognizerResult } from 'botbuilder-dialogs';
import type { TurnContext } from 'botbuilder';
import { z } from 'zod';
import { normaliseText } from '../parseCommand';
import { choiceSubmissionSchema } from '../prompts/CardChoicePrompt';
import { clickedCardId } from '../replies';
import { questionCardId, sendQuestion } from '../prompts/questionCard';

/**
 * How a search question was answered: a value picked in the card's typeahead box, or text typed in the chat
 * (clients without typeahead, or an admin who would rather type). `cardId` is the question card's activity
 * id, for replacing it with its answered form.
 */
export const searchAnswerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('picked'), value: choiceSubmissionSchema.shape.choice, cardId: z.string().optional() }),
  z.object({ kind: z.literal('typed'), text: z.string(), cardId: z.string().optional() }),
]);
export type SearchAnswer = z.infer<typeof searchAnswerSchema>;

/** Carried in PromptOptions.validations: the question's ref, which the card's submit button sends back. */
export interface SearchChoiceValidations {
  ref: string;
}

/** Optional: a question asked as plain text before the search box came (a flow under way across an upgrade) has none. */
const validationsSchema = z.object({ ref: z.string().optional() }).catch({});

/**
 * Asks a question answered by picking in a typeahead box or by typing. A pick counts only from this very
 * question's card (its ref) and is only a value: the dialog looks it up within the admin's own data, as it
 * would anything typed.
 */
export class SearchChoicePrompt extends Prompt<SearchAnswer> {
  constructor(dialogId: string) {
    super(dialogId);
  }

  protected onPrompt(context: TurnContext, state: object, options: PromptOptions, isRetry: boolean): Promise<void> {
    return sendQuestion(context, state, options, isRetry);
  }

  protected async onRecognize(context: TurnContext, state: object, options: PromptOptions): Promise<PromptRecognizerResult<SearchAnswer>> {
    const { ref } = validationsSchema.parse(options.validations);
    const stored = questionCardId(state);
    const { value, text } = context.activity;
    if (value !== undefined && value !== null) {
      // A button with nothing picked (a client without typeahead that let it through) answers nothing.
      const submission = choiceSubmissionSchema.safeParse(value);
      if (!submission.success || ref === undefined || submission.data.ref !== ref) return { succeeded: false };
      return { succeeded: true, value: { kind: 'picked', value: submission.data.choice, cardId: clickedCardId(context) ?? stored } };
    }
    const typed = normaliseText(text);
    return typed ? { succeeded: true, value: { kind: 'typed', text: typed, cardId: stored } } : { succeeded: false };
  }
}
