import { isUnlimitedAsset } from '../apple/schemas';
import type { TokenSyncer } from '../backend/ports';
import { WHERE_TOKENS_ARE_DOWNLOADED } from '../common/appleTerms';
import { INTUNE_TOKENS_PAGE } from '../common/intuneTerms';
import { escapeMarkdown } from '../common/chatText';
import { formatCount } from '../common/format';
import { truncate } from '../common/truncate';
import { UserFacing } from '../errors';
import { silentLogger, type Logger } from '../logging/logger';
import type { PendingWrite, Versioned } from '../store/DocumentStore';
import { LIMITS } from '../store/entities/common';
import { eBookId, type EBook } from '../store/entities/eBook';
import { TOKEN_REMOVED_FROM_INTUNE, type VppToken } from '../store/entities/vppToken';
import type { Store } from '../store/Store';
import { genericStop, notSyncableReason, recordedSync, SyncStop, type SyncRequest, type SyncRunResult } from '../sync/SyncEngine';
import { diffCatalogue, summarise, tallyWrites } from '../sync/syncDiff';
import { DEFAULT_LOW_LICENSE_THRESHOLD, type LowLicenseThreshold } from '../sync/lowLicenses';
import type { SyncFailure, SyncOutcome, SyncProgress } from '../sync/types';
import { bookIdentity } from './bookIdentity';
import { IntuneCatalogueReads, type CatalogueVisit } from './IntuneCatalogueReads';
import type { IntuneActionFailureReason, IntuneApi, IntuneEBook, IntuneTokenState, IntuneVppToken } from './IntuneApi';
import { intuneTokenFields, notInIntuneMessage, removedFromIntuneMessage } from './IntuneTokenMirror';

export interface IntuneSyncEngineOptions {
  store: Store;
  intune: IntuneApi;
  lowLicenses?: LowLicenseThreshold | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
  /** Between two reads of the token's `lastSyncStatus` while Intune syncs with Apple. Default 5 s. */
  pollIntervalMs?: number | undefined;
  /** How long Intune's sync with Apple may take before this sync gives up (nothing is written). Default 10 min. */
  pollTimeoutMs?: number | undefined;
  /** Waits between polls; rejects when `signal` aborts. Tests pass one that takes no real time. */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /**
   * How long a read of the tenant's books waits for another sync of this engine that is still busy (syncing
   * with Intune, or saving its books before its caller starts the next token), so that one read serves them
   * all (IntuneCatalogueReads). Default two poll intervals and 5 s.
   */
  catalogueGatherMs?: number | undefined;
}

/** Transactional batches in flight per token, as the Apple engine writes them. */
const WRITE_BATCHES = 4;

const DEFAULT_POLL_INTERVAL_MS = 5_000;
const DEFAULT_POLL_TIMEOUT_MS = 10 * 60_000;

/** Intune's states that say the token itself is the problem. */
type TokenProblem = Exclude<IntuneTokenState, 'valid' | 'unknown'>;
type FailureReason = Exclude<IntuneActionFailureReason, 'none'>;

/** What Intune's state says is wrong with the token, following "Intune ". */
const STATE_WORDS: Readonly<Record<TokenProblem, string>> = {
  expired: 'reports the token as expired',
  invalid: 'reports the token as invalid (revoked or replaced at Apple)',
  assignedToExternalMDM: 'reports that another MDM now manages the token',
  duplicateLocationId: 'reports that another of its tokens is for the same Apple location',
};

/** Intune's reason for a failed action on the token (vppTokenActionFailureReason), following "Intune reports ". */
const REASON_WORDS: Readonly<Record<FailureReason, string>> = {
  appleFailure: "an error on Apple's side (Apple's Apps and Books service)",
  internalError: 'an internal error of its own',
  expiredVppToken: 'that the VPP token has expired',
  expiredApplePushNotificationCertificate: 'that its Apple MDM push certificate (APNs) has expired',
};

/**
 * How much earlier than the sync's end Intune may have stamped a failed action for it to count as this sync's:
 * the longest wait for Intune plus room for the two clocks to differ. An older failure is another action's.
 */
const ACTION_RESULT_WINDOW_MS = 15 * 60_000;

