import type { Actor } from '../store/entities/common';
import type { AssignmentRun } from '../store/repositories/AssignmentRunRepository';
import type { EBook } from '../store/entities/eBook';
import type { VppToken } from '../store/entities/vppToken';
import type { SyncOutcome } from '../sync/types';
import type { SyncRequest } from '../sync/SyncEngine';
import type { RunReconciliation } from '../assignments/runReconciliation';
import type { BookStatus } from '../assignments/BookStatusService';
import type { AssignmentPreview } from '../assignments/assignmentPreview';
import type { DirectoryGroup } from '../directory/GraphDirectory';
import type { TokenOwnership } from '../apple/AppleBooksClient';
import type { Secret } from '../secrets/Secret';

/**
 * Who holds the organisation's VPP tokens and spends its licenses (`VPP_BACKEND`):
 * - `apple`: the bot itself is the content manager: it claims each token at Apple and licenses users one by one;
 * - `intune`: Microsoft Intune holds the tokens; the bot works through Graph's `deviceAppManagement` and
 *   assigns books to groups there, so Required books install on managed devices.
 * Dialogs, cards, approvals, budgets, notifications and the store are the same in both; what differs sits
 * behind the interfaces below, each with an Apple adapter (the services of `services/assignments`,
 * `services/sync`, `services/tokens`) and an Intune adapter (`services/intune`).
 */
export type BackendKind = 'apple' | 'intune';

/** An uploaded token's Apple location, as Apple's client config names it (read-only: a read takes the token from nobody). */
export interface TokenLocation {
  tenantId: string;
  organizationName: string;
  locationId?: string | undefined;
  locationName: string;
}

/** Where the token lives after a take or a renewal: what its record keeps (see vppToken.ts) and what the holder said of it. */
export interface HeldToken {
  /** The id the token's record is stored under. */
  tokenId: string;
  /** Apple mode: the token, encrypted and bound to its record. */
  encryptedToken?: VppToken['encryptedToken'];
  /** Intune mode: Intune's vppToken id and the file's fingerprint (never the token). */
  intuneTokenId?: string | undefined;
  fingerprint?: string | undefined;
  /** What the holder reported of the token right away (Intune checks it with Apple on create and update). */
  reported?: Partial<Pick<VppToken, 'state' | 'organizationName' | 'expirationDateTime' | 'countryOrRegion' | 'appleId' | 'locationName'>> | undefined;
}

export interface TakeTokenInput extends TokenLocation {
  /** The id the record gets unless the holder names its own (the Apple ciphertext is bound to it). */
  proposedTokenId: string;
  secret: Secret;
  appleId: string;
  accountType: VppToken['accountType'];
  displayName: string;
  /** The admin explicitly agreed to take the token from the MDM `takeFrom` named. */
  takeOver: boolean;
}

/**
 * Where a token lives besides our store: taking it in on save, replacing its file on renewal, and letting it
 * go on removal, with the few upload checks only the holder can make. The checks before (file, limits,
 * duplicate location in the store, same location on renewal) are the token service's, the same in both modes.
 * `AppleTokenCustody` (the bot claims the token and keeps it encrypted) and `IntuneTokenCustody` (Intune holds
 * it, through Graph; the bot keeps no copy) implement it.
 */
export interface TokenCustody {
  readonly kind: BackendKind;
  /** Who manages a saved token, as chat names it ("VPP Books took control of it from …"). */
  readonly holderName: string;
  /** Refuses a token the holder already has for this location (a UserFacingError); checked on inspection and again on save. */
  refuseHeld(location: TokenLocation): Promise<void>;
  /**
   * The MDM the admin must explicitly agree to take the token from, given who Apple says manages it now;
   * throws a UserFacingError when the holder itself already manages it (Intune mode: Intune).
   */
  takeFrom(ownership: TokenOwnership): string | undefined;
  /** On save: the holder takes the token. */
  take(input: TakeTokenInput): Promise<HeldToken>;
  /** The MDM the admin must agree to take the token from on renewal, given who Apple says manages it now. */
  renewalTakesFrom?(token: VppToken, ownership: TokenOwnership): string | undefined;
  /**
   * On renewal, after the token service checked the file is for the same location: the holder gets the new file.
   * `takeOver`: the admin agreed to take the token from the MDM `renewalTakesFrom` named.
   */
  renew(token: VppToken, file: { secret: Secret; ownership: TokenOwnership; takeOver?: boolean }): Promise<HeldToken>;
  /** On removal: the holder lets the token go (a token it no longer has is no error). */
  release(token: VppToken): Promise<void>;
}

/** One token's sync with whoever holds it; the outcome is what the result card and the notices read. */
export interface TokenSyncer {
  syncToken(tenantId: string, tokenId: string, request: SyncRequest): Promise<SyncOutcome>;
}

/** A book's licenses free now, read afresh for that one book at the moment of approving; undefined when unlimited. */
export interface FreshLicenseCounts {
  available(book: { tenantId: string; tokenId: string; adamId: string; pricingParam: string }): Promise<number | undefined>;
}

/** The assign flow's preview: group sizes, who holds the book already, licenses needed against free. */
export interface AssignmentPreviewer {
  preview(input: { token: VppToken; book: EBook; groups: readonly DirectoryGroup[]; installIntent: 'required' | 'available'; devices?: ReadonlyMap<string, number> }): Promise<AssignmentPreview>;
}

/** Delivers approved assignment runs, survives restarts, and pauses/resumes on outages. */
export interface AssignmentDelivery {
  /** Starts (or goes on with) a run in the background; idempotent. */
  start(tokenId: string, runId: string): void;
  findRun(tokenId: string, runId: string): Promise<AssignmentRun | undefined>;
  interruptedRuns(tenantId: string): Promise<AssignmentRun[]>;
  /** Picks up runs a previous process left half-way; the number picked up. */
  resumeAll(): Promise<number>;
  resume(tokenId: string, runId: string, by?: Actor): Promise<boolean>;
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Keeps delivered assignments within their approved budget as groups change (top-ups through approvals). */
export interface StandingAssignments {
  reconcileToken(tokenId: string, book?: { adamId: string; pricingParam: string }): Promise<RunReconciliation[]>;
  afterSync(tokenId: string): void;
  afterDelivery(tokenId: string, runId: string): void;
  topUpApproved(tokenId: string, runId: string): void;
  /**
   * A top-up was refused: in Intune mode the assignment's groups are taken off the book in Intune at once
   * (Intune would go on licensing newcomers); Apple mode needs nothing (nobody gets a license beyond the budget).
   */
  topUpDeclined?(tokenId: string, runId: string): void;
  idle(): Promise<void>;
}

/** `status <book>`: per group, intent, who got it, who failed and why, and the budget. */
export interface BookMonitor {
  status(token: VppToken, book: EBook): Promise<BookStatus>;
}
