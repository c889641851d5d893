import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { bookStatusCard } from '../../cards/bookStatusCards';
import { choiceQuestionCard } from '../../cards/tokenCards';
import type { BookStatusService } from '../../services/assignments/BookStatusService';
import type { BookMonitor } from '../../services/backend/ports';
import { bookChoice, bookChoiceSchema } from '../../services/assignments/bookSearch';
import { echoArgument } from '../../services/common/chatText';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { normaliseText } from '../parseCommand';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage, sendCard } from '../replies';

const PICK = 'bookStatus.pick';
/** The books the search found, while it asks which one. */
const statusState = flowState('status', z.object({ candidates: z.array(bookChoiceSchema).max(10) }));

/**
 * "status <book>": per group, users assigned, pending invitation and failed with reasons, and the intent;
 * in Intune mode also the book's assignments and install state in Intune.
 */
export class BookStatusDialog extends ComponentDialog {
  static readonly id = 'bookStatus';

  constructor(
    /** Finds the book asked about (and, in Apple mode, is the monitor too). */
    private readonly status: BookStatusService,
    /** Whose status the card shows: the store's (Apple mode) or the store's and Intune's (IntuneBookMonitor). */
    private readonly monitor: BookMonitor = status,
  ) {
    super(BookStatusDialog.id);
    this.addDialog(new CardChoicePrompt(PICK));
    this.addDialog(new WaterfallDialog('bookStatus.steps', [(s) => this.find(s), (s) => this.show(s)]));
    this.initialDialogId = 'bookStatus.steps';
  }

  private tenantId(step: WaterfallStepContext): string {
    return flowActor(step.options, 'status').tenantId;
  }

  private async find(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const text = normaliseText(statusState.options(step).argument);
    const matches = await this.status.find(this.tenantId(step), text);
    if (matches.length === 0) {
      await step.context.sendActivity(`No book matches ${echoArgument(text)}. Type **books** to browse them.`);
      return step.endDialog();
    }
    const candidates = matches.map((m) => bookChoice(m));
    statusState.write(step, { candidates });
    if (candidates.length === 1) return step.next('b0');
    const ref = randomUUID();
    const question = 'The status of which book?';
    const choices = candidates.map((c, i) => ({ title: c.title.slice(0, 80), value: `b${i}` }));
    // With the question the answered card is replaced in place by the question and the book chosen.
    const validations: CardChoiceValidations = { ref, question, choices: candidates.map((c, i) => ({ value: `b${i}`, synonyms: [c.title.toLowerCase()], title: choices[i]?.title })) };
    const card = choiceQuestionCard({ ref, question, choices });
    return step.prompt(PICK, { prompt: cardMessage(card), retryPrompt: 'Pick a book with the buttons above, or type **cancel**.', validations });
  }

  private async show(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { candidates } = statusState.read(step, 'candidates');
    const chosen = candidates[Number(String(step.result).slice(1))];
    const match = chosen && (await this.status.find(this.tenantId(step), chosen.title)).find((m) => m.token.id === chosen.tokenId && m.book.id === chosen.bookId);
    if (!match) {
      await step.context.sendActivity('That book is no longer there. Type **books** to browse them.');
      return step.endDialog();
    }
    await sendCard(step.context, bookStatusCard(await this.monitor.status(match.token, match.book)));
    return step.endDialog();
  }
}