const isTokenProblem = (state: IntuneTokenState): state is TokenProblem => state !== 'valid' && state !== 'unknown';

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What the admin does about a token Intune reports a problem with, by Intune's state of it. */
function whatToDo(state: TokenProblem, name: string): string {
  switch (state) {
    case 'expired':
      return `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED} and renew it: type **renew ${name}** here, or upload the file to the token in ${INTUNE_TOKENS_PAGE}.`;
    case 'invalid':
      return `Download the newest token from Apple and renew it: type **renew ${name}** here, or upload the file to the token in ${INTUNE_TOKENS_PAGE}.`;
    case 'assignedToExternalMDM':
      return `To give it back to Intune, download its newest token ${WHERE_TOKENS_ARE_DOWNLOADED} and type **renew ${name}**: I show what taking control means, and Intune takes the token back only once you confirm.`;
    case 'duplicateLocationId':
      return `Intune counts "${name}" as the duplicate: another of its tokens already serves the same Apple location and keeps working (type **tokens** to see both), so assign that location's books from the other one. Deleting "${name}" in Intune also deletes its books there and their assignments.`;
  }
}

/** What the admin does about Intune's failure reason, when the token itself is not the problem. */
function whatToDoAbout(reason: FailureReason | undefined, name: string): string {
  const again = `It is tried again at the next scheduled sync; type **sync ${name}** to try now.`;
  switch (reason) {
    case 'expiredVppToken':
      return whatToDo('expired', name);
    case 'expiredApplePushNotificationCertificate':
      return `Renew the Apple MDM push certificate in the Intune admin center, then type **sync ${name}**.`;
    case 'appleFailure':
      return `${again} If it keeps failing, Apple's service may be down: check Apple's system status for Apps and Books.`;
    case 'internalError':
    case undefined:
      return `${again} If it keeps failing, open the token in ${INTUNE_TOKENS_PAGE} to see Intune's error.`;
  }
}

/**
 * The reason Intune gives for this sync's failure: the newest failed action on the token that carries one
 * (Graph documents `actionFailureReason` on a derived action result, so any that has it counts) and was
 * stamped no earlier than the window before `now`.
 */
function failureReason(intune: IntuneVppToken, now: Date): FailureReason | undefined {
  const since = now.getTime() - ACTION_RESULT_WINDOW_MS;
  let newest: { at: number; reason: FailureReason } | undefined;
  for (const result of intune.tokenActionResults ?? []) {
    const reason = result.actionFailureReason;
    if (result.actionState !== 'failed' || reason === undefined || reason === 'none') continue;
    const at = Date.parse(result.lastUpdatedDateTime ?? '');
    if (Number.isFinite(at) && at >= since && (!newest || at > newest.at)) newest = { at, reason };
  }
  return newest?.reason;
}

/**
 * Intune's failed sync with Apple, as the admin reads it: what happened, Intune's reason in words (its failure
 * reason for the action, its state of the token, or both), and what to do.
 */
function intuneSyncFailed(token: VppToken, intune: IntuneVppToken, now: Date): SyncFailure {
  const name = escapeMarkdown(token.displayName);
  const reason = failureReason(intune, now);
  const problem = isTokenProblem(intune.state) ? intune.state : undefined;
  // "The token has expired" twice says nothing more.
  const stateToo = problem && !(problem === 'expired' && reason === 'expiredVppToken') ? problem : undefined;
  let why: string;
  if (reason) why = `Intune reports ${REASON_WORDS[reason]}${stateToo ? `, and ${STATE_WORDS[stateToo]}` : ''}`;
  else if (problem) why = `Intune ${STATE_WORDS[problem]}`;
  else why = intune.state === 'valid' ? 'Intune gave no reason, and still reports the token as valid' : 'Intune gave no reason, and reports no state for the token';
  // A push certificate to renew comes first: nothing Intune does with Apple works without it.
  const todo = problem && reason !== 'expiredApplePushNotificationCertificate' ? whatToDo(problem, name) : whatToDoAbout(reason, name);
  return { code: 'intune_sync_failed', message: `Intune could not sync "${name}" with Apple: ${why}. ${todo}` };
}

/** A record without Intune's id: its token was uploaded while the bot held tokens itself. */
function notInIntune(token: VppToken): SyncFailure | undefined {
  return token.intuneTokenId ? undefined : { code: 'token_not_in_intune', message: notInIntuneMessage(token) };
}

