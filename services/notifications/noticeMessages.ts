import type { VppToken } from '../store/entities/vppToken';
import type { LowLicenseBook, SyncHistoryEntry } from '../sync/types';
import type { NotificationMessage } from './ProactiveSender';

/** One token's sync result as a chat is told it: a stored result (or a fresh outcome) with its token. */
export interface SyncResultView {
  tokenId: string;
  tokenName: string;
  status: 'completed' | 'failed' | 'skipped';
  books: number;
  licenses: { total: number; used: number; available: number };
  changes: { booksAdded: number; booksUpdated: number; booksRemoved: number; usersChanged: number; assignmentsChanged: number };
  durationMs: number;
  error?: { message: string } | undefined;
  /** Books this sync saw fall to the low-license threshold: the result is where the admin who asked hears of them. */
  lowLicenseBooks: ReadonlyArray<{ title: string; available: number; total: number }>;
  /** The token's recent syncs, oldest first, this one included (absent where it could not be read). */
  history?: readonly SyncHistoryEntry[] | undefined;
}

/**
 * How each admin notice reads in chat, as text and card. The notifiers decide what is due, when and for
 * whom; the wording and the cards come from here, supplied by the bot (cards/notificationMessages.ts),
 * so services build no cards. A port like MemberNotices: the data in, a message to hand the outbox out.
 */
export interface NoticeMessages {
  expiring(token: VppToken, daysLeft: number): NotificationMessage;
  expired(token: VppToken): NotificationMessage;
  syncFailed(token: VppToken, escalation: boolean): NotificationMessage;
  externalMdm(token: VppToken): NotificationMessage;
  /** Another token already serves the token's Apple location (Intune's duplicateLocationId), so it is not synced. */
  duplicateLocation(token: VppToken): NotificationMessage;
  /** Books a scheduled sync saw running low (a sync asked for in chat lists them in its result instead). */
  lowLicenses(token: VppToken, books: readonly LowLicenseBook[]): NotificationMessage;
  /** One token's sync, for the chat that asked for it. */
  syncResult(outcome: SyncResultView): NotificationMessage;
  /** A sync of several tokens ("sync all"), as one message. */
  syncSummary(results: readonly SyncResultView[]): NotificationMessage;
}
