import { validEmail } from '../common/email';
import { fallbackBook, type BookMetadata } from '../apple/BookMetadataClient';
import { isUnlimitedAsset, type Assignment, type Asset, type VppUser as AppleUser } from '../apple/schemas';
import type { PendingWrite, Versioned } from '../store/DocumentStore';
import { pricingParamSchema, type PricingParam } from '../store/entities/common';
import { eBookId, licenseTotals, type EBook } from '../store/entities/eBook';
import type { SyncRun } from '../store/entities/syncRun';
import type { VppToken } from '../store/entities/vppToken';
import type { VppUser } from '../store/entities/vppUser';
import { isLowOnLicenses, type LowLicenseThreshold } from './lowLicenses';
import type { LicenseTotals, LowLicenseBook, SyncChanges } from './types';

/*
 * The pure part of a sync: what Apple's answer means for the stored documents, and the counts of what
 * changed. SyncEngine reads from Apple and the store, calls these, and writes what they return; keeping
 * the decisions here lets them be tested table by table without a server.
 */

const APPLE_USER_STATUS: Readonly<Record<AppleUser['status'], VppUser['status']>> = {
  Registered: 'registered',
  Associated: 'associated',
  Retired: 'retired',
  Deleted: 'retired',
};

/** One of Apple's books the store can hold, with its stored version (undefined: new to the store). */
export interface CatalogueEntry {
  asset: Asset & { pricingParam: PricingParam };
  current: Versioned<EBook> | undefined;
}

export interface CatalogueMatch {
  entries: CatalogueEntry[];
  /** Books whose pricingParam the store does not know: skipped (and logged) rather than failing the sync. */
  skipped: Asset[];
  /** adamIds whose title to look up: titles rarely change, so only books new or still on the "Book <adamId>" stand-in. */
  lookup: string[];
}

/** Apple's books matched with the stored catalogue. */
export function matchCatalogue(assets: readonly Asset[], stored: ReadonlyMap<string, Versioned<EBook>>): CatalogueMatch {
  const entries: CatalogueEntry[] = [];
  const skipped: Asset[] = [];
  for (const asset of assets) {
    const pricing = pricingParamSchema.safeParse(asset.pricingParam);
    if (!pricing.success) {
      skipped.push(asset);
      continue;
    }
    entries.push({ asset: { ...asset, pricingParam: pricing.data }, current: stored.get(eBookId(asset.adamId, pricing.data)) });
  }
  const lookup = [...new Set(entries.filter((e) => !e.current?.value.metadataResolved).map((e) => e.asset.adamId))];
  return { entries, skipped, lookup };
}

export interface BookDiff {
  /** Every book Apple lists, as it is to be stored, with the version it replaces (null: new). */
  writes: PendingWrite<EBook>[];
  /** Stored books Apple no longer lists (moved to another location, say): the catalogue shows what can be assigned. */
  missing: Versioned<EBook>[];
  /** Books that fell to the threshold in this sync: a book already low is not reported again. */
  lowLicenseBooks: LowLicenseBook[];
}

/**
 * The books to store. `now` stamps new and rewritten books; a book that did not change comes out equal
 * to the stored one but for `lastModifiedDateTime`, which the store does not count as a change.
 */
export function diffBooks(
  token: Pick<VppToken, 'id' | 'tenantId'>,
  entries: readonly CatalogueEntry[],
  stored: ReadonlyMap<string, Versioned<EBook>>,
  metadata: ReadonlyMap<string, BookMetadata>,
  now: string,
  threshold: LowLicenseThreshold,
): BookDiff {
  const desired = entries.map(({ asset, current }): PendingWrite<EBook> => {
    const known = current?.value;
    const meta = known?.metadataResolved ? undefined : (metadata.get(asset.adamId) ?? fallbackBook(asset.adamId));
    const book: EBook = {
      id: eBookId(asset.adamId, asset.pricingParam),
      tokenId: token.id,
      tenantId: token.tenantId,
      adamId: asset.adamId,
      pricingParam: asset.pricingParam,
      title: meta ? meta.title : (known?.title ?? `Book ${asset.adamId}`),
      author: meta ? meta.author : known?.author,
      coverUrl: meta ? meta.coverUrl : known?.coverUrl,
      totalLicenseCount: Math.max(0, asset.totalCount),
      usedLicenseCount: Math.max(0, asset.assignedCount),
      availableLicenseCount: Math.max(0, asset.availableCount),
      retiredLicenseCount: Math.max(0, asset.retiredCount),
      ...(isUnlimitedAsset(asset) ? { unlimited: true } : {}),
      metadataResolved: meta ? meta.fromStore : true,
      createdDateTime: known?.createdDateTime ?? now,
      lastModifiedDateTime: now,
    };
    return { entity: book, current: current ?? null };
  });
  return diffCatalogue(desired, stored, threshold);
}