/** A book of Intune's as the store keeps it: Apple's key, Intune's title, publisher and counts. */
function toStoredBook(token: Pick<VppToken, 'id' | 'tenantId'>, book: IntuneEBook, key: { adamId: string; pricingParam: EBook['pricingParam'] }, known: EBook | undefined, now: string): EBook {
  const total = Math.max(0, book.totalLicenseCount);
  const used = Math.max(0, book.usedLicenseCount);
  const title = truncate(book.displayName.trim(), LIMITS.title);
  const author = book.publisher?.trim() ? truncate(book.publisher.trim(), 512) : undefined;
  return {
    id: eBookId(key.adamId, key.pricingParam),
    tokenId: token.id,
    tenantId: token.tenantId,
    adamId: key.adamId,
    pricingParam: key.pricingParam,
    title: title || `Book ${key.adamId}`,
    author,
    // Graph sends the cover as image bytes (largeCover), which the store does not keep; its page URL is no image.
    totalLicenseCount: total,
    usedLicenseCount: used,
    availableLicenseCount: Math.max(0, total - used),
    // Intune passes Apple's counts on, and Apple counts a free book's licenses as 2^31 − 1.
    ...(isUnlimitedAsset({ totalCount: total }) ? { unlimited: true } : {}),
    intuneBookId: book.id,
    metadataResolved: true,
    createdDateTime: known?.createdDateTime ?? now,
    lastModifiedDateTime: now,
  };
}

/**
 * Intune mode's sync of one token (`TokenSyncer`, as `SyncEngine` is Apple mode's): asks Intune to sync the
 * token with Apple (`syncLicenses`), follows the token's `lastSyncStatus` until Intune is done, takes Intune's
 * view of the token (state, organisation, expiry, country, Apple Account: a renewal made in Intune shows up),
 * then reads the token's books from Intune into the store. Books keep Apple's adamId (bookIdentity.ts), so
 * approvals and assignment runs find them as in Apple mode. Intune licenses groups, not the bot's own VPP
 * users, so there are no users or user licenses to sync. Nothing is written before everything is read, and
 * only what changed; the history, failure counts, notices and low-license warnings are the Apple engine's.
 */
export class IntuneSyncEngine implements TokenSyncer {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly lowLicenses: LowLicenseThreshold;
  private readonly pollIntervalMs: number;
  private readonly pollTimeoutMs: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly catalogue: IntuneCatalogueReads;

