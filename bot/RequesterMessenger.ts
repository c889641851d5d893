import { CardFactory, type CloudAdapter, type ConversationReference } from 'botbuilder';
import { assignProgressText, assignResultCard } from '../cards/assignCards';
import { approvalCard, topUpReason } from '../cards/approvalCards';
import type { ApproverNotice } from '../dialogs/approvals/approvalCardSender';
import type { AdaptiveCardJson } from '../cards/cardTemplates';
import type { ApprovalNotifier, CardCopy } from '../dialogs/approvals/ApprovalCardHandler';
import type { AssignmentOutcome, AssignmentProgress, AssignmentReporter } from '../services/assignments/reporting';
import { escapeMarkdown } from '../services/common/chatText';
import { formatCount } from '../services/common/format';
import type { Logger } from '../services/logging/logger';
import type { BackendKind } from '../services/backend/ports';
import type { NotificationOutbox } from '../services/notifications/NotificationOutbox';
import type { NotificationMessage } from '../services/notifications/ProactiveSender';
import type { ApprovalRequest } from '../services/store/entities/approval';
import type { ConversationReferenceRepository } from '../services/store/repositories/ConversationReferenceRepository';

const INTENT = { required: 'Required', available: 'Available' } as const;

/** In Intune mode the bot hands whole groups to Intune, which licenses and installs by itself. */
function intuneFinishedText(bookTitle: string, outcome: AssignmentOutcome): string {
  const groups = outcome.groups.map((g) => escapeMarkdown(g.groupName)).join(', ');
  const members = formatCount(outcome.totals.licensed);
  // Delivered with a warning (something else on the book's list was not as expected): the admin reads it here too.
  const warning = outcome.error ? ` ⚠️ ${outcome.error}` : '';
  return (outcome.installIntent === 'available'
    ? `Finished assigning "${bookTitle}" in Intune as Available to ${groups}: its ${members} members can install it from Company Portal, and Intune licenses each one who does. Type **status ${bookTitle}** to see who installed it.`
    : `Finished assigning "${bookTitle}" in Intune as Required to ${groups}: Intune licenses its ${members} members and installs the book on their managed iPads and iPhones by itself. Type **status ${bookTitle}** to follow the installs.`) + warning;
}

/** The words of a top-up's decision message. */
interface TopUpWords {
  by: string;
  more: string;
  comment: string;
  bookTitle: string;
  groupName: string;
}

/** A top-up's decision in Apple mode: the bot itself licenses the people waiting, or nobody. */
function appleTopUpText(request: ApprovalRequest, { by, more, comment }: TopUpWords): string {
  switch (request.state) {
    case 'approved':
      return `${by} approved ${more}. The people waiting get the book now.`;
    case 'rejected':
      return `${by} rejected ${more}${comment} The people waiting get no license; I ask again only if their number changes.`;
    case 'withdrawn':
      return `The request for ${more} was replaced or withdrawn.`;
    default:
      return `The request for ${more} expired without a decision; I ask again only if the number of people waiting changes.`;
  }
}

/**
 * A top-up's decision in Intune mode: Intune licenses whoever joins the groups by itself, so an approval lets
 * it go on up to the new budget, and a refusal (or no decision in time) takes the groups off the book in
 * Intune (IntuneBudgetWatcher, right after the decision, retried until Intune takes it).
 */
function intuneTopUpText(request: ApprovalRequest, { by, more, comment, bookTitle, groupName }: TopUpWords): string {
  const takenOff = `I am removing ${groupName} from "${bookTitle}" in Intune, so Intune licenses nobody else who joins; licenses already spent stay with their users.`;
  switch (request.state) {
    case 'approved':
      return request.summary.installIntent === 'available'
        ? `${by} approved ${more}. Intune goes on licensing the people in ${groupName} who install it from Company Portal, up to the licenses now approved.`
        : `${by} approved ${more}. Intune goes on licensing the people who join ${groupName} and installing the book on their managed devices, up to the licenses now approved.`;
    case 'rejected':
      return `${by} rejected ${more}${comment} ${takenOff}`;
    case 'withdrawn':
      return `The request for ${more} was replaced or withdrawn.`;
    default:
      return `The request for ${more} expired without a decision. ${takenOff}`;
  }
}

