import { randomUUID } from 'node:crypto';
import { ZERO_COUNTS, runId, type AssignmentRun } from '../../services/store/repositories/AssignmentRunRepository';
import { BookClaimService, type BookClaimServiceOptions } from '../../services/assignments/BookClaimService';
import type { MemberNoticeRun, MemberNotices, NoticeMember } from '../../services/assignments/memberNotices';
import { ApprovalService } from '../../services/approvals/ApprovalService';
import { ApproverDirectory } from '../../services/approvals/ApproverDirectory';
import { assignmentId } from '../../services/store/entities/assignment';
import type { EBook } from '../../services/store/entities/eBook';
import type { VppToken } from '../../services/store/entities/vppToken';
import { silentLogger } from '../../services/logging/logger';
import { ALEX, ASSIGN_TENANT, MEGAN, alexActor, type AssignEnvironment } from './assignFixtures';

/**
 * An Available assignment as delivered: the run document in state `completed` with its approved budget and
 * nothing spent (what the executor leaves behind for Available), written directly so claim tests do not
 * depend on a delivery.
 */
export async function createAvailableRun(
  env: AssignEnvironment,
  input: { token: VppToken; book: EBook; groups: Array<{ groupId: string; groupName: string }>; budget: number; tenantId?: string },
): Promise<AssignmentRun> {
  const approvalId = randomUUID();
  const now = new Date().toISOString();
  return env.runs.create({
    id: runId(approvalId),
    tokenId: input.token.id,
    tenantId: input.tenantId ?? ASSIGN_TENANT,
    approvalId,
    adamId: input.book.adamId,
    pricingParam: input.book.pricingParam,
    bookTitle: input.book.title,
    installIntent: 'available',
    requestedBy: alexActor,
    state: 'completed',
    budget: input.budget,
    spent: 0,
    groups: input.groups.map((g) => ({
      assignmentId: assignmentId(input.book.adamId, input.book.pricingParam, g.groupId),
      groupId: g.groupId,
      groupName: g.groupName,
      done: true,
      counts: { ...ZERO_COUNTS },
    })),
    batchesCompleted: 1,
    totals: { ...ZERO_COUNTS },
    failureReasons: [],
    failedUsers: [],
    invitedUsers: [],
    startedDateTime: now,
    finishedDateTime: now,
    createdDateTime: now,
    lastModifiedDateTime: now,
  });
}

/** Records what members are told, as the bot's MemberNotices would (once per member, run and kind). */
export class RecordingNotices implements MemberNotices {
  readonly told: Array<{ kind: 'licensed' | 'invited' | 'offered'; runId: string; member: string; invitationUrl?: string }> = [];

  async licensed(run: MemberNoticeRun, members: readonly NoticeMember[]): Promise<void> {
    for (const m of members) this.told.push({ kind: 'licensed', runId: run.runId, member: m.clientUserId });
  }

  async invited(run: MemberNoticeRun, members: ReadonlyArray<NoticeMember & { invitationUrl: string }>): Promise<void> {
    for (const m of members) this.told.push({ kind: 'invited', runId: run.runId, member: m.clientUserId, invitationUrl: m.invitationUrl });
  }

  async offered(run: MemberNoticeRun, members: readonly NoticeMember[]): Promise<void> {
    for (const m of members) this.told.push({ kind: 'offered', runId: run.runId, member: m.clientUserId });
  }
}

/** A claim service over the environment, with approvals whose approved top-ups go to it (as the bot wires them). */
export function claimServices(
  env: AssignEnvironment,
  options: Partial<BookClaimServiceOptions> = {},
): { claims: BookClaimService; approvals: ApprovalService; notices: RecordingNotices; topUpsAsked: number[] } {
  const notices = new RecordingNotices();
  const late: { claims?: BookClaimService } = {};
  const approvals = new ApprovalService({
    store: env.store,
    runs: env.runs,
    approvers: new ApproverDirectory({ approverUserIds: [ALEX, MEGAN] }),
    executor: { start: () => undefined },
    topUps: { topUpApproved: (tokenId, id) => late.claims?.topUpApproved(tokenId, id) },
    logger: silentLogger(),
  });
  const topUpsAsked: number[] = [];
  const claims = new BookClaimService({
    store: env.store,
    runs: env.runs,
    directory: env.directory,
    clients: env.clients,
    topUps: {
      requestTopUp: async (input) => {
        const asked = await approvals.requestTopUp(input);
        if (asked.outcome === 'requested') topUpsAsked.push(input.count);
        return asked;
      },
    },
    notices,
    logger: silentLogger(),
    wait: { intervalMs: 5 },
    ...options,
  });
  late.claims = claims;
  return { claims, approvals, notices, topUpsAsked };
}