/**
 * Whoever holds the token, the books to store are what its holder now lists (each against its stored
 * version), the stored books it no longer lists, and the books that fell to the low-license threshold.
 */
export function diffCatalogue(desired: readonly PendingWrite<EBook>[], stored: ReadonlyMap<string, Versioned<EBook>>, threshold: LowLicenseThreshold): BookDiff {
  const lowLicenseBooks: LowLicenseBook[] = [];
  const seen = new Set<string>();
  for (const { entity: book, current } of desired) {
    seen.add(book.id);
    const known = current?.value;
    if (isLowOnLicenses(book, threshold) && !(known && isLowOnLicenses(known, threshold))) {
      lowLicenseBooks.push({ adamId: book.adamId, title: book.title, available: book.availableLicenseCount, total: book.totalLicenseCount });
    }
  }
  const missing = [...stored.values()].filter((doc) => !seen.has(doc.value.id));
  return { writes: [...desired], missing, lowLicenseBooks };
}

export interface WriteTally {
  added: number;
  updated: number;
  unchanged: number;
}

/** What a batch of conditional writes did: a write against a stored version updated it, one against none added. */
export function tallyWrites(writes: readonly PendingWrite<unknown>[], results: readonly { written: boolean }[]): WriteTally {
  const tally: WriteTally = { added: 0, updated: 0, unchanged: 0 };
  results.forEach((result, i) => {
    if (!result.written) tally.unchanged++;
    else if (writes[i]?.current) tally.updated++;
    else tally.added++;
  });
  return tally;
}

/** Apple keeps retired entries beside a user's active one: the active entry is the user's state. */
export function preferActive(current: AppleUser | undefined, next: AppleUser): AppleUser {
  if (current && current.status !== 'Retired' && next.status === 'Retired') return current;
  return next;
}

/** A stored user as Apple now reports them; what Apple leaves out (or sends malformed) is kept as stored. */
export function toStoredUser(stored: VppUser, apple: AppleUser, now: string): VppUser {
  const status = APPLE_USER_STATUS[apple.status];
  const email = validEmail(apple.email) ?? stored.email;
  return {
    ...stored,
    status,
    inviteCode: status === 'registered' ? (apple.inviteCode ?? stored.inviteCode) : undefined,
    email,
    managedAppleId: apple.managedAppleId ?? stored.managedAppleId,
    appleUserId: apple.userId ?? stored.appleUserId,
    lastModifiedDateTime: now,
  };
}

/** The bot's own users Apple reported, each against its stored version; users the store lacks are not the bot's. */
export function userWrites(reported: ReadonlyMap<string, AppleUser>, ours: ReadonlyMap<string, Versioned<VppUser>>, now: string): PendingWrite<VppUser>[] {
  const writes: PendingWrite<VppUser>[] = [];
  for (const [id, apple] of reported) {
    const stored = ours.get(id);
    if (stored) writes.push({ entity: toStoredUser(stored.value, apple, now), current: stored });
  }
  return writes;
}

/** One license of one of the bot's users, as a key; other MDMs' users and device assignments give none. */
export function ourAssignmentKey(assignment: Assignment, ours: ReadonlySet<string>): string | undefined {
  if (!assignment.clientUserId || !ours.has(assignment.clientUserId)) return undefined;
  return `${assignment.adamId}|${assignment.pricingParam}|${assignment.clientUserId}`;
}

export interface SyncSummary {
  books: number;
  unchanged: number;
  licenses: LicenseTotals;
  changes: SyncChanges;
  /** Writes of synced data: books added, updated and removed, and users changed (assignments are only counted). */
  dataWrites: number;
}

export function summarise(saved: readonly EBook[], books: WriteTally & { removed: number }, usersChanged: number, assignmentsChanged: number): SyncSummary {
  return {
    books: saved.length,
    unchanged: books.unchanged,
    licenses: licenseTotals(saved),
    changes: { booksAdded: books.added, booksUpdated: books.updated, booksRemoved: books.removed, usersChanged, assignmentsChanged },
    dataWrites: books.added + books.updated + books.removed + usersChanged,
  };
}

/** What the sync history records of a completed run. */
export function runCounts(summary: SyncSummary): SyncRun['counts'] {
  const { changes } = summary;
  return {
    booksAdded: changes.booksAdded,
    booksUpdated: changes.booksUpdated,
    booksUnchanged: summary.unchanged,
    usersChanged: changes.usersChanged,
    assignmentsChanged: changes.assignmentsChanged,
    writes: summary.dataWrites,
  };
}
