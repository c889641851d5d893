import { randomUUID } from 'node:crypto';
import type { Secret } from '../secrets/Secret';
import type { BookMetadata, BookStorefront } from '../apple/BookMetadataClient';
import type { AppleBooksClient } from '../apple/AppleBooksClient';
import type { Asset, AssignmentsPage, MdmInfo, VppUser as AppleUser } from '../apple/schemas';
import { VppError } from '../apple/VppError';
import type { TokenCipher } from '../crypto/TokenCipher';
import { escapeMarkdown } from '../common/chatText';
import { silentLogger, type Logger } from '../logging/logger';
import type { Actor, ErrorInfo } from '../store/entities/common';
import type { EBook } from '../store/entities/eBook';
import { heldEncryptedToken, tokenCipherContext, tokenNotHeldMessage, TOKEN_REMOVED_FROM_INTUNE, type VppToken } from '../store/entities/vppToken';
import type { Store } from '../store/Store';
import type { AppleClientFactory } from '../tokens/AppleClientFactory';
import { DEFAULT_LOW_LICENSE_THRESHOLD, type LowLicenseThreshold } from './lowLicenses';
import { diffBooks, matchCatalogue, ourAssignmentKey, preferActive, runCounts, summarise, tallyWrites, userWrites, type SyncSummary, type WriteTally } from './syncDiff';
import { NO_CHANGES, type LowLicenseBook, type SyncFailure, type SyncOutcome, type SyncProgress, type SyncTrigger } from './types';
import { WHERE_TOKENS_ARE_DOWNLOADED } from '../common/appleTerms';

/** Titles and authors from Apple's store lookup (BookMetadataClient); never throws. */
interface BookMetadataSource {
  /**
   * `token` goes with the lookup as Apple's `itvt` cookie: the catalogue answers per organisation, in the
   * organisation's store (client config `defaultPlatform`, `countryISO2ACode`).
   */
  getBooks(adamIds: readonly string[], token?: Secret, storefront?: BookStorefront): Promise<Map<string, BookMetadata>>;
}

export interface SyncEngineOptions {
  store: Store;
  cipher: TokenCipher;
  apple: AppleClientFactory;
  /** This bot's MDM identity: a token whose mdmInfo names someone else was taken over. */
  mdm: { id: string; name: string };
  metadata?: BookMetadataSource | undefined;
  lowLicenses?: LowLicenseThreshold | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
}

export interface SyncRequest {
  trigger: SyncTrigger;
  startedBy?: Actor | undefined;
  onProgress?: ((progress: SyncProgress) => void) | undefined;
  /** Aborted when this instance lost the token's lease: stop before writing anything more. */
  signal?: AbortSignal | undefined;
}

/** Apple errors that say the token itself is dead, and the state the token moves to. */
const TOKEN_STATE_FOR_ERROR: Readonly<Record<number, VppToken['state']>> = {
  9621: 'expired',
  9601: 'invalid',
  9622: 'invalid',
  9625: 'invalid',
  9722: 'invalid',
};

/**
 * Transactional batches (up to 100 documents each) in flight per token. A first sync writes a token's
 * whole catalogue and user list; one round trip per hundred documents instead of per document is what
 * makes 256 tokens × 2,200 documents a matter of minutes.
 */
const WRITE_BATCHES = 4;

/** Up to this many users, a first sync reads their licenses one user at a time instead of the whole organisation's. */
const PER_USER_ASSIGNMENT_READS = 25;

/** What a failed sync may change of the token besides its sync status: the holder's verdict on it. */
export type TokenVerdict = Partial<Pick<VppToken, 'state' | 'externalMdm' | 'organizationName' | 'expirationDateTime' | 'countryOrRegion' | 'appleId' | 'locationName'>>;

/** Thrown inside a run to end it as failed with an admin message and, maybe, a new token state. */
export class SyncStop extends Error {
  constructor(
    readonly failure: SyncFailure,
    readonly tokenChange?: TokenVerdict,
  ) {
    super(failure.message);
  }
}

