import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { bookStatusCard } from '../../cards/bookStatusCards';
import { choiceQuestionCard } from '../../cards/tokenCards';
import type { BookStatusService } from '../../services/assignments/BookStatusService';
import { echoArgument } from '../../services/common/chatText';
import type { FlowOptions, FlowRegistration } from '../flows';
import { normaliseText } from '../parseCommand';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage, sendCard } from '../replies';

const PICK = 'bookStatus.pick';
const candidatesSchema = z.array(z.object({ tokenId: z.string(), bookId: z.string(), title: z.string() })).max(10);

/** "status <book>": per group, users assigned, pending invitation and failed with reasons, and the intent. */
export class BookStatusDialog extends ComponentDialog {
  static readonly id = 'bookStatus';

  constructor(private readonly status: BookStatusService) {
    super(BookStatusDialog.id);
    this.addDialog(new CardChoicePrompt(PICK));
    this.addDialog(new WaterfallDialog('bookStatus.steps', [(s) => this.find(s), (s) => this.show(s)]));
    this.initialDialogId = 'bookStatus.steps';
  }

  private tenantId(step: WaterfallStepContext): string {
    const actor = (step.options as FlowOptions).actor;
    if (!actor) throw new Error('status runs only for an authorised admin');
    return actor.tenantId;
  }

  private async find(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const text = normaliseText((step.options as FlowOptions).argument).slice(0, 100);
    const matches = await this.status.find(this.tenantId(step), text);
    if (matches.length === 0) {
      await step.context.sendActivity(`No book matches ${echoArgument(text)}. Type **books** to browse them.`);
      return step.endDialog();
    }
    const candidates = matches.map((m) => ({ tokenId: m.token.id, bookId: m.book.id, title: m.book.title }));
    (step.values as Record<string, unknown>).candidates = candidates;
    if (candidates.length === 1) return step.next('b0');
    const ref = randomUUID();
    const validations: CardChoiceValidations = { ref, choices: candidates.map((c, i) => ({ value: `b${i}`, synonyms: [c.title.toLowerCase()] })) };
    const card = choiceQuestionCard({ ref, question: 'The status of which book?', choices: candidates.map((c, i) => ({ title: c.title.slice(0, 80), value: `b${i}` })) });
    return step.prompt(PICK, { prompt: cardMessage(card), retryPrompt: 'Pick a book with the buttons above, or type **cancel**.', validations });
  }

  private async show(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const candidates = candidatesSchema.parse((step.values as Record<string, unknown>).candidates);
    const chosen = candidates[Number(String(step.result).slice(1))];
    const match = chosen && (await this.status.find(this.tenantId(step), chosen.title)).find((m) => m.token.id === chosen.tokenId && m.book.id === chosen.bookId);
    if (!match) {
      await step.context.sendActivity('That book is no longer there. Type **books** to browse them.');
      return step.endDialog();
    }
    await sendCard(step.context, bookStatusCard(await this.status.status(match.token, match.book)));
    return step.endDialog();
  }
}

/** For the lead's router: `status <book title>` (plain `status` stays the token health board). */
export function bookStatusFlow(status: BookStatusService): FlowRegistration {
  return { command: 'status', dialog: new BookStatusDialog(status), adminOnly: true, personalChatOnly: false };
}
