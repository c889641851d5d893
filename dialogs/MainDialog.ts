import {
  ComponentDialog,
  DialogSet,
  DialogTurnStatus,
  WaterfallDialog,
  type DialogContext,
  type DialogTurnResult,
  type WaterfallStepContext,
} from 'botbuilder-dialogs';
import type { StatePropertyAccessor, TurnContext } from 'botbuilder';
import { helpCard } from '../cards/cardTemplates';
import { COMMANDS } from './commandCatalog';
import { normaliseText, parseCommand } from './parseCommand';
import { sendCard } from './replies';

const ROUTE = 'route';

export const IRREVOCABLE_MESSAGE =
  'Book licenses cannot be reclaimed: once Apple assigns a book to a user, the license belongs to that user for good ' +
  '(Apple error 9706, books are not revocable). Nothing was changed.';

/**
 * Root of every conversation: reads a command and starts the matching flow. `cancel` and `help` are
 * handled here before any child dialog sees the turn, so they interrupt every flow the same way.
 */
export class MainDialog extends ComponentDialog {
  static readonly id = 'main';

  constructor() {
    super(MainDialog.id);
    this.addDialog(new WaterfallDialog(ROUTE, [(step) => this.route(step)]));
    this.initialDialogId = ROUTE;
  }

  /** Runs one turn: continues the active flow or routes a new command. */
  async run(context: TurnContext, accessor: StatePropertyAccessor): Promise<void> {
    const dialogSet = new DialogSet(accessor);
    dialogSet.add(this);
    const dc = await dialogSet.createContext(context);
    const result = await dc.continueDialog();
    if (result.status === DialogTurnStatus.empty) await dc.beginDialog(this.id);
  }

  protected override async onContinueDialog(innerDc: DialogContext): Promise<DialogTurnResult> {
    const interrupted = await this.interrupt(innerDc);
    return interrupted ?? super.onContinueDialog(innerDc);
  }

  private async interrupt(innerDc: DialogContext): Promise<DialogTurnResult | undefined> {
    const text = normaliseText(innerDc.context.activity.text).toLowerCase();
    if (text === 'cancel' || text === 'stop') {
      await innerDc.context.sendActivity('Cancelled. Nothing more will happen for that step. Type **help** to see what I can do.');
      return innerDc.cancelAllDialogs();
    }
    if (text === 'help' || text === '?') {
      await sendCard(innerDc.context, helpCard({ commands: COMMANDS }));
      // Waiting keeps the interrupted flow where it was; the admin answers its last question next.
      return { status: DialogTurnStatus.waiting };
    }
    return undefined;
  }

  private async route(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const context = step.context;
    const parsed = parseCommand(context.activity.text);
    switch (parsed.kind) {
      case 'empty':
        // Card clicks without text (Action.Submit data) reach here when no flow is waiting for them.
        await context.sendActivity('Type **help** to see the commands I understand.');
        break;
      case 'irrevocable':
        await context.sendActivity(IRREVOCABLE_MESSAGE);
        break;
      case 'unknown':
        // Never echo the text back: an admin may have pasted a token in the wrong place.
        await context.sendActivity("I don't know that command. Type **help** to see the commands I understand.");
        break;
      case 'command':
        await this.runCommand(step, parsed.command);
        break;
    }
    return step.endDialog();
  }

  private async runCommand(step: WaterfallStepContext, command: string): Promise<void> {
    const context = step.context;
    if (command === 'help') {
      await sendCard(context, helpCard({ commands: COMMANDS }));
      return;
    }
    if (command === 'cancel') {
      await context.sendActivity('There is nothing to cancel.');
      return;
    }
    const info = COMMANDS.find((c) => c.command === command);
    await context.sendActivity(`**${command}** (${info?.title ?? command}) is not available in this version yet. Type **help** for the commands.`);
  }
}