/** Why a token is not synced, as chat Markdown (its name escaped). */
export function notSyncableReason(token: VppToken): SyncFailure | undefined {
  if (token.intuneTokenId) return notSyncableInIntune(token);
  const name = escapeMarkdown(token.displayName);
  switch (token.state) {
    case 'valid':
      return undefined;
    case 'expired':
      return { code: 'token_expired', message: `"${name}" has expired, so it is not synced. Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED} and type **renew ${name}**.` };
    case 'invalid':
      return { code: 'token_invalid', message: `Apple no longer accepts "${name}" (revoked or replaced), so it is not synced. Download the newest token from Apple and type **renew ${name}**.` };
    case 'assignedToExternalMDM':
      return {
        code: 'external_mdm',
        message: `"${name}" is now managed by ${token.externalMdm?.name ? escapeMarkdown(token.externalMdm.name) : 'another MDM'}, so it is not synced. Upload it again (type **upload token**) to take control back explicitly.`,
      };
    case 'duplicateLocation':
      return { code: 'duplicate_location', message: `"${name}" is for an Apple location another token already covers, so it is not synced. Remove one of the two.` };
  }
}

/** The same for a token Intune holds: the state is Intune's verdict, and the way back goes through Intune. */
function notSyncableInIntune(token: VppToken): SyncFailure | undefined {
  const name = escapeMarkdown(token.displayName);
  switch (token.state) {
    case 'valid':
      return undefined;
    case 'expired':
      return { code: 'token_expired', message: `"${name}" has expired, so it is not synced. Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED} and type **renew ${name}**: Intune gets the new file.` };
    case 'invalid':
      if (token.lastError?.code === TOKEN_REMOVED_FROM_INTUNE) return { code: TOKEN_REMOVED_FROM_INTUNE, message: token.lastError.message };
      return { code: 'token_invalid', message: `Intune reports that Apple no longer accepts "${name}" (revoked or replaced), so it is not synced. Download the newest token from Apple and type **renew ${name}**.` };
    case 'assignedToExternalMDM':
      return {
        code: 'external_mdm',
        message: `Intune reports that another MDM now manages "${name}", so it is not synced. To give it back to Intune, download its newest token ${WHERE_TOKENS_ARE_DOWNLOADED} and type **renew ${name}**: you see what taking control means and confirm it.`,
      };
    case 'duplicateLocation':
      return { code: 'duplicate_location', message: `Intune reports that "${name}" is for an Apple location another of its tokens already covers, so it is not synced. Keep using the token that serves that location (type **tokens** to see both); removing "${name}" would also delete it, its books and their assignments in Intune.` };
  }
}

/** Why an Apple-mode sync cannot use a token whose record holds no token (Intune holds it). */
function notHeldByBot(token: VppToken): SyncFailure | undefined {
  if (token.encryptedToken) return undefined;
  return { code: 'token_not_held', message: tokenNotHeldMessage(token) };
}

/** What a backend's run read and wrote, for the run record, the outcome and the token. */
export interface SyncRunResult extends SyncSummary {
  lowLicenseBooks: LowLicenseBook[];
  /** What a completed run writes on the token besides its sync status (Apple: the versions read; Intune: its view of the token). */
  tokenChange: (stored: VppToken) => Partial<VppToken>;
}

/** One backend's part of a sync; `recordedSync` does the rest. */
export interface SyncRunner {
  /** Why the token is not synced now (after a past expiry date has marked it expired). */
  blocked(token: VppToken): SyncFailure | undefined;
  run(token: VppToken, started: number): Promise<SyncRunResult>;
  /** A failure as the admin reads it, and what it says about the token. */
  stop(err: unknown, token: VppToken): SyncStop;
  /** Whether `stored` still holds the token the run used: a verdict on a since-renewed token is not applied. */
  holdsSameToken(stored: VppToken, used: VppToken): boolean;
}

/** The end of a run every backend shares: another instance took the token, or an error on the bot's side. */
export function genericStop(err: unknown, token: VppToken): SyncStop {
  if (err instanceof SyncStop) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new SyncStop({ code: 'lease_lost', message: `The sync of "${escapeMarkdown(token.displayName)}" stopped because another bot instance took it over; that instance finishes it.` });
  }
  return new SyncStop({ code: 'internal', message: `The sync of "${escapeMarkdown(token.displayName)}" stopped because of an error on the bot's side. It is tried again at the next scheduled sync; if it keeps failing, report it.` });
}

