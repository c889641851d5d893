import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { approvalCard } from '../../cards/approvalCards';
import { formatCount } from '../../services/common/format';
import type { ApprovalService } from '../../services/approvals/ApprovalService';
import type { AdminCheck } from './ApprovalCardHandler';
import { flowActor } from '../flows';
import { sendCard } from '../replies';

/** Cards in one answer; more would flood the chat. */
const MAX_CARDS = 10;

/**
 * "approvals": each request waiting for a decision (overdue ones are expired first) as its own card, with
 * the buttons this user may use: Approve / Reject for an approver who did not ask, Withdraw for the
 * requester, Resend to approvers for an admin. The clicks go to the same handler as the approvers' cards.
 */
export class ApprovalsDialog extends ComponentDialog {
  static readonly id = 'approvals';

  constructor(
    private readonly approvals: ApprovalService,
    private readonly isAdmin: AdminCheck,
  ) {
    super(ApprovalsDialog.id);
    this.addDialog(new WaterfallDialog('approvals.steps', [(s) => this.list(s)]));
    this.initialDialogId = 'approvals.steps';
  }

  private async list(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const actor = flowActor(step.options, 'approvals');
    // Overdue requests are left out, not expired here: the sweep expires them and tells their requesters.
    const pending = await this.approvals.listOpen(actor.tenantId);
    const viewer = actor.aadObjectId.toLowerCase();
    const approver = await this.approvals.approvers.isApprover(actor.tenantId, actor.aadObjectId);
    const admin = await this.isAdmin(actor.tenantId, actor.aadObjectId);
    // An approver who is not an admin sees the requests they can decide; admins see every request.
    const visible = pending.filter((r) => admin || r.requestedBy.aadObjectId.toLowerCase() !== viewer);
    if (visible.length === 0) {
      await step.context.sendActivity('Nothing is waiting for a decision. Type **assign** to request an assignment.');
      return step.endDialog();
    }
    const shown = visible.slice(0, MAX_CARDS);
    await step.context.sendActivity(
      `${formatCount(visible.length)} request${visible.length === 1 ? '' : 's'} waiting for a decision${visible.length > shown.length ? ` (the ${formatCount(shown.length)} oldest below)` : ''}.`,
    );
    for (const request of shown) {
      const own = request.requestedBy.aadObjectId.toLowerCase() === viewer;
      const notice = approver && !own ? await this.approvals.groupChange(request) : undefined;
      await sendCard(step.context, approvalCard(request, { actionable: approver && !own, withdrawable: own, resendable: admin, notice, refreshUserIds: await this.approvals.refreshFor(request), backend: this.approvals.backend }));
    }
    return step.endDialog();
  }
}
