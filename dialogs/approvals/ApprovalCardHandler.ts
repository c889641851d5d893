import { type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type TurnContext } from 'botbuilder';
import { z } from 'zod';
import { approvalCard, approvalNoticeCard } from '../../cards/approvalCards';
import type { AdaptiveCardJson } from '../../cards/cardTemplates';
import type { ApprovalService } from '../../services/approvals/ApprovalService';
import { escapeMarkdown } from '../../services/common/chatText';
import { formatCount } from '../../services/common/format';
import type { Logger } from '../../services/logging/logger';
import type { ApprovalRequest } from '../../services/store/entities/approval';

/**
 * What an Approve / Reject / refresh click sends. Card data is user-controlled: anything beyond the
 * approval id and the comment box is refused, and nothing here is trusted beyond naming the request.
 */
const approvalInvokeSchema = z.object({
  action: z.looseObject({
    type: z.literal('Action.Execute'),
    verb: z.enum(['approve', 'reject', 'refresh', 'withdraw', 'resend']),
    data: z.strictObject({
      approvalId: z.uuid(),
      comment: z.string().max(1000).optional(),
    }),
  }),
  trigger: z.enum(['manual', 'automatic']).optional(),
});

/** Where the handler reaches beyond the clicked conversation. The bot wires it to proactive messages. */
export interface ApprovalNotifier {
  /** Tell the requester the outcome (approved, rejected, expired). */
  decided(request: ApprovalRequest): Promise<void>;
  /** Replace one posted copy of the request's card (the requester's, or an approver's). */
  updateCard(tenantId: string, copy: CardCopy, adaptiveCard: AdaptiveCardJson): Promise<void>;
  /** Send the request card to these approvers again (Resend). */
  requestCreated(request: ApprovalRequest, approvers: readonly string[]): Promise<void>;
}

/** Where a copy of a request card was posted. */
export type CardCopy = NonNullable<ApprovalRequest['card']>;

/** Whether a user is a bot admin (Resend is theirs). */
export type AdminCheck = (tenantId: string, aadObjectId: string) => Promise<boolean>;

const ADAPTIVE_CARD_RESPONSE = 'application/vnd.microsoft.card.adaptive';

const APPROVAL_MESSAGES = {
  invalid: 'That action is not one this bot offers, so nothing was changed.',
  notFound: 'This approval request does not exist in your organisation (it may have been removed), so nothing was changed.',
  noIdentity: 'I cannot tell who clicked (no Entra ID account on this action), so nothing was changed.',
  ownRequest: 'You cannot approve or reject your own request: another approver has to decide. Nothing was changed.',
  notApprover: 'Only the configured approvers can decide on assignment requests. Nothing was changed.',
  expired: 'This request expired before anyone decided, so nothing will be assigned. Ask for it again with **assign**.',
  notRequester: 'Only the admin who asked can withdraw this request. Nothing was changed.',
  notAdminResend: 'Only VPP Books admins can send a request to the approvers again. Nothing was changed.',
  withdrawn: 'You withdrew the request: nothing will be assigned, and the book and groups are free for a new request.',
} as const;

function respond(card: AdaptiveCardJson): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: ADAPTIVE_CARD_RESPONSE, value: card };
}