/**
 * A sync's bookkeeping, the same whoever holds the token: a past expiry date marks the token expired, a
 * token that cannot be synced is skipped, otherwise the run is recorded in the sync history (a run a dead
 * process left open is closed first) and the token gets its sync status, failures in a row and last error.
 */
export async function recordedSync(deps: { store: Store; now: () => Date }, tenantId: string, tokenId: string, request: SyncRequest, runner: SyncRunner): Promise<SyncOutcome> {
  const started = Date.now();
  const { store, now } = deps;
  const token = await store.tokens.get(tenantId, tokenId);
  if (!token) throw new Error(`token ${tokenId} not found in tenant ${tenantId}`);

  const base = { tokenId, tenantId, tokenName: token.displayName, trigger: request.trigger, startedBy: request.startedBy };
  const empty = { books: 0, licenses: { total: 0, used: 0, available: 0 }, changes: NO_CHANGES, dataWrites: 0, lowLicenseBooks: [] };

  let current = token;
  if (token.state === 'valid' && Date.parse(token.expirationDateTime) <= now().getTime()) {
    current = (await store.tokens.update(tenantId, tokenId, (t) => (t.state === 'valid' ? { ...t, state: 'expired' } : undefined)))?.value ?? token;
  }
  const blocked = runner.blocked(current);
  if (blocked) return { ...base, ...empty, runId: undefined, status: 'skipped', durationMs: Date.now() - started, error: blocked, token: current };

  const runId = randomUUID();
  await store.syncRuns.closeInterrupted(tokenId, now());
  await store.syncRuns.start({
    id: runId,
    tokenId,
    tenantId,
    trigger: request.trigger,
    startedBy: request.startedBy,
    startedDateTime: now().toISOString(),
    status: 'inProgress',
    counts: { booksAdded: 0, booksUpdated: 0, booksUnchanged: 0, usersChanged: 0, assignmentsChanged: 0, writes: 0 },
  });

  try {
    const result = await runner.run(current, started);
    const finishedDateTime = now().toISOString();
    await store.syncRuns.finish(tokenId, runId, {
      status: 'completed',
      finishedDateTime,
      counts: runCounts(result),
    });
    const updated = await store.tokens.update(tenantId, tokenId, (t) => ({
      ...t,
      ...result.tokenChange(t),
      lastSyncDateTime: finishedDateTime,
      lastSyncStatus: 'completed',
      consecutiveSyncFailures: 0,
      lastError: undefined,
    }));
    return {
      ...base,
      runId,
      status: 'completed',
      books: result.books,
      licenses: result.licenses,
      changes: result.changes,
      dataWrites: result.dataWrites,
      lowLicenseBooks: result.lowLicenseBooks,
      durationMs: Date.now() - started,
      token: updated?.value ?? current,
    };
  } catch (err) {
    const stop = runner.stop(err, current);
    const occurredDateTime = now().toISOString();
    const error: ErrorInfo = { code: stop.failure.code, message: stop.failure.message, occurredDateTime };
    await store.syncRuns.finish(tokenId, runId, { status: 'failed', finishedDateTime: occurredDateTime, error });
    const updated = await store.tokens.update(tenantId, tokenId, (t) => ({
      ...t,
      // A token renewed while this sync ran is a different token: the holder's verdict was not about it.
      ...(runner.holdsSameToken(t, current) ? stop.tokenChange : {}),
      lastSyncStatus: 'failed',
      consecutiveSyncFailures: t.consecutiveSyncFailures + 1,
      lastError: error,
    }));
    return { ...base, ...empty, runId, status: 'failed', error: stop.failure, durationMs: Date.now() - started, token: updated?.value ?? current };
  }
}

/**
 * Syncs one token with Apple: client config (ownership), books with license counts and titles, and
 * the bot's own VPP users and their licenses, incrementally after the first run. Everything is read
 * before anything is written, so a failure part way leaves the store as it was, and writes happen
 * only for documents whose content changed.
 */
export class SyncEngine {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly lowLicenses: LowLicenseThreshold;

  constructor(private readonly options: SyncEngineOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.lowLicenses = options.lowLicenses ?? DEFAULT_LOW_LICENSE_THRESHOLD;
  }

