import type { Actor } from '../store/entities/common';
import type { RunCounts } from '../store/repositories/AssignmentRunRepository';

/** Who asked and for what: enough for a reporter to find the requester's chat and word the message. */
export interface RunIdentity {
  runId: string;
  tokenId: string;
  tenantId: string;
  approvalId: string;
  requestedBy: Actor;
  bookTitle: string;
  installIntent: 'required' | 'available';
  groupNames: string[];
  /** A reconciliation pass (1, 2, …): members who joined the groups since get the book; absent for the first delivery. */
  pass?: number | undefined;
}

export interface AssignmentProgress extends RunIdentity {
  /** Users handled so far and in all (after dedupe and any reduced scope). */
  processed: number;
  total: number;
  totals: RunCounts;
}

interface FailedUserResult {
  clientUserId: string;
  displayName: string;
  code: string;
  reason: string;
}

interface InvitedUserResult {
  clientUserId: string;
  displayName: string;
  invitationUrl?: string | undefined;
}

export interface AssignmentOutcome extends RunIdentity {
  /** `interrupted`: paused on a passing Apple outage; it resumes on its own (`resumeAfter`) or when an admin asks. */
  state: 'completed' | 'failed' | 'interrupted';
  resumeAfter?: string | undefined;
  totals: RunCounts;
  groups: Array<{ groupName: string; counts: RunCounts }>;
  failureReasons: Array<{ code: string; message: string; count: number }>;
  /** The first users who failed and who must accept an invitation (bounded), for the result card. */
  failedUsers: FailedUserResult[];
  invitedUsers: InvitedUserResult[];
  /** The licenses approved, and members left without the book because they were used up. */
  budget?: number | undefined;
  overBudget?: number | undefined;
  /** Set when the whole run stopped on an error (expired token, say). */
  error?: string | undefined;
}

/**
 * Where an assignment's progress and result go. The bot wires it to proactive messages to the
 * requester; services never talk to Teams themselves.
 */
export interface AssignmentReporter {
  progress(update: AssignmentProgress): Promise<void>;
  finished(outcome: AssignmentOutcome): Promise<void>;
}

export const NO_REPORTER: AssignmentReporter = {
  progress: async () => undefined,
  finished: async () => undefined,
};