  constructor(private readonly options: IntuneSyncEngineOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.lowLicenses = options.lowLicenses ?? DEFAULT_LOW_LICENSE_THRESHOLD;
    this.pollIntervalMs = Math.max(1, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.pollTimeoutMs = Math.max(0, options.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS);
    this.sleep = options.sleep ?? abortableSleep;
    // Enough for a token started as another ended to be seen done at its second status read (as Intune usually
    // is), with time for the store and Graph around it.
    const gatherMs = Math.max(0, options.catalogueGatherMs ?? 2 * this.pollIntervalMs + 5_000);
    this.catalogue = new IntuneCatalogueReads({ pages: () => options.intune.eBookPages(), gatherMs });
  }

  syncToken(tenantId: string, tokenId: string, request: SyncRequest): Promise<SyncOutcome> {
    // Open for the whole sync: a read of the catalogue about to start waits a moment for a token still syncing
    // with Intune, or saving its books (its caller then starts the next token).
    const visit = this.catalogue.visit();
    const outcome = recordedSync({ store: this.options.store, now: this.now }, tenantId, tokenId, request, {
      blocked: (token) => notInIntune(token) ?? notSyncableReason(token),
      run: (token, started) => this.run(token, request, started, visit),
      stop: (err, token) => {
        if (err instanceof SyncStop) return err;
        // Graph's refusals (IntuneError) are written for the admin already.
        if (err instanceof UserFacing) return new SyncStop({ code: err.code, message: err.userMessage });
        if (!(err instanceof Error && err.name === 'AbortError')) this.logger.error({ err, tokenId }, 'Intune sync failed unexpectedly');
        return genericStop(err, token);
      },
      // Intune's verdict is about the file it held when it synced: a renewal since then is another file.
      holdsSameToken: (stored, used) => stored.intuneTokenId === used.intuneTokenId && stored.fingerprint === used.fingerprint,
    });
    return outcome.finally(() => visit.close());
  }

  private async run(token: VppToken, request: SyncRequest, started: number, visit: CatalogueVisit): Promise<SyncRunResult> {
    const { store } = this.options;
    const signal = request.signal;
    const progress = (phase: SyncProgress['phase'], done: number) => request.onProgress?.({ tokenId: token.id, phase, done, elapsedMs: Date.now() - started });

    progress('config', 0);
    const synced = await this.syncWithApple(token, signal);
    const verdict = intuneTokenFields(synced);
    if (synced.lastSyncStatus === 'failed') throw new SyncStop(intuneSyncFailed(token, synced, this.now()), verdict);
    const blocked = notSyncableReason({ ...token, ...verdict });
    if (blocked) throw new SyncStop(blocked, verdict);

    // ---- read everything first ----
    // Graph lists the whole tenant's ebooks; this token's are those bought through it, taken from a read of the
    // catalogue that began after Intune's sync of the token completed, shared with the other tokens' syncs.
    progress('books', 0);
    const books = await visit.books(synced.id, { signal, onPage: (found) => progress('books', found) });

    // ---- then write what changed ----
    signal?.throwIfAborted();
    progress('saving', 0);
    const stored = await store.books.listForSync(token.id);
    const desired = this.desiredBooks(token, books, stored);
    const diff = diffCatalogue(desired, stored, this.lowLicenses);
    const results = await store.books.upsertManyIfChanged(token.id, diff.writes, { concurrency: WRITE_BATCHES, signal });
    const removed = await store.books.removeIfUnchanged(token.id, diff.missing);
    const saved = results.map((r) => r.value);
    return {
      ...summarise(saved, { ...tallyWrites(diff.writes, results), removed }, 0, 0),
      lowLicenseBooks: diff.lowLicenseBooks,
      tokenChange: () => verdict,
    };
  }

  /**
   * Starts Intune's sync with Apple and waits for it: `syncLicenses` answers with the token, whose
   * `lastSyncStatus` is then read again every poll interval until it is `completed` or `failed`. Intune
   * giving up no sign within the timeout ends this sync as failed; the books stay as the last sync stored them.
   */
  private async syncWithApple(token: VppToken, signal: AbortSignal | undefined): Promise<IntuneVppToken> {
    const { intune } = this.options;
    const id = token.intuneTokenId ?? '';
    const removed = () => new SyncStop({ code: TOKEN_REMOVED_FROM_INTUNE, message: removedFromIntuneMessage(token) }, { state: 'invalid' });
    let seen: IntuneVppToken;
    try {
      seen = await intune.syncLicenses(id);
    } catch (err) {
      // Graph's 404 for a token someone removed in Intune since the last look.
      if ((await intune.getVppToken(id).catch(() => null)) === undefined) throw removed();
      throw err;
    }
    const polls = Math.ceil(this.pollTimeoutMs / this.pollIntervalMs);
    for (let poll = 1; seen.lastSyncStatus !== 'completed' && seen.lastSyncStatus !== 'failed'; poll++) {
      if (poll > polls) {
        const minutes = Math.max(1, Math.round(this.pollTimeoutMs / 60_000));
        const waited = minutes === 1 ? 'a minute' : `${formatCount(minutes)} minutes`;
        throw new SyncStop({
          code: 'intune_sync_timeout',
          message: `Intune was still syncing "${escapeMarkdown(token.displayName)}" with Apple after ${waited}, so the books shown are from the last sync. It is tried again at the next scheduled sync; type **sync ${escapeMarkdown(token.displayName)}** to try now.`,
        });
      }
      await this.sleep(this.pollIntervalMs, signal);
      signal?.throwIfAborted();
      const next = await intune.getVppToken(id);
      if (!next) throw removed();
      seen = next;
    }
    return seen;
  }

  /**
   * Intune's books as the store keeps them, each against its stored version. Two of Intune's books with the
   * same Apple key would be one document: the first is kept, the other logged.
   */
  private desiredBooks(token: VppToken, books: readonly IntuneEBook[], stored: ReadonlyMap<string, Versioned<EBook>>): PendingWrite<EBook>[] {
    const now = this.now().toISOString();
    const byId = new Map<string, PendingWrite<EBook>>();
    for (const book of books) {
      const key = bookIdentity(book);
      if (key.derived) this.logger.debug({ tokenId: token.id, intuneBookId: book.id }, 'Intune book without an Apple page: adamId derived from its Intune id');
      const id = eBookId(key.adamId, key.pricingParam);
      if (byId.has(id)) {
        this.logger.warn({ tokenId: token.id, intuneBookId: book.id, adamId: key.adamId }, 'two Intune books for one Apple book: the second is skipped');
        continue;
      }
      const current = stored.get(id);
      byId.set(id, { entity: toStoredBook(token, book, key, current?.value, now), current: current ?? null });
    }
    return [...byId.values()];
  }
}
