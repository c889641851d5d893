import { Prompt, type PromptOptions, type PromptRecognizerResult } from 'botbuilder-dialogs';
import type { TurnContext } from 'botbuilder';
import { z } from 'zod';
import { answeredQuestionCard } from '../../cards/assignCards';
import { escapeMarkdown } from '../../services/common/chatText';
import { normaliseText } from '../parseCommand';
import { nameQuery } from '../../services/common/nameMatch';
import { clickedCardId, replaceCard } from '../replies';
import { questionCardId, sendQuestion } from './questionCard';

/**
 * What a choice button on one of our cards submits. `ref` ties the click to the question asked. A
 * typeahead box submits its pick the same way (a book's value names its token and its id, hence the length).
 */
export const choiceSubmissionSchema = z.object({ choice: z.string().min(1).max(600), ref: z.string().max(100).optional() });

interface ChoiceOption {
  value: string;
  /** Words an admin may type instead of clicking (lower case). */
  synonyms: readonly string[];
  /** The button's title (plain text): what the answered card says was chosen. */
  title?: string;
}

/** Carried in PromptOptions.validations: what counts as an answer to this question. */
export interface CardChoiceValidations {
  choices: readonly ChoiceOption[];
  /** Clicks on cards from another question (an older card, a forged payload) must not count. */
  ref?: string;
  /**
   * The question (chat Markdown). With it, the question card is replaced once answered, by click or by
   * typing, with the question and the answer and no buttons, so an old copy cannot be answered again.
   */
  question?: string;
}

const validationsSchema = z.object({
  choices: z.array(z.object({ value: z.string(), synonyms: z.array(z.string()), title: z.string().optional() })),
  ref: z.string().optional(),
  question: z.string().optional(),
});

/**
 * The cards already replaced this turn: botbuilder's Prompt recognizes an answer twice in one turn (once in
 * onPreBubbleEvent, once to continue), and one answer is one update.
 */
const REPLACED_THIS_TURN = Symbol('cardsReplacedThisTurn');


/**
 * Asks a question answered by a card button or by typing. Card data is user-controlled input: it is
 * validated, and a click only counts when it answers this very question.
 */
export class CardChoicePrompt extends Prompt<string> {
  constructor(dialogId: string) {
    super(dialogId);
  }

  protected onPrompt(context: TurnContext, state: object, options: PromptOptions, isRetry: boolean): Promise<void> {
    return sendQuestion(context, state, options, isRetry);
  }

  protected async onRecognize(context: TurnContext, state: object, options: PromptOptions): Promise<PromptRecognizerResult<string>> {
    const validations = validationsSchema.parse(options.validations);
    const result = this.recognize(context, validations);
    if (result.succeeded && validations.question !== undefined) {
      const chosen = validations.choices.find((c) => c.value === result.value);
      const cardId = clickedCardId(context) ?? questionCardId(state);
      const replaced: Set<string> = context.turnState.get(REPLACED_THIS_TURN) ?? new Set<string>();
      context.turnState.set(REPLACED_THIS_TURN, replaced);
      if (cardId && !replaced.has(cardId)) {
        replaced.add(cardId);
        const card = answeredQuestionCard({ question: validations.question, answer: escapeMarkdown(chosen?.title ?? result.value ?? '') });
        await replaceCard(context, cardId, card);
      }
    }
    return result;
  }

  private recognize(context: TurnContext, validations: z.infer<typeof validationsSchema>): PromptRecognizerResult<string> {
    const activity = context.activity;
    const submission = choiceSubmissionSchema.safeParse(activity.value);
    if (submission.success) {
      const { choice, ref } = submission.data;
      const known = validations.choices.some((c) => c.value === choice);
      const sameQuestion = validations.ref === undefined || validations.ref === ref;
      return known && sameQuestion ? { succeeded: true, value: choice } : { succeeded: false };
    }
    // Compared as names are: a typed hyphen answers a choice Apple spelt with an en dash.
    const typed = nameQuery(normaliseText(activity.text));
    if (!typed.normalised) return { succeeded: false };
    const match = validations.choices.find((c) => typed.equals(c.value, ...c.synonyms));
    return match ? { succeeded: true, value: match.value } : { succeeded: false };
  }
}
