import type { AppleBooksClient, AsyncOperationResult, UserRequest, VppUser as AppleVppUser } from '../apple/AppleBooksClient';
import { validEmail } from '../common/email';
import type { DirectoryUser } from '../directory/GraphDirectory';
import type { VppUser } from '../store/entities/vppUser';

/** Apple's "user already exists": the member is there, which is all a claim needs. */
export const USER_EXISTS = 9716;
/** Apple's "unknown event": an event id recorded before a restart that Apple no longer knows. */
export const UNKNOWN_EVENT = 9708;

/** A book at Apple: the pair Apple names an asset by. */
export interface AssetRef {
  adamId: string;
  pricingParam: string;
}

/** Why Apple did not give a member the book, in words for the member (not the admin's Apple text). */
export interface ClaimFailure {
  code: string;
  message: string;
}

/** As AssignmentExecutor creates users: the Managed Apple Account when the directory has one, else the e-mail for the invitation. */
export function claimUserRequest(user: Pick<DirectoryUser, 'id' | 'mail' | 'managedAppleId'>): UserRequest {
  const request: UserRequest = { clientUserId: user.id };
  if (user.managedAppleId) request.managedAppleId = user.managedAppleId;
  else if (validEmail(user.mail)) request.email = user.mail;
  return request;
}

/** Does Apple hold the book for this member already (any assignment under this token)? One filtered read. */
export async function appleHolds(client: AppleBooksClient, asset: AssetRef, clientUserId: string): Promise<boolean> {
  for await (const page of client.assignmentPages({ adamId: asset.adamId, pricingParam: asset.pricingParam, clientUserId })) {
    if (page.assignments.some((a) => a.clientUserId === clientUserId && a.adamId === asset.adamId && a.pricingParam === asset.pricingParam)) return true;
  }
  return false;
}

/** Every book (adamId|pricingParam) Apple holds for this member under the token: one read, Required books included. */
export async function appleHoldings(client: AppleBooksClient, clientUserId: string): Promise<Set<string>> {
  const held = new Set<string>();
  for await (const page of client.assignmentPages({ clientUserId })) {
    for (const a of page.assignments) if (a.clientUserId === clientUserId) held.add(assetKey(a));
  }
  return held;
}

export function assetKey(asset: AssetRef): string {
  return `${asset.adamId}|${asset.pricingParam}`;
}

/** Apple's users versionId now: one page read, so the member's own entry (and invite code) is read since it. */
export async function currentUsersVersion(client: AppleBooksClient): Promise<string | undefined> {
  for await (const page of client.userPages({})) return page.versionId;
  return undefined;
}

/**
 * The member's entry among the users changed since `sinceVersionId` (invite codes are only in /users):
 * the active one, when Apple lists retired ones beside it.
 */
export async function readUserSince(client: AppleBooksClient, clientUserId: string, sinceVersionId: string | undefined): Promise<AppleVppUser | undefined> {
  let found: AppleVppUser | undefined;
  for await (const page of client.userPages({ sinceVersionId }, { onRestart: () => (found = undefined) })) {
    for (const user of page.users) {
      if (user.clientUserId !== clientUserId) continue;
      if (!found || found.status === 'Retired' || found.status === 'Deleted') found = user;
    }
  }
  return found;
}

export function storedStatus(status: AppleVppUser['status']): VppUser['status'] {
  if (status === 'Associated') return 'associated';
  if (status === 'Registered') return 'registered';
  return 'retired';
}

/** The failure of an associate (or create) outcome that concerns this member, if any. */
export function failureFor(result: AsyncOperationResult, clientUserId: string): ClaimFailure | undefined {
  const named = result.failures.find((f) => f.clientUserIds.includes(clientUserId));
  // An event that failed with nothing done failed for everyone in it, named or not.
  if (!named && !(result.status === 'FAILED' && result.numCompleted === 0)) return undefined;
  const errorNumber = (named ?? result.failures[0])?.errorNumber;
  return { code: errorNumber === undefined ? 'event_failed' : String(errorNumber), message: memberReason(errorNumber) };
}

/** What an Apple error number means for the member asking for a book. */
export function memberReason(errorNumber: number | undefined): string {
  switch (errorNumber) {
    case 9709:
      return 'your organisation has no licenses of this book left at Apple';
    case 9717:
      return 'Apple did not accept the e-mail address your account has';
    case 9609:
      return 'Apple could not find your Apple account for the organisation';
    default:
      return errorNumber ? `Apple refused it (error ${errorNumber})` : 'Apple could not complete it';
  }
}
