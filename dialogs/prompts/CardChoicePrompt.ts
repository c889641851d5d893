import { Prompt, type PromptOptions, type PromptRecognizerResult } from 'botbuilder-dialogs';
import type { TurnContext } from 'botbuilder';
import { z } from 'zod';
import { normaliseText } from '../parseCommand';

/** What a choice button on one of our cards submits. `ref` ties the click to the question asked. */
export const choiceSubmissionSchema = z.object({ choice: z.string().min(1).max(100), ref: z.string().max(100).optional() });

interface ChoiceOption {
  value: string;
  /** Words an admin may type instead of clicking (lower case). */
  synonyms: readonly string[];
}

/** Carried in PromptOptions.validations: what counts as an answer to this question. */
export interface CardChoiceValidations {
  choices: readonly ChoiceOption[];
  /** Clicks on cards from another question (an older card, a forged payload) must not count. */
  ref?: string;
}

const validationsSchema = z.object({
  choices: z.array(z.object({ value: z.string(), synonyms: z.array(z.string()) })),
  ref: z.string().optional(),
});

/**
 * Asks a question answered by a card button or by typing. Card data is user-controlled input: it is
 * validated, and a click only counts when it answers this very question.
 */
export class CardChoicePrompt extends Prompt<string> {
  constructor(dialogId: string) {
    super(dialogId);
  }

  protected async onPrompt(context: TurnContext, _state: object, options: PromptOptions, isRetry: boolean): Promise<void> {
    const message = isRetry && options.retryPrompt ? options.retryPrompt : options.prompt;
    if (message) await context.sendActivity(message);
  }

  protected async onRecognize(context: TurnContext, _state: object, options: PromptOptions): Promise<PromptRecognizerResult<string>> {
    const validations = validationsSchema.parse(options.validations);
    const activity = context.activity;
    const submission = choiceSubmissionSchema.safeParse(activity.value);
    if (submission.success) {
      const { choice, ref } = submission.data;
      const known = validations.choices.some((c) => c.value === choice);
      const sameQuestion = validations.ref === undefined || validations.ref === ref;
      return known && sameQuestion ? { succeeded: true, value: choice } : { succeeded: false };
    }
    const typed = normaliseText(activity.text).toLowerCase();
    if (!typed) return { succeeded: false };
    const match = validations.choices.find((c) => c.value.toLowerCase() === typed || c.synonyms.includes(typed));
    return match ? { succeeded: true, value: match.value } : { succeeded: false };
  }
}
