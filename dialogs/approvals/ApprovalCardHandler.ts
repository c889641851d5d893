import { CardFactory, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type TurnContext } from 'botbuilder';
import { z } from 'zod';
import { approvalCard, approvalNoticeCard } from '../../cards/approvalCards';
import type { AdaptiveCardJson } from '../../cards/cardTemplates';
import type { ApprovalService } from '../../services/approvals/ApprovalService';
import type { Logger } from '../../services/logging/logger';
import type { ApprovalRequest } from '../../services/store/entities/approval';

/**
 * What an Approve / Reject / refresh click sends. Card data is user-controlled: anything beyond the
 * approval id and the comment box is refused, and nothing here is trusted beyond naming the request.
 */
export const approvalInvokeSchema = z.object({
  action: z.looseObject({
    type: z.literal('Action.Execute'),
    verb: z.enum(['approve', 'reject', 'refresh']),
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
  /** Update the request's stored card (`request.card`) when it lives in another conversation than the click. */
  updateCard(request: ApprovalRequest & { card: NonNullable<ApprovalRequest['card']> }, adaptiveCard: AdaptiveCardJson): Promise<void>;
}

export const ADAPTIVE_CARD_RESPONSE = 'application/vnd.microsoft.card.adaptive';

export const APPROVAL_MESSAGES = {
  invalid: 'That action is not one this bot offers, so nothing was changed.',
  notFound: 'This approval request does not exist in your organisation (it may have been removed), so nothing was changed.',
  noIdentity: 'I cannot tell who clicked (no Entra ID account on this action), so nothing was changed.',
  ownRequest: 'You cannot approve or reject your own request: another approver has to decide. Nothing was changed.',
  notApprover: 'Only the configured approvers can decide on assignment requests. Nothing was changed.',
  expired: 'This request expired before anyone decided, so nothing will be assigned. Ask for it again with **assign**.',
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
  constructor(
    private readonly approvals: ApprovalService,
    private readonly notifier?: ApprovalNotifier,
    private readonly logger?: Logger,
  ) {}

  async handle(context: TurnContext, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    const parsed = approvalInvokeSchema.safeParse(invokeValue);
    if (!parsed.success) return respond(approvalNoticeCard(APPROVAL_MESSAGES.invalid));
    const { action, trigger } = parsed.data;
    const tenantId = tenantOf(context);
    const clicker = context.activity.from?.aadObjectId;
    if (!tenantId || !clicker) return respond(approvalNoticeCard(APPROVAL_MESSAGES.noIdentity));

    // A request of another tenant lives in another partition: it reads as not found.
    const request = await this.approvals.get(tenantId, action.data.approvalId);
    if (!request) return respond(approvalNoticeCard(APPROVAL_MESSAGES.notFound));

    if (action.verb === 'refresh' || trigger === 'automatic') {
      // A refresh answers with the current state and no refresh block, so Teams never loops.
      return respond(await this.viewFor(request, clicker, { refresh: false }));
    }

    const decider = { aadObjectId: clicker, displayName: context.activity.from?.name };
    const result = await this.approvals.decide(tenantId, request.id, decider, action.verb === 'approve' ? 'approved' : 'rejected', action.data.comment?.trim());
    switch (result.outcome) {
      case 'notFound':
        return respond(approvalNoticeCard(APPROVAL_MESSAGES.notFound));
      case 'ownRequest':
        return respond(await this.viewFor(result.request, clicker, { refresh: true, notice: APPROVAL_MESSAGES.ownRequest }));
      case 'notApprover':
        return respond(await this.viewFor(result.request, clicker, { refresh: true, notice: APPROVAL_MESSAGES.notApprover }));
      case 'alreadyDecided':
        return respond(approvalCard(result.request, { actionable: false, notice: alreadyDecidedNotice(result.request) }));
      case 'expired': {
        await this.publish(context, result.request);
        return respond(approvalCard(result.request, { actionable: false, notice: APPROVAL_MESSAGES.expired }));
      }
      case 'decided': {
        const card = await this.publish(context, result.request);
        return respond(card);
      }
    }
  }

  /** Marks overdue requests expired and updates their cards and requesters; for a periodic sweep. */
  async expireOverdue(context: TurnContext | undefined, tenantId: string): Promise<ApprovalRequest[]> {
    const expired = await this.approvals.expireOverdue(tenantId);
    for (const request of expired) await this.publish(context, request);
    return expired;
  }

  /** The request's card as this user should see it: buttons only for an approver who did not ask. */
  private async viewFor(request: ApprovalRequest, userId: string, options: { refresh: boolean; notice?: string }): Promise<AdaptiveCardJson> {
    const own = request.requestedBy.aadObjectId.toLowerCase() === userId.toLowerCase();
    const actionable = request.state === 'pending' && !own && (await this.approvals.approvers.isApprover(request.tenantId, userId));
    return approvalCard(request, {
      actionable,
      notice: options.notice,
      refreshUserIds: options.refresh ? this.approvals.approvers.approverIds(request.tenantId) : undefined,
    });
  }

  /** The decided (or expired) card replaces the stored one for everyone, and the requester is told. */
  private async publish(context: TurnContext | undefined, request: ApprovalRequest): Promise<AdaptiveCardJson> {
    const card = approvalCard(request, { actionable: false });
    const stored = request.card;
    try {
      if (stored && context && stored.conversationId === context.activity.conversation?.id) {
        await context.updateActivity({ type: 'message', id: stored.activityId, conversation: context.activity.conversation, attachments: [CardFactory.adaptiveCard(card)] });
      } else if (stored) {
        await this.notifier?.updateCard({ ...request, card: stored }, card);
      }
    } catch (err) {
      // The decision stands; a card that could not be updated refreshes to the truth when next shown.
      this.logger?.warn({ err, approvalId: request.id }, 'could not update the approval card');
    }
    try {
      await this.notifier?.decided(request);
    } catch (err) {
      this.logger?.warn({ err, approvalId: request.id }, 'could not tell the requester about the decision');
    }
    return card;
  }
}

function alreadyDecidedNotice(request: ApprovalRequest): string {
  if (request.state === 'expired') return APPROVAL_MESSAGES.expired;
  const who = request.decidedBy?.displayName ?? request.decidedBy?.aadObjectId ?? 'another approver';
  return `Already ${request.state} by ${who}, so your click changed nothing.`;
}
