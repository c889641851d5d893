import {
  ComponentDialog,
  type Dialog,
  DialogSet,
  DialogTurnStatus,
  WaterfallDialog,
  type DialogContext,
  type DialogTurnResult,
  type WaterfallStepContext,
} from 'botbuilder-dialogs';
import type { StatePropertyAccessor, TurnContext } from 'botbuilder';
import { helpCard } from '../cards/cardTemplates';
import { BUILT_IN_COMMANDS, COMMANDS } from './commandCatalog';
import { normaliseText, parseCommand } from './parseCommand';
import { sendCard } from './replies';
import { commandInput } from './cardSubmissions';

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

  private readonly flows: ReadonlyMap<string, Dialog>;

  /** `flows` maps a command ("tokens", "upload token") to the dialog that runs it. */
  constructor(flows: ReadonlyMap<string, Dialog> = new Map()) {
    super(MainDialog.id);
    this.flows = flows;
    for (const flow of flows.values()) this.addDialog(flow);
    this.addDialog(new WaterfallDialog(ROUTE, [(step) => this.route(step)]));
    this.initialDialogId = ROUTE;
  }

  /** The help card's data: every command, marked available when something runs it. */
  private helpCard() {
    return helpCard({
      commands: COMMANDS.map((c) => ({ ...c, available: BUILT_IN_COMMANDS.has(c.command) || this.flows.has(c.command) })),
    });
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
    const text = normaliseText(commandInput(innerDc.context.activity)).toLowerCase();
    if (text === 'cancel' || text === 'stop') {
      await innerDc.context.sendActivity('Cancelled. Nothing more will happen for that step. Type **help** to see what I can do.');
      return innerDc.cancelAllDialogs();
    }
    if (text === 'help' || text === '?') {
      await sendCard(innerDc.context, this.helpCard());
      // Waiting keeps the interrupted flow where it was; the admin answers its last question next.
      return { status: DialogTurnStatus.waiting };
    }
    return undefined;
  }

  private async route(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const context = step.context;
    const parsed = parseCommand(commandInput(context.activity));
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
      case 'command': {
        const flow = this.flows.get(parsed.command);
        if (flow) return step.beginDialog(flow.id, { argument: parsed.argument });
        await this.runBuiltIn(step, parsed.command);
        break;
      }
    }
    return step.endDialog();
  }

  private async runBuiltIn(step: WaterfallStepContext, command: string): Promise<void> {
    const context = step.context;
    if (command === 'help') {
      await sendCard(context, this.helpCard());
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