  syncToken(tenantId: string, tokenId: string, request: SyncRequest): Promise<SyncOutcome> {
    return recordedSync({ store: this.options.store, now: this.now }, tenantId, tokenId, request, {
      blocked: (token) => notSyncableReason(token) ?? notHeldByBot(token),
      run: async (token, started) => {
        const result = await this.run(token, request, started);
        return {
          ...result,
          tokenChange: (t) => ({
            assetsVersionId: result.versions.assets ?? t.assetsVersionId,
            usersVersionId: result.versions.users ?? t.usersVersionId,
            assignmentsVersionId: result.versions.assignments ?? t.assignmentsVersionId,
          }),
        };
      },
      stop: (err, token) => {
        if (!(err instanceof SyncStop) && !(err instanceof VppError)) this.logger.error({ err, tokenId }, 'sync failed unexpectedly');
        return this.toStop(err, token);
      },
      holdsSameToken: (stored, used) => this.holdsSameToken(stored, used),
    });
  }

  private toStop(err: unknown, token: VppToken): SyncStop {
    if (err instanceof VppError) {
      const state = err.errorNumber === undefined ? undefined : TOKEN_STATE_FOR_ERROR[err.errorNumber];
      return new SyncStop({ code: err.code, message: err.message }, state ? { state } : undefined);
    }
    return genericStop(err, token);
  }

  /**
   * Whether `stored` still holds the token `used` held. The ciphertext alone cannot tell: the key rotation
   * sweep re-encrypts a token without changing it, so a differing ciphertext is decrypted and compared.
   */
  private holdsSameToken(stored: VppToken, used: VppToken): boolean {
    if (!stored.encryptedToken || !used.encryptedToken) return false;
    if (stored.encryptedToken.ciphertext === used.encryptedToken.ciphertext) return true;
    try {
      return this.secretOf(stored).reveal() === this.secretOf(used).reveal();
    } catch {
      return false;
    }
  }

  private secretOf(token: VppToken): Secret {
    return this.options.cipher.decrypt(heldEncryptedToken(token), tokenCipherContext(token));
  }

  private async run(token: VppToken, request: SyncRequest, started: number) {
    const { store, mdm } = this.options;
    const signal = request.signal;
    const progress = (phase: SyncProgress['phase'], done: number) => request.onProgress?.({ tokenId: token.id, phase, done, elapsedMs: Date.now() - started });
    const secret = this.secretOf(token);
    const apple = this.options.apple.forToken(secret);

    progress('config', 0);
    const config = await apple.getClientConfig();
    this.stopIfTakenOver(config.mdmInfo?.id && config.mdmInfo.id !== mdm.id ? config.mdmInfo : undefined, token);

    // ---- read everything first ----
    const assets: Asset[] = [];
    let assetsVersion: string | undefined;
    const assetRead = {
      onRestart: () => {
        assets.length = 0;
        assetsVersion = undefined;
      },
    };
    for await (const page of apple.assetPages(assetRead)) {
      signal?.throwIfAborted();
      assetsVersion ??= page.versionId;
      assets.push(...page.assets.filter((a) => a.productType === 'Book'));
      progress('books', assets.length);
    }

    const ours = await store.vppUsers.listForSync(token.id);
    const appleUsers = new Map<string, AppleUser>();
    let usersVersion: string | undefined;
    let usersRead = 0;
    const userRead = {
      onRestart: () => {
        appleUsers.clear();
        usersVersion = undefined;
        usersRead = 0;
      },
    };
    // Retired users come back too (a retirement is a change); one id may have several retired entries besides its active one.
    for await (const page of apple.userPages({ sinceVersionId: token.usersVersionId }, userRead)) {
      signal?.throwIfAborted();
      usersVersion ??= page.versionId;
      usersRead += page.users.length;
      // Users other MDMs created share the organisation; only the bot's own are its business.
      for (const user of page.users) if (ours.has(user.clientUserId)) appleUsers.set(user.clientUserId, preferActive(appleUsers.get(user.clientUserId), user));
      progress('users', usersRead);
    }

    const assignments = await this.readAssignments(apple, token, new Set(ours.keys()), (read) => {
      signal?.throwIfAborted();
      progress('assignments', read);
    });
    this.stopIfTakenOver(apple.foreignMdm, token);
    // ---- then write what changed ----
    signal?.throwIfAborted();
    progress('saving', 0);
    const bookResult = await this.saveBooks(token, secret, assets, { platform: config.defaultPlatform, country: config.countryISO2ACode }, signal);
    const savedUsers = await store.vppUsers.upsertManyIfChanged(token.id, userWrites(appleUsers, ours, this.now().toISOString()), { concurrency: WRITE_BATCHES, signal });
    const usersChanged = savedUsers.filter((r) => r.written).length;
    return {
      ...summarise(bookResult.saved, bookResult, usersChanged, assignments.changed),
      lowLicenseBooks: bookResult.lowLicenseBooks,
      versions: { assets: assetsVersion, users: usersVersion, assignments: assignments.versionId },
    };
  }

