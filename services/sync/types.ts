import type { Actor } from '../store/entities/common';
import type { VppToken } from '../store/entities/vppToken';

export type SyncTrigger = 'scheduled' | 'manual' | 'tokenUpload';

type SyncPhase = 'config' | 'books' | 'users' | 'assignments' | 'saving';

/** Where a running sync is; long syncs report this so chat can say how far it got. */
export interface SyncProgress {
  tokenId: string;
  phase: SyncPhase;
  /** Items read so far in this phase (books, users or assignments). */
  done: number;
  elapsedMs: number;
}

export interface LicenseTotals {
  total: number;
  used: number;
  available: number;
}

export interface SyncChanges {
  booksAdded: number;
  booksUpdated: number;
  booksRemoved: number;
  usersChanged: number;
  assignmentsChanged: number;
}

/** A book whose available licenses fell to the low-license threshold during this sync. */
export interface LowLicenseBook {
  adamId: string;
  title: string;
  available: number;
  total: number;
}

export interface SyncFailure {
  /** Stable reason: Apple's "vpp_9621", "external_mdm", "token_not_syncable", "internal". */
  code: string;
  /** Admin text: what happened and what to do. */
  message: string;
}

/** What one sync of one token did; the chat's result card and the notifier read this. */
export interface SyncOutcome {
  tokenId: string;
  tenantId: string;
  tokenName: string;
  runId: string | undefined;
  /** skipped: the token is expired, revoked or held by another MDM, so nothing was asked of Apple. */
  status: 'completed' | 'failed' | 'skipped';
  trigger: SyncTrigger;
  startedBy?: Actor | undefined;
  books: number;
  licenses: LicenseTotals;
  changes: SyncChanges;
  /** Cosmos writes of synced data (books, users); bookkeeping (run record, token status) is not counted. */
  dataWrites: number;
  durationMs: number;
  error?: SyncFailure | undefined;
  /** The token as it stands after the sync (state, failures in a row, last error). */
  token: VppToken;
  lowLicenseBooks: LowLicenseBook[];
}

/** One finished sync of a token, as its history chart shows it. */
export interface SyncHistoryEntry {
  startedDateTime: string;
  durationMs: number;
  /** Books added or updated, users and licenses changed. */
  changes: number;
  status: 'completed' | 'failed';
}

export const NO_CHANGES: SyncChanges = { booksAdded: 0, booksUpdated: 0, booksRemoved: 0, usersChanged: 0, assignmentsChanged: 0 };
