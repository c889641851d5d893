import {
  ComponentDialog,
  DialogSet,
  DialogTurnStatus,
  WaterfallDialog,
  type DialogContext,
  type DialogState,
  type DialogStateManagerConfiguration,
  type DialogTurnResult,
  type WaterfallStepContext,
} from 'botbuilder-dialogs';
import type { StatePropertyAccessor, TurnContext } from 'botbuilder';
import { z } from 'zod';
import { helpCard, type AdaptiveCardJson } from '../cards/cardTemplates';
import { memberHelpCard } from '../cards/myBooksCards';
import type { BackendKind } from '../services/backend/ports';
import { backendLine } from '../services/backend/backendText';
import { BUILT_IN_COMMANDS, commandsFor } from './commandCatalog';
import { normaliseText, parseCommand, suggestCommands, type CommandSuggestion, type ParsedCommand } from './parseCommand';
import { echoArgument, escapeMarkdown, TOKEN_LIKE_MESSAGE } from '../services/common/chatText';
import { memberCommands, memberHelpCommands } from './members/memberCommands';
import { sendCard } from './replies';
import { commandInput, type CommandInput } from './cardSubmissions';
import { choiceSubmissionSchema } from './prompts/CardChoicePrompt';
import type { AccessGuard } from './AccessGuard';

/** What routing asks of the access guard. */
type FlowGuard = Pick<AccessGuard, 'role' | 'check' | 'checkMember'>;
import type { FlowOptions, FlowRegistration } from './flows';

const ROUTE = 'route';

function isHelp(text: string | undefined): boolean {
  const normalised = normaliseText(text).toLowerCase();
  return normalised === 'help' || normalised === '?';
}

/**
 * botbuilder-dialogs' memory configuration (scopes and path resolvers, all stateless), carried from turn to
 * turn. botbuilder builds it with the first dialog context of a turn (about 0.1 ms) and shares it with the
 * turn's other contexts through turn state; no public API hands one to a new dialog context (DialogManager's
 * `stateConfiguration` reaches only the context it builds after the first). So the turn-state entry that holds
 * it is found once by its value, the public `DialogContext.state.configuration`, rather than by the library's
 * private key name, and set again before each later turn builds its first context. Should a version stop
 * sharing it that way, nothing is found and every turn builds its own, as plain botbuilder does; the MainDialog
 * test "builds the dialog memory configuration once" then fails, so the turn cost does not drift unnoticed.
 */
class SharedDialogMemory {
  private entry: { key: unknown; configuration: DialogStateManagerConfiguration } | undefined;
  private lookedUp = false;

  /** Before the turn's first dialog context. */
  lend(context: TurnContext): void {
    if (this.entry) context.turnState.set(this.entry.key, this.entry.configuration);
  }

  /** After it: the first time, finds the entry botbuilder put what it built in. */
  keep(context: TurnContext, dc: DialogContext): void {
    if (this.lookedUp) return;
    this.lookedUp = true;
    const configuration = dc.state.configuration;
    for (const [key, value] of context.turnState as Map<unknown, unknown>) {
      if (value === configuration) this.entry = { key, configuration };
    }
  }
}

export const IRREVOCABLE_MESSAGE =
  'Book licenses cannot be reclaimed: once Apple assigns a book to a user, the license belongs to that user for good ' +
  '(Apple error 9706, books are not revocable). Nothing was changed.';

export const PERSONAL_CHAT_ONLY_MESSAGE =
  'I do that only in a personal chat, so token files never land in a shared conversation. Open a 1:1 chat with me and type the command there.';

export const GROUP_CHAT_READ_ONLY_MESSAGE =
  'In a group chat I only answer read-only commands (help, tokens, books, status, approvals). Use a 1:1 chat with me or your IT team channel for that.';

const UNKNOWN_COMMAND_MESSAGE = "I don't know that command. Type **help** to see the commands I understand.";

/** `I don't know "hlep". Did you mean **help**?`: what was typed is quoted the one safe way (never a token). */
function didYouMeanMessage({ typed, commands }: CommandSuggestion): string {
  const named = commands.map((c) => `**${c}**`);
  const last = named.pop() ?? '';
  return `I don't know ${echoArgument(typed)}. Did you mean ${named.length > 0 ? `${named.join(', ')} or ${last}` : last}?`;
}

const STALE_CARD_MESSAGE = 'That card is no longer active, so nothing was changed. Type **help** to start again.';

/** How long a flow may wait for its next answer; after that the question lapses (a day-old card is not an answer). */
export const FLOW_EXPIRY_MS = 24 * 60 * 60_000;

