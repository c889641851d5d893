import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { approvalListCard } from '../../cards/approvalCards';
import type { ApprovalService } from '../../services/approvals/ApprovalService';
import type { FlowOptions } from '../flows';
import { sendCard } from '../replies';

/** "approvals": the requests waiting for a decision (overdue ones are expired first). */
export class ApprovalsDialog extends ComponentDialog {
  static readonly id = 'approvals';

  constructor(private readonly approvals: ApprovalService) {
    super(ApprovalsDialog.id);
    this.addDialog(new WaterfallDialog('approvals.steps', [(s) => this.list(s)]));
    this.initialDialogId = 'approvals.steps';
  }

  private async list(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const actor = (step.options as FlowOptions).actor;
    if (!actor) throw new Error('approvals runs only for an authorised admin');
    const { pending } = await this.approvals.listPending(actor.tenantId);
    await sendCard(step.context, approvalListCard(pending));
    return step.endDialog();
  }
}
