import type { DirectoryUser } from '../directory/GraphDirectory';
import type { AssignmentRun } from '../store/repositories/AssignmentRunRepository';

/** The directory reads claims need (GraphDirectory): the member's groups, and their own record. */
export interface ClaimDirectory {
  /** Which of `groupIds` the user is in, transitively (Graph's checkMemberGroups, 20 ids a call). */
  checkMemberGroups(userObjectId: string, groupIds: readonly string[]): Promise<string[]>;
  usersByIds(ids: readonly string[]): Promise<DirectoryUser[]>;
}

/** The member asking, as Teams names them (never from card data). */
export interface ClaimingMember {
  aadObjectId: string;
  displayName: string;
  mail?: string | undefined;
  managedAppleId?: string | undefined;
}

/** Which book a claim is about, for the answer's wording. */
export interface ClaimedBook {
  tokenId: string;
  runId: string;
  adamId: string;
  pricingParam: string;
  title: string;
}

export type ClaimOutcome =
  /** Apple associated the book; with an invitation URL when the member must still join the organisation's VPP. */
  | { outcome: 'licensed'; book: ClaimedBook; invitationUrl?: string | undefined }
  | { outcome: 'alreadyYours'; book: ClaimedBook; invitationUrl?: string | undefined }
  /** No license left in the approved budget: the claim waits, and the admins were asked for more (or could not be). */
  | { outcome: 'budgetUsedUp'; book: ClaimedBook; topUp: 'asked' | 'notAsked'; problem?: string | undefined }
  /** A license is reserved for them; Apple is still working (or not answering): they are told when it is theirs. */
  | { outcome: 'onItsWay'; book: ClaimedBook }
  /** Apple refused; the license went back to the budget. */
  | { outcome: 'refused'; book: ClaimedBook; reason: string }
  | { outcome: 'notInGroup'; book: ClaimedBook }
  | { outcome: 'notAvailable' };

/** One book in a member's list. */
export interface MemberBook {
  tokenId: string;
  adamId: string;
  pricingParam: string;
  title: string;
  author?: string | undefined;
  coverUrl?: string | undefined;
  /** The Available assignment a Get click claims from (offered books only). */
  runId?: string | undefined;
  /**
   * offered: Get it; waiting: asked, the admins were asked for more licenses; onItsWay: reserved, Apple
   * still working; yours: theirs; joinVpp: theirs once they accept the invitation.
   */
  status: 'offered' | 'waiting' | 'onItsWay' | 'yours' | 'joinVpp';
  invitationUrl?: string | undefined;
}

export interface MemberBooks {
  offered: MemberBook[];
  yours: MemberBook[];
}

/**
 * A run members may claim from: an Available assignment with an approved budget, delivered once (the
 * members were told); a later reconciliation pass over it (newcomers being told) keeps it claimable.
 * AssignmentRunRepository.listClaimable reads by the same rule as a Cosmos filter.
 */
export function isClaimable(run: AssignmentRun): boolean {
  if (run.installIntent !== 'available' || run.budget === undefined) return false;
  if (run.state === 'completed') return true;
  return (run.pass ?? 0) > 0 && (run.state === 'approved' || run.state === 'running' || run.state === 'interrupted');
}

export function claimedBook(run: AssignmentRun): ClaimedBook {
  return { tokenId: run.tokenId, runId: run.id, adamId: run.adamId, pricingParam: run.pricingParam, title: run.bookTitle };
}

