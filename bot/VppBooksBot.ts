import { TeamsActivityHandler, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type ConversationState, type InvokeResponse, type StatePropertyAccessor, type TurnContext, type ChannelAccount } from 'botbuilder';
import type { DialogState } from 'botbuilder-dialogs';
import { welcomeCard } from '../cards/cardTemplates';
import type { MainDialog } from '../dialogs/MainDialog';
import { sendCard } from '../dialogs/replies';
import type { ConversationReferenceRecorder } from './ConversationReferenceRecorder';
import type { ApprovalCardHandler } from '../dialogs/approvals/ApprovalCardHandler';
import { SEARCH_INVOKE_NAME, type SearchInvokeHandler } from '../dialogs/search/SearchInvokeHandler';
import type { TurnRateLimiter } from './TurnRateLimiter';

/**
 * Teams activity handler: every message goes through the main dialog, installs get a welcome card, and
 * dialog state is saved at the end of each turn (in Cosmos, so a flow survives a restart).
 */
export class VppBooksBot extends TeamsActivityHandler {
  private readonly dialogState: StatePropertyAccessor<DialogState>;

  constructor(
    private readonly conversationState: ConversationState,
    private readonly mainDialog: MainDialog,
    /** Keeps where to reach each admin and channel for proactive notices. */
    private readonly recorder: Pick<ConversationReferenceRecorder, 'record'>,
    /** Universal Actions (Action.Execute) on approval cards. */
    private readonly approvalCards: Pick<ApprovalCardHandler, 'handle'>,
    /**
     * Whether the person in a new personal chat is a bot admin: members (for whom the bot installed itself to
     * tell them about a book) are greeted with the member help, not the admin's commands.
     */
    private readonly isAdmin: (tenantId: string, aadObjectId: string) => Promise<boolean>,
    /** Per-user and per-conversation limits, checked before anything else a turn does. */
    private readonly rateLimiter: TurnRateLimiter,
    /** Typeahead searches (`application/search`) from the assign flow's cards; without it they are not implemented. */
    private readonly search?: Pick<SearchInvokeHandler, 'handle'>,
  ) {
    super();
    this.dialogState = conversationState.createProperty<DialogState>('DialogState');

    this.onMessage(async (context, next) => {
      await this.mainDialog.run(context, this.dialogState);
      await next();
    });

    this.onMembersAdded(async (context, next) => {
      const botId = context.activity.recipient?.id;
      const humans = (context.activity.membersAdded ?? []).filter((m: ChannelAccount) => m.id !== botId);
      const botInstalled = (context.activity.membersAdded ?? []).some((m: ChannelAccount) => m.id === botId);
      // Greet once per install (the bot itself joined) or a person joining a 1:1 chat.
      if (botInstalled || (humans.length > 0 && context.activity.conversation?.conversationType === 'personal')) {
        await sendCard(context, (await this.isMember(context)) ? this.mainDialog.memberHelpCard(false) : welcomeCard());
      }
      await next();
    });
  }

  /** A personal chat with someone who is not an admin (a channel install always gets the admin welcome). */
  private async isMember(context: TurnContext): Promise<boolean> {
    const who = context.activity.from?.aadObjectId;
    const tenantId = context.activity.conversation?.tenantId;
    if (!who || !tenantId || context.activity.conversation?.conversationType !== 'personal') return false;
    return !(await this.isAdmin(tenantId, who).catch(() => true));
  }

  protected override async onAdaptiveCardInvoke(context: TurnContext, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    return this.approvalCards.handle(context, invokeValue);
  }

  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    // Answered here, not by botbuilder's onSearchInvoke: that one refuses an empty queryText, which a
    // typeahead box may send, and would not check who asks.
    if (context.activity.name === SEARCH_INVOKE_NAME && this.search) return this.search.handle(context);
    return super.onInvokeActivity(context);
  }

  override async run(context: TurnContext): Promise<void> {
    // Before the recorder and the dialogs: a flood costs no store reads or writes.
    if (!(await this.rateLimiter.admit(context))) return;
    await this.recorder.record(context);
    await super.run(context);
    await this.conversationState.saveChanges(context, false);
  }
}
