import type { AppleBooksClient } from '../apple/AppleBooksClient';
import type { Store } from '../store/Store';
import type { PricingParam } from '../store/entities/common';
import type { AssignmentRun } from '../store/repositories/AssignmentRunRepository';
import type { MemberNoticeRun } from './memberNotices';
import type { RunIdentity } from './reporting';

/** Who asked and for what: how reports and notices name a run. */
export function runIdentity(run: AssignmentRun): RunIdentity {
  return {
    ...(run.pass ? { pass: run.pass } : {}),
    runId: run.id,
    tokenId: run.tokenId,
    tenantId: run.tenantId,
    approvalId: run.approvalId,
    requestedBy: run.requestedBy,
    bookTitle: run.bookTitle,
    installIntent: run.installIntent,
    groupNames: run.groups.map((g) => g.groupName),
  };
}

/** A run as member notices name it: its identity and the book. */
export function noticeRunOf(run: AssignmentRun): MemberNoticeRun {
  return { ...runIdentity(run), adamId: run.adamId, pricingParam: run.pricingParam };
}

/**
 * A book's license counts, read afresh from Apple for that one book: after licenses were spent, `status`,
 * `status <book>` and `books` show it instead of the counts of the last sync.
 */
export async function refreshBookCounts(store: Store, client: AppleBooksClient, book: { tokenId: string; adamId: string; pricingParam: PricingParam }, now: Date): Promise<void> {
  const asset = await client.getAsset({ adamId: book.adamId, pricingParam: book.pricingParam });
  const stored = await store.books.get(book.tokenId, book.adamId, book.pricingParam);
  if (!asset || !stored) return;
  await store.books.upsertIfChanged({
    ...stored,
    totalLicenseCount: Math.max(0, asset.totalCount),
    usedLicenseCount: Math.max(0, asset.assignedCount),
    availableLicenseCount: Math.max(0, asset.availableCount),
    retiredLicenseCount: Math.max(0, asset.retiredCount),
    lastModifiedDateTime: now.toISOString(),
  });
}