export const FLOW_EXPIRED_MESSAGE = 'My earlier question went unanswered for too long, so it expired and nothing was changed by it. I took your message as a new command.';

export function notYourQuestionMessage(ownerName: string | undefined): string {
  return `That question is for ${ownerName ? escapeMarkdown(ownerName) : 'the person who started it'}; nothing was changed.`;
}

export interface MainDialogOptions {
  /** The clock flows expire by (tests move it instead of waiting). */
  now?: () => Date;
  /** How long a flow may wait for an answer; FLOW_EXPIRY_MS by default. */
  flowExpiryMs?: number;
  /** Who holds the tokens, named on the help card (VPP_BACKEND); Apple mode unless told. */
  backend?: BackendKind;
}

/**
 * What MainDialog remembers about the flow under way, in its own dialog instance state. Conversation
 * state is per conversation (a whole channel shares one dialog stack), so the flow must carry who it is for.
 */
const activeFlowSchema = z.object({
  /** The command that started it: its rules are checked again on every turn. */
  command: z.string(),
  /** Who started it (Entra object id, else the channel account id), lower case; absent when Teams did not say. */
  ownerId: z.string().optional(),
  ownerName: z.string().optional(),
  /** When the flow last advanced (epoch ms). */
  lastTurnAt: z.number(),
});
type ActiveFlow = z.infer<typeof activeFlowSchema>;

const ACTIVE_FLOW = 'activeFlow';

function senderId(context: TurnContext): string | undefined {
  const from = context.activity.from;
  return (from?.aadObjectId ?? from?.id)?.toLowerCase();
}

/**
 * MainDialog's own instance state, reached from its inner dialog context (the one onContinueDialog gets,
 * or route's step context, whose parent is the same). Kept there, the record goes away with the flow when the stack ends.
 */
function mainState(innerDc: DialogContext): Record<string, unknown> {
  const state = innerDc.parent?.activeDialog?.state as Record<string, unknown> | undefined;
  if (!state) throw new Error('MainDialog state is reachable only from its inner dialog context');
  return state;
}

/**
 * Root of every conversation: reads a command and starts the matching flow. `cancel` and `help` are
 * handled here before any child dialog sees the turn, so they interrupt every flow the same way.
 */
export class MainDialog extends ComponentDialog {
  static readonly id = 'main';

  private readonly flows: ReadonlyMap<string, FlowRegistration>;
  /** Memory scopes and path resolvers are stateless; botbuilder would rebuild them (a dependency graph and config validation) every turn. */
  private readonly dialogMemory = new SharedDialogMemory();
  private renderedHelp: AdaptiveCardJson | undefined;
  private readonly backend: BackendKind;
  /** The member help, by whether the reader is an approver (rendered once each). */
  private readonly memberHelp = new Map<boolean, AdaptiveCardJson>();
  private readonly now: () => Date;
  private readonly flowExpiryMs: number;

  constructor(
    flows: readonly FlowRegistration[],
    private readonly guard: FlowGuard,
    options: MainDialogOptions = {},
  ) {
    super(MainDialog.id);
    this.now = options.now ?? (() => new Date());
    this.flowExpiryMs = options.flowExpiryMs ?? FLOW_EXPIRY_MS;
    this.backend = options.backend ?? 'apple';
    this.flows = new Map(flows.map((f) => [f.command, f]));
    for (const flow of flows) if ('dialog' in flow) this.addDialog(flow.dialog);
    this.addDialog(new WaterfallDialog(ROUTE, [(step) => this.route(step)]));
    this.initialDialogId = ROUTE;
  }

  /** Runs one turn: continues the active flow or routes a new command. */
  async run(context: TurnContext, accessor: StatePropertyAccessor<DialogState>): Promise<void> {
    const input = commandInput(context.activity);
    // Help reads the same with or without a flow under way (a flow keeps waiting), so it needs no state.
    if (isHelp(input.text)) {
      await sendCard(context, await this.helpFor(context));
      return;
    }
    // Most other turns are one-shot commands in a conversation with no flow under way; answering those
    // without building a dialog context keeps a turn close to botbuilder's own cost.
    const state = await accessor.get(context, { dialogStack: [] });
    if (state.dialogStack.length === 0) {
      const parsed = parseCommand(input.text);
      if (await this.answerOneShot(context, parsed, input)) return;
    }
    const dialogSet = new DialogSet(accessor);
    dialogSet.add(this);
    this.dialogMemory.lend(context);
    const dc = await dialogSet.createContext(context);
    this.dialogMemory.keep(context, dc);
    const result = await dc.continueDialog();
    if (result.status === DialogTurnStatus.empty) await dc.beginDialog(this.id);
  }

