import type { Store } from '../store/Store';
import type { EBook } from '../store/entities/eBook';
import type { EBookAssignment } from '../store/entities/assignment';
import type { VppToken } from '../store/entities/vppToken';
import { reservedBy, type AssignmentRunRepository, type RunCounts } from '../store/repositories/AssignmentRunRepository';
import type { EBookInstallSummary, InstallIntent } from '../intune/IntuneApi';
import { BookSearch } from './bookSearch';

interface GroupStatus {
  /** The Entra group's object id. */
  groupId: string;
  groupName: string;
  installIntent: 'required' | 'available';
  /** `paused`: its run waits for Apple to answer again (it resumes by itself, or on **resume**). */
  status: EBookAssignment['status'] | 'paused';
  counts: RunCounts;
  reasons: Array<{ code: string; message: string; count: number }>;
  /** The first users Apple refused, each with Apple's reason (the run keeps up to 50). */
  failedUsers: Array<{ displayName: string; code: string; reason: string }>;
  /** The licenses its request approved, spent so far, left, and members left out once they were used up. */
  budget?: { approved: number; spent: number; left: number; leftOut: number } | undefined;
  /**
   * What the intent did. Required: licensed, invited and not joined yet, licensed later once they joined.
   * Available: told it is there for them, and who got it (the licenses their assignment spent).
   */
  intent:
    | { kind: 'required'; licensed: number; invitedNotJoined: number; licensedAfterJoining: number }
    | { kind: 'available'; offered: number; gotIt: number };
  /** Members in the group now (Graph's transitive user count), when the directory answered. */
  members?: number | undefined;
  /** The standing assignment: who joined and waits for a top-up, who left, and the top-up asked for. */
  standing?:
    | {
        joined: number;
        waiting: number;
        left: number;
        leftNames: string[];
        topUp?: { count: number; state: 'pending' | 'approved' | 'declined' } | undefined;
        problem?: string | undefined;
        lastReconciledDateTime?: string | undefined;
      }
    | undefined;
  lastError?: string | undefined;
  /** Intune mode: when its groups were taken off the book in Intune because a top-up was refused. */
  withdrawnFromIntune?: string | undefined;
  lastModifiedDateTime: string;
}

/** Who an assignment in Intune is for; the group's name when the bot or the directory knows it. */
export type IntuneTarget =
  | { kind: 'group' | 'excludedGroup'; groupId: string; groupName?: string | undefined }
  | { kind: 'allUsers' | 'allDevices' }
  /** A target kind the bot does not know, by Graph's type name without its namespace. */
  | { kind: 'other'; type: string };

/** A failed install on one device, as Intune reports it. */
export interface FailedDevice {
  deviceName: string;
  userName?: string | undefined;
  /** Intune's error code, a string as Graph gives it. */
  errorCode?: string | undefined;
}

/** Intune mode: the book as Intune holds it (services/intune/IntuneBookMonitor). */
export interface IntuneBookState {
  /** Every assignment the book has in Intune; `byBot` is false for one made or changed in Intune itself. */
  assignments: Array<{ target: IntuneTarget; installIntent: InstallIntent; byBot: boolean }>;
  /** Groups the bot delivered the book to that Intune no longer assigns it to (not those the bot withdrew after a refused top-up). */
  missing: string[];
  /** Devices and users installed, failed and not installed; undefined when Intune did not answer. */
  summary?: EBookInstallSummary | undefined;
  /** The first failed devices read (ten at most). */
  failedDevices: FailedDevice[];
  /** Failed devices among those read. */
  failedDeviceCount: number;
  /** Device states read; all of them unless `complete` is false (the read stops after a bounded number of pages). */
  devicesRead: number;
  complete: boolean;
  /** What Intune did not answer, in chat words; the rest of the status stands without it. */
  problems: string[];
}

export interface BookStatus {
  token: VppToken;
  book: EBook;
  groups: GroupStatus[];
  /** Licenses held back by requests waiting for approval or under way. */
  reserved: number;
  /** Intune mode only: the book's assignments and install state in Intune. */
  intune?: IntuneBookState | undefined;
}

/**
 * Assignment monitoring per book and group, as Intune's device/user install status: assigned, pending
 * invitation, failed with reasons, and the intent. Reads the assignments and their latest runs. This is
 * Apple mode's BookMonitor (services/backend/ports.ts); Intune mode's (IntuneBookMonitor) adds Intune's
 * install state to what this reads from the store.
 */