function tenantOf(context: TurnContext): string | undefined {
  const channelTenant = (context.activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
  return context.activity.conversation?.tenantId ?? (typeof channelTenant === 'string' ? channelTenant : undefined);
}

/**
 * Answers `adaptiveCard/action` invokes on approval cards. The decision is made on the server against
 * the clicker's Entra id and the request's stored state; the card only says which request it is about.
 */
export class ApprovalCardHandler {
  /** Work that follows a click (other copies of the card, the requester's message): done after the answer. */
  private readonly followUps = new Set<Promise<void>>();

  constructor(
    private readonly approvals: ApprovalService,
    private readonly notifier: ApprovalNotifier,
    private readonly logger: Logger,
    private readonly isAdmin: AdminCheck,
  ) {}

  /**
   * Answers the click with the card the clicker should see as soon as the decision is stored; updating
   * other copies and telling the requester happen afterwards, so a slow or throttled Teams never makes
   * the clicker's card show an error.
   */
  async handle(context: TurnContext, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    const parsed = approvalInvokeSchema.safeParse(invokeValue);
    if (!parsed.success) return respond(approvalNoticeCard(APPROVAL_MESSAGES.invalid));
    const { action } = parsed.data;
    // botbuilder rebuilds the invoke value without `trigger`: Teams puts it on the activity's value.
    const trigger = parsed.data.trigger ?? triggerOf(context.activity.value);
    const tenantId = tenantOf(context);
    const clicker = context.activity.from?.aadObjectId;
    if (!tenantId || !clicker) return respond(approvalNoticeCard(APPROVAL_MESSAGES.noIdentity));

    // A request of another tenant lives in another partition: it reads as not found.
    const request = await this.approvals.get(tenantId, action.data.approvalId);
    if (!request) return respond(approvalNoticeCard(APPROVAL_MESSAGES.notFound));

    if (action.verb === 'refresh' || trigger === 'automatic') {
      // The clicker's own view of the current state; a pending card keeps its refresh so it stays current.
      return respond(await this.viewFor(request, clicker));
    }
    const actor = { aadObjectId: clicker, displayName: context.activity.from?.name };
    if (action.verb === 'withdraw') return this.withdraw(tenantId, request, actor);
    if (action.verb === 'resend') return this.resend(request, clicker);

    const result = await this.approvals.decide(tenantId, request.id, actor, action.verb === 'approve' ? 'approved' : 'rejected', action.data.comment?.trim());
    switch (result.outcome) {
      case 'notFound':
        return respond(approvalNoticeCard(APPROVAL_MESSAGES.notFound));
      case 'ownRequest':
        return respond(await this.viewFor(result.request, clicker, APPROVAL_MESSAGES.ownRequest));
      case 'notApprover':
        return respond(await this.viewFor(result.request, clicker, APPROVAL_MESSAGES.notApprover));
      case 'notEnoughLicenses':
        // Still pending: once licenses are bought, the same card approves it.
        return respond(await this.viewFor(result.request, clicker, result.message));
      case 'alreadyDecided':
        return respond(approvalCard(result.request, { actionable: false, notice: alreadyDecidedNotice(result.request), backend: this.approvals.backend }));
      case 'expired':
        this.later(result.request);
        return respond(approvalCard(result.request, { actionable: false, notice: APPROVAL_MESSAGES.expired, backend: this.approvals.backend }));
      case 'decided':
        this.later(result.request);
        return respond(approvalCard(result.request, { actionable: false, backend: this.approvals.backend }));
    }
  }

  /** Resolves when the follow-ups of every click so far are done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.followUps.size > 0) await Promise.allSettled([...this.followUps]);
  }

  /**
   * A top-up request the reconciler made: the approvers get its card, and the request it replaced (a
   * different number) shows as withdrawn wherever it was posted, so nobody approves the old number.
   */
  async topUpRequested(request: ApprovalRequest | undefined, approvers: readonly string[], replaced?: ApprovalRequest): Promise<void> {
    if (replaced) await this.publish(replaced, { tellRequester: false });
    if (request) await this.notifier.requestCreated(request, approvers);
  }

  /** Marks overdue requests expired and updates their cards and requesters; for a periodic sweep. */
  async expireOverdue(tenantId: string): Promise<ApprovalRequest[]> {
    const expired = await this.approvals.expireOverdue(tenantId);
    for (const request of expired) await this.publish(request);
    return expired;
  }

  private async withdraw(tenantId: string, request: ApprovalRequest, actor: { aadObjectId: string; displayName?: string | undefined }): Promise<AdaptiveCardInvokeResponse> {
    const result = await this.approvals.withdraw(tenantId, request.id, actor);
    if (result.outcome === 'notRequester') return respond(await this.viewFor(request, actor.aadObjectId, APPROVAL_MESSAGES.notRequester));
    if (result.outcome !== 'withdrawn' || !result.request) {
      const current = result.request ?? request;
      return respond(approvalCard(current, { actionable: false, notice: alreadyDecidedNotice(current), backend: this.approvals.backend }));
    }
    this.later(result.request, { tellRequester: false });
    return respond(approvalCard(result.request, { actionable: false, notice: APPROVAL_MESSAGES.withdrawn, backend: this.approvals.backend }));
  }

  private async resend(request: ApprovalRequest, clicker: string): Promise<AdaptiveCardInvokeResponse> {
    if (!(await this.isAdmin(request.tenantId, clicker))) return respond(await this.viewFor(request, clicker, APPROVAL_MESSAGES.notAdminResend));
    if (request.state !== 'pending') return respond(approvalCard(request, { actionable: false, notice: alreadyDecidedNotice(request), backend: this.approvals.backend }));
    const approvers = await this.approvals.reachApprovers(request);
    this.track(async () => {
      await this.notifier.requestCreated(request, approvers);
    });
    const notice =
      approvers.length > 0
        ? `Sent again to ${formatCount(approvers.length)} approver${approvers.length === 1 ? '' : 's'}.`
        : 'No approver can be reached in Teams right now: ask one to open a chat with me, then press **Resend to approvers** again.';
    return respond(await this.viewFor(request, clicker, notice));
  }

  /** The request's card as this user should see it: buttons for what they may do, refreshed for approvers. */
  private async viewFor(request: ApprovalRequest, userId: string, notice?: string): Promise<AdaptiveCardJson> {
    const own = request.requestedBy.aadObjectId.toLowerCase() === userId.toLowerCase();
    const pending = request.state === 'pending';
    const actionable = pending && !own && (await this.approvals.approvers.isApprover(request.tenantId, userId));
    const resendable = pending && (await this.isAdmin(request.tenantId, userId));
    // Whoever may approve sees how the groups changed since the request (what they approve does not).
    const change = actionable ? await this.approvals.groupChange(request) : undefined;
    return approvalCard(request, {
      actionable,
      withdrawable: pending && own,
      resendable,
      notice: [notice, change].filter((line) => line).join(' ') || undefined,
      refreshUserIds: pending ? await this.approvals.refreshFor(request) : undefined,
      backend: this.approvals.backend,
    });
  }

  /**
   * The click's turn ends with the answer (the clicked copy already shows it): later work continues the
   * stored conversations instead of the click's context.
   */
  private later(request: ApprovalRequest, options: { tellRequester?: boolean } = {}): void {
    this.track(() => this.publish(request, options));
  }

  private track(work: () => Promise<unknown>): void {
    const promise: Promise<void> = work()
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err }, 'an approval follow-up failed'))
      .finally(() => this.followUps.delete(promise));
    this.followUps.add(promise);
  }

  /**
   * The decided (or expired, withdrawn) card replaces every posted copy (the requester's and each
   * approver's), and the requester is told.
   */
  private async publish(request: ApprovalRequest, options: { tellRequester?: boolean } = {}): Promise<void> {
    const card = approvalCard(request, { actionable: false, backend: this.approvals.backend });
    // Read again: approvers' copies may have been recorded since the decision was read.
    const latest = (await this.approvals.get(request.tenantId, request.id)) ?? request;
    for (const copy of [...(latest.card ? [latest.card] : []), ...(latest.copies ?? [])]) {
      try {
        await this.notifier.updateCard(request.tenantId, copy, card);
      } catch (err) {
        // The decision stands; a card that could not be updated refreshes to the truth when next shown.
        this.logger.warn({ err, approvalId: request.id }, 'could not update a copy of the approval card');
      }
    }
    if (options.tellRequester === false) return;
    try {
      await this.notifier.decided(request);
    } catch (err) {
      this.logger.warn({ err, approvalId: request.id }, 'could not tell the requester about the decision');
    }
  }
}

function triggerOf(value: unknown): 'manual' | 'automatic' | undefined {
  const trigger = (value as { trigger?: unknown } | undefined)?.trigger;
  return trigger === 'manual' || trigger === 'automatic' ? trigger : undefined;
}

function alreadyDecidedNotice(request: ApprovalRequest): string {
  if (request.state === 'expired') return APPROVAL_MESSAGES.expired;
  if (request.state === 'withdrawn') return 'The requester withdrew this request, so your click changed nothing.';
  const who = escapeMarkdown(request.decidedBy?.displayName ?? request.decidedBy?.aadObjectId ?? 'another approver');
  return `Already ${request.state} by ${who}, so your click changed nothing.`;
}