  /** Ends the run when an answer named another MDM: its licenses and users are no longer ours to touch. */
  private stopIfTakenOver(other: MdmInfo | undefined, token: VppToken): void {
    if (!other) return;
    const name = other.name || 'another MDM';
    throw new SyncStop(
      {
        code: 'external_mdm',
        message: `Apple says ${escapeMarkdown(name)} now manages "${escapeMarkdown(token.displayName)}". The bot stopped syncing it so licenses and users are not fought over. To manage it here again, upload the token (type **upload token**) and confirm taking control.`,
      },
      { state: 'assignedToExternalMDM', externalMdm: { id: other.id, name } },
    );
  }

  /**
   * The licenses of the bot's own users that changed: since the stored version when there is one; on a
   * first sync, per user when the bot has few users (cheaper than reading every assignment of the
   * organisation), else one full read filtered to them. No users, no read.
   */
  private async readAssignments(apple: AppleBooksClient, token: VppToken, ours: ReadonlySet<string>, onPage: (read: number) => void): Promise<{ changed: number; versionId: string | undefined }> {
    if (ours.size === 0) return { changed: 0, versionId: token.assignmentsVersionId };
    const changed = new Set<string>();
    let versionId: string | undefined;
    let read = 0;
    const options = {
      onRestart: () => {
        changed.clear();
        versionId = undefined;
        read = 0;
      },
    };
    const visit = (page: AssignmentsPage): void => {
      versionId ??= page.versionId;
      read += page.assignments.length;
      for (const a of page.assignments) {
        const key = ourAssignmentKey(a, ours);
        if (key) changed.add(key);
      }
      onPage(read);
    };
    if (token.assignmentsVersionId === undefined && ours.size <= PER_USER_ASSIGNMENT_READS) {
      // Each user's read is its own consistent read; the first one's version is the base for the next sync.
      for (const clientUserId of [...ours].sort()) {
        for await (const page of apple.assignmentPages({ clientUserId }, options)) visit(page);
        options.onRestart = () => undefined;
      }
      return { changed: changed.size, versionId };
    }
    for await (const page of apple.assignmentPages({ sinceVersionId: token.assignmentsVersionId }, options)) visit(page);
    return { changed: changed.size, versionId };
  }

  /** Writes Apple's catalogue: titles looked up where needed, then only what changed, then books Apple dropped removed. */
  private async saveBooks(
    token: VppToken,
    secret: Secret,
    assets: Asset[],
    storefront: BookStorefront,
    signal: AbortSignal | undefined,
  ): Promise<WriteTally & { saved: EBook[]; removed: number; lowLicenseBooks: LowLicenseBook[] }> {
    const { store } = this.options;
    const stored = await store.books.listForSync(token.id);
    const { entries, skipped, lookup } = matchCatalogue(assets, stored);
    for (const asset of skipped) this.logger.warn({ tokenId: token.id, adamId: asset.adamId, pricingParam: asset.pricingParam }, 'book with an unknown pricingParam skipped');
    const metadata = lookup.length > 0 && this.options.metadata ? await this.options.metadata.getBooks(lookup, secret, storefront) : new Map<string, BookMetadata>();
    const diff = diffBooks(token, entries, stored, metadata, this.now().toISOString(), this.lowLicenses);
    const results = await store.books.upsertManyIfChanged(token.id, diff.writes, { concurrency: WRITE_BATCHES, signal });
    const removed = await store.books.removeIfUnchanged(token.id, diff.missing);
    return { ...tallyWrites(diff.writes, results), saved: results.map((r) => r.value), removed, lowLicenseBooks: diff.lowLicenseBooks };
  }
}