export class BookStatusService {
  private readonly books: BookSearch;

  constructor(
    private readonly store: Store,
    private readonly runs: AssignmentRunRepository,
    /** A group's user members now; when Graph fails the card leaves members out. */
    private readonly groupUserCount: (groupId: string) => Promise<number>,
  ) {
    this.books = new BookSearch(store);
  }

  async find(tenantId: string, text: string): Promise<Array<{ token: VppToken; book: EBook }>> {
    return this.books.find(tenantId, text);
  }

  async status(token: VppToken, book: EBook): Promise<BookStatus> {
    const assignments = await this.store.assignments.listByBook(token.id, book.adamId, book.pricingParam);
    const runs = await this.runs.listByBook(token.id, book.adamId, book.pricingParam);
    const standing = new Map((await this.store.standing.listByBook(token.id, book.adamId, book.pricingParam)).map((s) => [s.runId, s]));
    const members = await Promise.all(assignments.map((a) => this.membersOf(a.targetGroupId)));
    const groups = assignments.map((a, index): GroupStatus => {
      // The newest run that delivered to this group carries its reasons.
      const run = runs.find((r) => r.groups.some((g) => g.assignmentId === a.id) && r.state !== 'awaitingApproval' && r.state !== 'cancelled');
      const runGroup = run?.groups.find((g) => g.assignmentId === a.id);
      const counts: RunCounts = a.results
        ? { processed: a.results.targetedUsers, licensed: a.results.licensed, awaitingInvitation: a.results.awaitingInvitation, failed: a.results.failed }
        : (runGroup?.counts ?? { processed: 0, licensed: 0, awaitingInvitation: 0, failed: 0 });
      const reasons = run && run.groups.length === 1 ? run.failureReasons : (run?.failureReasons ?? []).filter(() => counts.failed > 0);
      const reasonText = new Map((run?.failureReasons ?? []).map((r) => [r.code, r.message]));
      const failedUsers = (run?.failedUsers ?? [])
        .filter((u) => run?.groups.length === 1 || u.groupId === runGroup?.groupId)
        .map((u) => ({ displayName: u.displayName, code: u.code, reason: reasonText.get(u.code) ?? u.code }));
      const paused = run?.state === 'interrupted' && runGroup !== undefined && !runGroup.done;
      const standingGroup = run ? standing.get(run.id)?.groups.find((g) => g.groupId === a.targetGroupId) : undefined;
      const standingDoc = run ? standing.get(run.id) : undefined;
      return {
        groupId: a.targetGroupId,
        groupName: a.targetGroupName,
        installIntent: a.installIntent,
        status: paused ? 'paused' : a.status,
        counts,
        reasons,
        failedUsers,
        budget:
          run?.budget === undefined
            ? undefined
            : {
                approved: run.budget,
                spent: run.spent ?? 0,
                left: Math.max(0, run.budget - (run.spent ?? 0)),
                // Once reconciliation looked, those left out are counted among the waiting instead.
                leftOut: standingGroup ? 0 : (run.overBudget ?? 0),
              },
        members: members[index],
        intent:
          a.installIntent === 'available'
            ? { kind: 'available', offered: runGroup?.counts.offered ?? 0, gotIt: run?.spent ?? 0 }
            : {
                kind: 'required',
                licensed: counts.licensed,
                invitedNotJoined: standingGroup?.invited?.length ?? counts.awaitingInvitation,
                licensedAfterJoining: standingGroup?.licensedAfterJoining ?? 0,
              },
        standing: standingGroup && {
          joined: standingGroup.joined,
          waiting: standingGroup.waiting.length,
          left: standingGroup.left,
          leftNames: standingGroup.leftUsers.map((u) => u.displayName),
          topUp: run?.topUp && { count: run.topUp.count, state: run.topUp.state },
          problem: standingDoc?.topUpProblem,
          lastReconciledDateTime: standingDoc?.lastReconciledDateTime,
        },
        lastError: paused ? run.lastError?.message : a.lastError?.message,
        withdrawnFromIntune: run?.withdrawnFromIntune,
        lastModifiedDateTime: a.lastModifiedDateTime,
      };
    });
    return { token, book, groups, reserved: runs.reduce((sum, r) => sum + reservedBy(r), 0) };
  }

  private async membersOf(groupId: string): Promise<number | undefined> {
    try {
      return await this.groupUserCount(groupId);
    } catch {
      // The member count is a courtesy: the status answers without it.
      return undefined;
    }
  }
}
