import type { TurnContext } from 'botbuilder';
import { approvalCard } from '../../cards/approvalCards';
import type { ApprovalService } from '../../services/approvals/ApprovalService';
import type { ApprovalRequest } from '../../services/store/entities/approval';
import { cardMessage } from '../replies';

/**
 * Posts the request card in this conversation, refreshed by Teams for the approvers, and remembers the
 * activity so the decision can update it in place for everyone.
 */
export async function postApprovalCard(context: TurnContext, approvals: ApprovalService, request: ApprovalRequest): Promise<ApprovalRequest> {
  const poster = context.activity.from?.aadObjectId;
  const own = poster !== undefined && poster.toLowerCase() === request.requestedBy.aadObjectId.toLowerCase();
  const isApprover = poster !== undefined && !own && (await approvals.approvers.isApprover(request.tenantId, poster));
  const card = approvalCard(request, { actionable: isApprover, withdrawable: own, refreshUserIds: await approvals.refreshFor(request), backend: approvals.backend });
  const sent = await context.sendActivity(cardMessage(card));
  const conversationId = context.activity.conversation?.id;
  if (!sent?.id || !conversationId) return request;
  return (await approvals.recordCard(request.tenantId, request.id, { activityId: sent.id, conversationId })) ?? request;
}

/** Puts a new request in front of the approvers where they are (their chats with the bot). */
export interface ApproverNotice {
  requestCreated(request: ApprovalRequest, approvers: readonly string[]): Promise<void>;
}