export interface RequesterMessengerOptions {
  conversations: ConversationReferenceRepository;
  outbox: NotificationOutbox;
  adapter: Pick<CloudAdapter, 'continueConversationAsync'>;
  appId: string | undefined;
  logger: Logger;
  /** The Teams user ids (MRIs) a request's card refreshes for, at most 60. */
  refreshFor: (request: ApprovalRequest) => Promise<string[]>;
  /** Remembers where each approver's copy went, so the decision can replace it; answers the request as it is now. */
  recordCopy: (tenantId: string, approvalId: string, copy: CardCopy) => Promise<ApprovalRequest | undefined>;
  /** Who delivers (VPP_BACKEND): the result and the cards say what an assignment does in that mode. */
  backend: BackendKind;
}

/**
 * Tells the people behind an assignment what happened, in their personal chat with the bot: the
 * requester gets progress, the result and the approver's decision; approval cards posted elsewhere are
 * updated in place. Messages go through the outbox, so Teams' limits and retries apply.
 */
export class RequesterMessenger implements AssignmentReporter, ApprovalNotifier, ApproverNotice {
  private readonly conversations: ConversationReferenceRepository;
  private readonly outbox: NotificationOutbox;
  private readonly adapter: Pick<CloudAdapter, 'continueConversationAsync'>;
  private readonly appId: string | undefined;
  private readonly logger: Logger;
  private readonly refreshFor: (request: ApprovalRequest) => Promise<string[]>;
  private readonly recordCopy: (tenantId: string, approvalId: string, copy: CardCopy) => Promise<ApprovalRequest | undefined>;
  private readonly backend: BackendKind;

  constructor(options: RequesterMessengerOptions) {
    this.conversations = options.conversations;
    this.outbox = options.outbox;
    this.adapter = options.adapter;
    this.appId = options.appId;
    this.logger = options.logger;
    this.refreshFor = options.refreshFor;
    this.recordCopy = options.recordCopy;
    this.backend = options.backend;
  }

  /** Each approver given (all of them, however many; never the requester) gets the actionable card. */
  async requestCreated(request: ApprovalRequest, approvers: readonly string[]): Promise<void> {
    const card = approvalCard(request, { actionable: true, refreshUserIds: await this.refreshFor(request), backend: this.backend });
    const bookTitle = escapeMarkdown(request.summary.bookTitle);
    const groupName = escapeMarkdown(request.summary.groupName);
    const text =
      request.kind === 'topUp'
        ? `"${bookTitle}": ${topUpReason(request.summary, this.backend)} Approve or reject it on the card.`
        : `${request.requestedBy.displayName ? escapeMarkdown(request.requestedBy.displayName) : 'An admin'} asks to assign "${bookTitle}" to ${groupName}. Approve or reject it on the card.`;
    // One write at a time per request: the copies all land in the request document.
    let recorded: Promise<void> = Promise.resolve();
    const sends = approvers
      .filter((approver) => approver.toLowerCase() !== request.requestedBy.aadObjectId.toLowerCase())
      .map((approver) =>
        this.toUser(request.tenantId, approver, { text, card }, (copy) => {
          recorded = recorded
            .then(async () => {
              const now = await this.recordCopy(request.tenantId, request.id, copy);
              // Decided while this copy was on its way: the decision's update missed it, so it is replaced here.
              if (now && now.state !== 'pending') await this.updateCard(now.tenantId, copy, approvalCard(now, { actionable: false, backend: this.backend }));
            })
            .catch((err: unknown) => this.logger.warn({ err, approvalId: request.id }, 'could not record an approval card copy'));
        }),
      );
    // Each approver's chat has its own queue in the outbox: they go out side by side, within Teams' limits.
    await Promise.all(sends);
    await recorded;
  }

  async progress(update: AssignmentProgress): Promise<void> {
    await this.toUser(update.tenantId, update.requestedBy.aadObjectId, { text: assignProgressText(update) });
  }

