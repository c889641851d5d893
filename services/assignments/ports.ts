import type { AppleBooksClient } from '../apple/AppleBooksClient';
import type { TokenCipher } from '../crypto/TokenCipher';
import type { DirectoryGroup, DirectoryUser, GroupClassification } from '../directory/GraphDirectory';
import { heldEncryptedToken, tokenCipherContext, type VppToken } from '../store/entities/vppToken';
import type { AppleClientFactory } from '../tokens/AppleClientFactory';

/** The slice of the directory (GraphDirectory) assignments need; tests may pass the real one or a fake. */
export interface AssignmentDirectory {
  searchGroups(text: string, options?: { top?: number }): Promise<DirectoryGroup[]>;
  findGroupsByPrefix(prefix: string, options?: { top?: number }): Promise<DirectoryGroup[]>;
  classifyGroup(group: string | DirectoryGroup): Promise<DirectoryGroup & { classification: GroupClassification }>;
  userMemberPages(groupId: string, options?: { pageSize?: number }): AsyncGenerator<DirectoryUser[], void, undefined>;
  /** Users by object id (unknown ids left out): who a reconciliation pass licenses. */
  usersByIds(ids: readonly string[]): Promise<DirectoryUser[]>;
}

/**
 * An Apple client for a stored token: decrypts it (bound to its record) and hands it to the factory. A record
 * Intune holds has no token to decrypt: that throws a UserFacingError saying so (`token_not_held`).
 */
export type AppleClientProvider = (token: VppToken) => AppleBooksClient;

export function appleClientProvider(cipher: TokenCipher, factory: AppleClientFactory): AppleClientProvider {
  return (token) => factory.forToken(cipher.decrypt(heldEncryptedToken(token), tokenCipherContext(token)));
}

/**
 * Who holds a book at Apple now (its assignments, read page by page), optionally only those `keep`
 * accepts, so a large book's holders need not all be held in memory.
 */
export async function bookHolders(client: AppleBooksClient, book: { adamId: string; pricingParam: string }, keep: (clientUserId: string) => boolean = () => true): Promise<Set<string>> {
  const holders = new Set<string>();
  for await (const page of client.assignmentPages({ adamId: book.adamId, pricingParam: book.pricingParam })) {
    for (const a of page.assignments) if (a.pricingParam === book.pricingParam && a.clientUserId && keep(a.clientUserId)) holders.add(a.clientUserId);
  }
  return holders;
}

/** Every transitive user member once, sorted by id, so batches (and the resume cursor) are stable. */
export async function listMembersSorted(directory: AssignmentDirectory, groupId: string): Promise<DirectoryUser[]> {
  const byId = new Map<string, DirectoryUser>();
  for await (const page of directory.userMemberPages(groupId)) for (const user of page) byId.set(user.id, user);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