  /**
   * The admins' command card, or for anyone else the short member help (`my books`, and `approvals` for an
   * approver who is not an admin): their admin commands would only be refused.
   */
  private async helpFor(context: TurnContext): Promise<AdaptiveCardJson> {
    const role = await this.guard.role(context);
    if (role === 'admin') return this.helpCard();
    const approver = role === 'approver';
    return this.memberHelpCard(approver);
  }

  /** The short help for someone who is not an admin (also the bot's greeting to them); rendered once per kind. */
  memberHelpCard(approver: boolean): AdaptiveCardJson {
    let card = this.memberHelp.get(approver);
    if (!card) {
      card = memberHelpCard(memberHelpCommands({ approver, backend: this.backend }));
      this.memberHelp.set(approver, card);
    }
    return card;
  }

  /** Every command; the catalog is fixed, so it is rendered once. */
  private helpCard(): AdaptiveCardJson {
    this.renderedHelp ??= helpCard({ commands: commandsFor(this.backend), backend: backendLine(this.backend) });
    return this.renderedHelp;
  }

  /**
   * Every answer and card click to a waiting flow passes here. In this order: a lapsed flow is dropped and
   * the message starts afresh; only the person who started the flow may answer it (cancel included);
   * cancel and help; then the flow's rules again, since admin rights can be taken away mid-flow.
   */
  protected override async onContinueDialog(innerDc: DialogContext): Promise<DialogTurnResult> {
    const context = innerDc.context;
    const state = mainState(innerDc);
    // A record that does not fit (state from an older version) lapses like a missing one.
    const record = activeFlowSchema.safeParse(state[ACTIVE_FLOW]);
    const active = record.success ? record.data : undefined;
    const flow = active ? this.flows.get(active.command) : undefined;
    const now = this.now().getTime();
    // Without a record or a known command (state from an older version) the rules cannot be checked: it lapses too.
    if (!active || !flow || now - active.lastTurnAt > this.flowExpiryMs) {
      await context.sendActivity(FLOW_EXPIRED_MESSAGE);
      await innerDc.cancelAllDialogs();
      delete state[ACTIVE_FLOW];
      return innerDc.beginDialog(ROUTE);
    }
    if (active.ownerId && senderId(context) !== active.ownerId) {
      await context.sendActivity(notYourQuestionMessage(active.ownerName));
      // Waiting leaves the owner's flow (and its clock) exactly where it was.
      return { status: DialogTurnStatus.waiting };
    }
    const interrupted = await this.interrupt(innerDc);
    if (interrupted) return interrupted;
    // A refusal ends the whole stack before the flow sees the answer, so nothing it would do happens.
    if (!(await this.admit(context, flow, { argument: '' }))) return innerDc.cancelAllDialogs();
    active.lastTurnAt = now;
    return super.onContinueDialog(innerDc);
  }

  private async interrupt(innerDc: DialogContext): Promise<DialogTurnResult | undefined> {
    const input = commandInput(innerDc.context.activity);
    const text = normaliseText(input.text).toLowerCase();
    if (text === 'cancel' || text === 'stop') {
      await innerDc.context.sendActivity('Cancelled. Nothing more will happen for that step. Type **help** to see what I can do.');
      return innerDc.cancelAllDialogs();
    }
    if (isHelp(input.text)) {
      await sendCard(innerDc.context, await this.helpFor(innerDc.context));
      // Waiting keeps the interrupted flow where it was; the admin answers its last question next.
      return { status: DialogTurnStatus.waiting };
    }
    return undefined;
  }

  private async route(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const input = commandInput(step.context.activity);
    const parsed = parseCommand(input.text);
    if (await this.answerOneShot(step.context, parsed, input)) return step.endDialog();
    const flow = parsed.kind === 'command' ? this.flows.get(parsed.command) : undefined;
    if (!flow || !('dialog' in flow) || parsed.kind !== 'command') return step.endDialog();
    const options: FlowOptions = { argument: parsed.argument, tokenId: input.tokenId, args: input.args };
    if (!(await this.admit(step.context, flow, options))) return step.endDialog();
    const from = step.context.activity.from;
    const active: ActiveFlow = { command: flow.command, ownerId: senderId(step.context), ownerName: from?.name, lastTurnAt: this.now().getTime() };
    // A step context stands in for MainDialog's inner context: its parent is the one holding MainDialog's instance.
    mainState(step)[ACTIVE_FLOW] = active;
    return step.beginDialog(flow.dialog.id, options);
  }

