import type { ApprovalService } from '../../services/approvals/ApprovalService';
import type { AssignmentPreviewer } from '../../services/backend/ports';
import type { AssignmentDirectory } from '../../services/assignments/ports';
import type { BookSearch } from '../../services/assignments/bookSearch';
import type { GroupMemberCounts } from '../../services/directory/GroupMemberCounts';
import { ApprovalsDialog } from '../approvals/ApprovalsDialog';
import type { FlowRegistration } from '../flows';
import type { ApproverNotice } from '../approvals/approvalCardSender';
import type { AdminCheck } from '../approvals/ApprovalCardHandler';
import { AssignBookDialog } from './AssignBookDialog';
import { PickGroupsDialog } from './PickGroupsDialog';
import { resumeCommand, type RunResumer } from './resumeCommand';
import type { ReconcileCommand } from './reconcileCommand';

export interface AssignFlowDependencies {
  books: BookSearch;
  directory: AssignmentDirectory;
  planner: AssignmentPreviewer;
  approvals: ApprovalService;
  approverNotice: ApproverNotice;
  executor: RunResumer;
  /** Whether a user is a bot admin (the Resend button on `approvals`). */
  isAdmin: AdminCheck;
  /** `reconcile [book]`: standing assignments looked at on demand. */
  reconcile?: ReconcileCommand | undefined;
  /** Member counts on group choices ("English Department · 42 members"). */
  groupCounts?: Pick<GroupMemberCounts, 'countsFor'> | undefined;
}

/** Assigning books (personal chat only: the preview names users and groups) and the pending approvals. */
export function assignFlows({ books, directory, planner, approvals, approverNotice, executor, isAdmin, reconcile, groupCounts }: AssignFlowDependencies): FlowRegistration[] {
  return [
    ...(reconcile ? [{ command: 'reconcile', answer: reconcile.answer, adminOnly: true, personalChatOnly: false, changesState: true }] : []),
    { command: 'assign', dialog: new AssignBookDialog(books, planner, approvals, new PickGroupsDialog(directory, groupCounts), approverNotice), adminOnly: true, personalChatOnly: true },
    { command: 'approvals', dialog: new ApprovalsDialog(approvals, isAdmin), adminOnly: true, approversToo: true, personalChatOnly: false },
    { command: 'resume', answer: resumeCommand(executor), adminOnly: true, personalChatOnly: false, changesState: true },
  ];
}
