import { isUnlimitedAsset } from '../apple/schemas';
import type { TokenSyncer } from '../backend/ports';
import { WHERE_TOKENS_ARE_DOWNLOADED } from '../common/appleTerms';
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
import type { IntuneApi, IntuneEBook, IntuneTokenState, IntuneVppToken } from './IntuneApi';
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
}

/** Transactional batches in flight per token, as the Apple engine writes them. */
const WRITE_BATCHES = 4;

const DEFAULT_POLL_INTERVAL_MS = 5_000;
const DEFAULT_POLL_TIMEOUT_MS = 10 * 60_000;

/** Intune's token state as the admin reads it in a failure: what Intune says is wrong with the token. */
const INTUNE_STATE_WORDS: Readonly<Record<IntuneTokenState, string>> = {
  unknown: 'Intune reports no state for the token',
  valid: 'Intune reports the token as valid',
  expired: 'Intune reports the token as expired',
  invalid: 'Intune reports the token as invalid (revoked or replaced at Apple)',
  assignedToExternalMDM: 'Intune reports that another MDM now manages the token',
  duplicateLocationId: 'Intune reports that another of its tokens is for the same Apple location',
};

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

/** What the admin does about a sync Intune could not finish with Apple, by Intune's state of the token. */
function whatToDo(state: IntuneTokenState, name: string): string {
  switch (state) {
    case 'expired':
      return `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED} and type **renew ${name}**.`;
    case 'invalid':
      return `Download the newest token from Apple and type **renew ${name}**.`;
    case 'assignedToExternalMDM':
      return `To give it back to Intune, remove it (type **remove ${name}**) and upload it again (**upload token**): you see what taking control means and confirm it.`;
    case 'duplicateLocationId':
      return 'Remove one of the two tokens.';
    case 'unknown':
    case 'valid':
      return 'It is tried again at the next scheduled sync; if it keeps failing, open the token in the Intune admin center to see Intune\'s error.';
  }
}

/** Intune's failed sync with Apple, as the admin reads it: what happened, Intune's reason, what to do. */
function intuneSyncFailed(token: VppToken, intune: IntuneVppToken): SyncFailure {
  const name = escapeMarkdown(token.displayName);
  return { code: 'intune_sync_failed', message: `Intune could not sync "${name}" with Apple: ${INTUNE_STATE_WORDS[intune.state]}. ${whatToDo(intune.state, name)}` };
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

  constructor(private readonly options: IntuneSyncEngineOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.lowLicenses = options.lowLicenses ?? DEFAULT_LOW_LICENSE_THRESHOLD;
    this.pollIntervalMs = Math.max(1, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.pollTimeoutMs = Math.max(0, options.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS);
    this.sleep = options.sleep ?? abortableSleep;
  }

  syncToken(tenantId: string, tokenId: string, request: SyncRequest): Promise<SyncOutcome> {
    return recordedSync({ store: this.options.store, now: this.now }, tenantId, tokenId, request, {
      blocked: (token) => notInIntune(token) ?? notSyncableReason(token),
      run: (token, started) => this.run(token, request, started),
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
  }

  private async run(token: VppToken, request: SyncRequest, started: number): Promise<SyncRunResult> {
    const { store } = this.options;
    const signal = request.signal;
    const progress = (phase: SyncProgress['phase'], done: number) => request.onProgress?.({ tokenId: token.id, phase, done, elapsedMs: Date.now() - started });

    progress('config', 0);
    const synced = await this.syncWithApple(token, signal);
    const verdict = intuneTokenFields(synced);
    if (synced.lastSyncStatus === 'failed') throw new SyncStop(intuneSyncFailed(token, synced), verdict);
    const blocked = notSyncableReason({ ...token, ...verdict });
    if (blocked) throw new SyncStop(blocked, verdict);

    // ---- read everything first ----
    const intuneTokenId = synced.id.toLowerCase();
    const books: IntuneEBook[] = [];
    for await (const page of this.options.intune.eBookPages()) {
      signal?.throwIfAborted();
      // Graph lists the whole tenant's ebooks; this token's are those bought through it.
      for (const book of page) if (book.vppTokenId?.toLowerCase() === intuneTokenId) books.push(book);
      progress('books', books.length);
    }

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