  /**
   * Answers what needs no dialog: built-in commands, unknown text and single-turn flows. False when a
   * dialog flow must run the command.
   */
  private async answerOneShot(context: TurnContext, parsed: ParsedCommand, input: CommandInput): Promise<boolean> {
    switch (parsed.kind) {
      case 'empty':
        // A click on a card whose question was already answered, cancelled or never asked.
        if (choiceSubmissionSchema.safeParse(context.activity.value).success) await context.sendActivity(STALE_CARD_MESSAGE);
        else await context.sendActivity('Type **help** to see the commands I understand.');
        return true;
      case 'irrevocable':
        await context.sendActivity(IRREVOCABLE_MESSAGE);
        return true;
      case 'unknown':
        // Never echo the text back whole: an admin may have pasted a token in the wrong place.
        await context.sendActivity(await this.unknownCommandReply(context, parsed.text));
        return true;
      case 'tokenLike':
        await context.sendActivity(TOKEN_LIKE_MESSAGE);
        return true;
      case 'command': {
        const flow = this.flows.get(parsed.command);
        if (!flow) {
          await this.runBuiltIn(context, parsed.command);
          return true;
        }
        if ('dialog' in flow) return false;
        const options: FlowOptions = { argument: parsed.argument, tokenId: input.tokenId, args: input.args };
        if (await this.admit(context, flow, options)) await flow.answer(context, options);
        return true;
      }
    }
  }

  /**
   * Text that is no command: the closest commands the sender may run when what they typed is a typo or two
   * away from one, else the plain answer. Who the sender is is asked only when some command is that close.
   */
  private async unknownCommandReply(context: TurnContext, text: string): Promise<string> {
    // Only what may run in this conversation: a suggestion that is then refused as "personal chat only" helps nobody.
    const runnable = [...BUILT_IN_COMMANDS, ...[...this.flows.entries()].filter(([, flow]) => this.runsHere(context, flow)).map(([command]) => command)];
    if (!suggestCommands(text, runnable)) return UNKNOWN_COMMAND_MESSAGE;
    const role = await this.guard.role(context);
    const theirs = role === 'admin' ? runnable : memberCommands(role === 'approver').filter((c) => runnable.includes(c));
    const suggestion = suggestCommands(text, theirs);
    return suggestion ? didYouMeanMessage(suggestion) : UNKNOWN_COMMAND_MESSAGE;
  }

  /** Whether the flow may run in this kind of conversation (personal chat only; nothing that changes state in a group chat). */
  private runsHere(context: TurnContext, flow: FlowRegistration): boolean {
    const type = context.activity.conversation?.conversationType;
    if (flow.personalChatOnly && type && type !== 'personal') return false;
    return !(flow.changesState && type === 'groupChat');
  }

  /** Where and by whom a flow may run; tells the user why not, and sets the actor for admin flows. */
  private async admit(context: TurnContext, flow: FlowRegistration, options: FlowOptions): Promise<boolean> {
    if (!this.runsHere(context, flow)) {
      const personalOnly = flow.personalChatOnly && context.activity.conversation?.conversationType !== 'personal';
      await context.sendActivity(personalOnly ? (flow.personalChatMessage ?? PERSONAL_CHAT_ONLY_MESSAGE) : GROUP_CHAT_READ_ONLY_MESSAGE);
      return false;
    }
    if (flow.adminOnly) {
      const access = await this.guard.check(context, flow.command, { approversToo: flow.approversToo === true });
      if (!access.allowed) {
        await context.sendActivity(access.message);
        return false;
      }
      options.actor = access.actor;
    }
    if (flow.forMembers) {
      const access = await this.guard.checkMember(context, flow.command);
      if (!access.allowed) {
        await context.sendActivity(access.message);
        return false;
      }
      options.actor = access.actor;
    }
    return true;
  }

  /** help and cancel; a command no flow runs (the bot registers one for every command) is not one it knows. */
  private async runBuiltIn(context: TurnContext, command: string): Promise<void> {
    if (command === 'help') {
      await sendCard(context, await this.helpFor(context));
      return;
    }
    if (command === 'cancel') {
      await context.sendActivity('There is nothing to cancel.');
      return;
    }
    await context.sendActivity(UNKNOWN_COMMAND_MESSAGE);
  }
}
