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
import { helpCard, type AdaptiveCardJson } from '../cards/cardTemplates';
import { BUILT_IN_COMMANDS, COMMANDS } from './commandCatalog';
import { normaliseText, parseCommand } from './parseCommand';
import { sendCard } from './replies';
import { commandInput } from './cardSubmissions';
import { choiceSubmissionSchema } from './prompts/CardChoicePrompt';
import type { AccessGuard } from './AccessGuard';
import type { FlowOptions, FlowRegistration } from './flows';

const ROUTE = 'route';

export const IRREVOCABLE_MESSAGE =
  'Book licenses cannot be reclaimed: once Apple assigns a book to a user, the license belongs to that user for good ' +
  '(Apple error 9706, books are not revocable). Nothing was changed.';

export const PERSONAL_CHAT_ONLY_MESSAGE =
  'I do that only in a personal chat, so token files never land in a shared conversation. Open a 1:1 chat with me and type the command there.';

export const GROUP_CHAT_READ_ONLY_MESSAGE =
  'In a group chat I only answer read-only commands (help, tokens, books, status, approvals). Use a 1:1 chat with me or your IT team channel for that.';

export const STALE_CARD_MESSAGE = 'That card is no longer active, so nothing was changed. Type **help** to start again.';

/**
 * Root of every conversation: reads a command and starts the matching flow. `cancel` and `help` are
 * handled here before any child dialog sees the turn, so they interrupt every flow the same way.
 */
export class MainDialog extends ComponentDialog {
  static readonly id = 'main';

  private readonly flows: ReadonlyMap<string, FlowRegistration>;

  constructor(
    flows: readonly FlowRegistration[] = [],
    private readonly guard?: AccessGuard,
  ) {
    super(MainDialog.id);
    this.flows = new Map(flows.map((f) => [f.command, f]));
    for (const flow of flows) this.addDialog(flow.dialog);
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

  /** Every command, marked available when something runs it. */
  private helpCard(): AdaptiveCardJson {
    return helpCard({
      commands: COMMANDS.map((c) => ({ ...c, available: BUILT_IN_COMMANDS.has(c.command) || this.flows.has(c.command) })),
    });
  }

  protected override async onContinueDialog(innerDc: DialogContext): Promise<DialogTurnResult> {
    const interrupted = await this.interrupt(innerDc);
    return interrupted ?? super.onContinueDialog(innerDc);
  }

  private async interrupt(innerDc: DialogContext): Promise<DialogTurnResult | undefined> {
    const text = normaliseText(commandInput(innerDc.context.activity).text).toLowerCase();
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
    const input = commandInput(context.activity);
    const parsed = parseCommand(input.text);
    switch (parsed.kind) {
      case 'empty':
        // A click on a card whose question was already answered, cancelled or never asked.
        if (choiceSubmissionSchema.safeParse(context.activity.value).success) await context.sendActivity(STALE_CARD_MESSAGE);
        else await context.sendActivity('Type **help** to see the commands I understand.');
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
        if (flow) return this.startFlow(step, flow, { argument: parsed.argument, tokenId: input.tokenId, args: input.args });
        await this.runBuiltIn(step, parsed.command);
        break;
      }
    }
    return step.endDialog();
  }

  private async startFlow(step: WaterfallStepContext, flow: FlowRegistration, options: FlowOptions): Promise<DialogTurnResult> {
    const context = step.context;
    if (flow.personalChatOnly && context.activity.conversation?.conversationType && context.activity.conversation.conversationType !== 'personal') {
      await context.sendActivity(PERSONAL_CHAT_ONLY_MESSAGE);
      return step.endDialog();
    }
    if (flow.changesState && context.activity.conversation?.conversationType === 'groupChat') {
      await context.sendActivity(GROUP_CHAT_READ_ONLY_MESSAGE);
      return step.endDialog();
    }
    if (flow.adminOnly) {
      if (!this.guard) throw new Error(`flow "${flow.command}" needs an access guard`);
      const access = await this.guard.check(context, flow.command);
      if (!access.allowed) {
        await context.sendActivity(access.message);
        return step.endDialog();
      }
      options.actor = access.actor;
    }
    return step.beginDialog(flow.dialog.id, options);
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