  async finished(outcome: AssignmentOutcome): Promise<void> {
    // Names escaped; errors are the bot's own chat text.
    const bookTitle = escapeMarkdown(outcome.bookTitle);
    const text =
      outcome.pass && outcome.state === 'completed'
        ? `People who joined ${outcome.groupNames.map(escapeMarkdown).join(', ')} since "${bookTitle}" was assigned: ${formatCount(outcome.totals.licensed)} assigned, ${formatCount(outcome.totals.awaitingInvitation)} pending invitation, ${formatCount(outcome.totals.failed)} failed.`
        : outcome.state === 'completed' && this.backend === 'intune'
        ? intuneFinishedText(bookTitle, outcome)
        : outcome.state === 'completed'
        ? outcome.installIntent === 'available'
          ? `Finished assigning "${bookTitle}" as Available: ${formatCount(outcome.totals.offered ?? 0)} members were told it is there for them and get it with **my books**, up to ${formatCount(outcome.budget ?? 0)} licenses; nothing was spent yet.`
          : `Finished assigning "${bookTitle}": ${formatCount(outcome.totals.licensed)} licensed now, ${formatCount(outcome.totals.awaitingInvitation)} invited (licensed once they join), ${formatCount(outcome.totals.failed)} failed. Members are told in Teams; the book is in the Books app under their purchases.`
        : outcome.state === 'interrupted'
          ? `Assigning "${bookTitle}" paused: ${outcome.error ?? 'Apple is unavailable.'}`
          : `Assigning "${bookTitle}" stopped: ${outcome.error ?? 'see the card'}.`;
    await this.toUser(outcome.tenantId, outcome.requestedBy.aadObjectId, { text, card: assignResultCard(outcome, this.backend) });
  }

  async decided(request: ApprovalRequest): Promise<void> {
    const bookTitle = escapeMarkdown(request.summary.bookTitle);
    const groupName = escapeMarkdown(request.summary.groupName);
    const what = `"${bookTitle}" for ${groupName} (${INTENT[request.summary.installIntent]})`;
    const by = request.decidedBy?.displayName ? escapeMarkdown(request.decidedBy.displayName) : 'an approver';
    const comment = request.comment ? `: "${escapeMarkdown(request.comment)}"` : '.';
    if (request.kind === 'topUp') {
      const more = `${formatCount(request.summary.licensesNeeded)} more licenses of "${bookTitle}" for ${groupName}`;
      const topUpText = (this.backend === 'intune' ? intuneTopUpText : appleTopUpText)(request, { by, more, comment, bookTitle, groupName });
      await this.toUser(request.tenantId, request.requestedBy.aadObjectId, { text: topUpText });
      return;
    }
    const text =
      request.state === 'approved'
        ? `${by} approved assigning ${what}. I am assigning it now and will tell you when it is done.`
        : request.state === 'rejected'
          ? `${by} rejected assigning ${what}${comment} Nothing was assigned.`
          : `Your request to assign ${what} expired without a decision. Nothing was assigned; type **assign** to ask again.`;
    await this.toUser(request.tenantId, request.requestedBy.aadObjectId, { text });
  }

  async updateCard(tenantId: string, copy: CardCopy, card: AdaptiveCardJson): Promise<void> {
    const stored = await this.conversations.getForConversation(tenantId, copy.conversationId);
    if (!stored) {
      this.logger.warn({ conversationId: copy.conversationId }, 'approval card lives in a conversation the bot no longer knows; it refreshes when next opened');
      return;
    }
    await this.adapter.continueConversationAsync(this.appId ?? '', stored.reference as Partial<ConversationReference>, async (context) => {
      await context.updateActivity({ type: 'message', id: copy.activityId, attachments: [CardFactory.adaptiveCard(card)] });
    });
  }

  private async toUser(tenantId: string, aadObjectId: string, message: NotificationMessage, onPosted?: (copy: CardCopy) => void): Promise<void> {
    const stored = await this.conversations.getForUser(tenantId, aadObjectId);
    if (!stored) {
      this.logger.warn({ tenantId, user: aadObjectId }, 'no personal chat with this user to report to');
      return;
    }
    await this.outbox.send({ tenantId, conversationId: stored.conversationId, reference: stored.reference }, message, (activityId) => {
      if (activityId) onPosted?.({ activityId, conversationId: stored.conversationId });
    });
  }
}
