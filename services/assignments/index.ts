export { AssignmentExecutor, type AssignmentExecutorOptions } from './AssignmentExecutor';
export { AssignmentPlanner, checkGroup, deviceGroupRefusal, type AssignmentPreview, type CheckedGroup, type GroupCheck, type PreviewGroup } from './AssignmentPlanner';
export { AssignmentRunRepository, assignmentRunSchema, runId, ZERO_COUNTS, type AssignmentRun, type RunCounts, type RunGroup, type RunState } from './AssignmentRunRepository';
export { appleClientProvider, listMembersSorted, type AppleClientProvider, type AssignmentDirectory } from './ports';
export { NO_REPORTER, type AssignmentOutcome, type AssignmentProgress, type AssignmentReporter, type FailedUserResult, type InvitedUserResult, type RunIdentity } from './reporting';
