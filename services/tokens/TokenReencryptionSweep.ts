import { z } from 'zod';
import { forEachLimited } from '../common/forEachLimited';
import { TokenDecryptionError } from '../crypto/errors';
import { encryptedSecretSchema, type EncryptedSecret, type TokenCipher } from '../crypto/TokenCipher';
import type { Logger } from '../logging/logger';
import { tokenCipherContext } from '../store/entities/vppToken';
import { StoreValidationError } from '../store/errors';
import type { DialogStateDocument, DialogStateDocuments } from '../store/repositories/DialogStateDocuments';
import type { TokenKeyId, TokenRepository } from '../store/repositories/TokenRepository';
import { stableStringify } from '../store/stable';
import { pendingTokenCipherContext } from './TokenService';

/** Where an encrypted VPP token is kept: a stored token, or an upload waiting for the admin's confirmation (dialog state). */
type EncryptedDocumentKind = 'vppToken' | 'pendingUpload';

/** A stored token the sweep cannot decrypt. It is left exactly as it is: deleting it is the operator's call. */
export interface UnreadableDocument {
  kind: EncryptedDocumentKind;
  /** The token's id, or the pending upload's id. Never anything derived from the token itself. */
  id: string;
  tenantId: string;
  keyId: string;
  reason: TokenDecryptionError['reason'];
}

export interface KeyUsageReport {
  currentKeyId: string;
  /** Encrypted tokens (stored tokens and pending uploads) per key id, as the sweep left them. */
  documentsByKeyId: Record<string, number>;
  reEncrypted: number;
  /** Documents another writer kept changing under the sweep: still on their old key, tried again next sweep. */
  deferred: number;
  unreadable: UnreadableDocument[];
  /** Key ids other than the current one that some document still uses, configured or not. */
  oldKeyIdsInUse: string[];
  /** Keys in TOKEN_ENCRYPTION_OLD_KEYS that no document uses any more: safe to remove. */
  removableOldKeyIds: string[];
  /** No document uses any key but the current one: every old key can be dropped. */
  complete: boolean;
}

export interface TokenReencryptionSweepOptions {
  tokens: TokenRepository;
  cipher: TokenCipher;
  /**
   * The bot's dialog-state container (botState), where an upload waiting for confirmation keeps its
   * encrypted token. Without it only stored tokens are swept.
   */
  dialogState?: DialogStateDocuments | undefined;
  logger: Logger;
  /** Tries per document when another writer keeps winning; after that it waits for the next sweep. */
  maxAttempts?: number;
}

/** The fields an encrypted pending upload needs to be decrypted; the rest of its shape may change freely. */
const pendingUploadSchema = z.object({ pendingId: z.string().min(1), tenantId: z.string().min(1), encryptedToken: encryptedSecretSchema });

const DEFAULT_MAX_ATTEMPTS = 3;
const TOKEN_CONCURRENCY = 4;
const STATE_PAGE_SIZE = 100;
/** Dialog state nests a few levels (stack → dialog → state → values); far deeper is not ours. */
const MAX_STATE_DEPTH = 32;
/** Enough for an operator to find them; the count says how many there are in all. */
const MAX_UNREADABLE_LOGGED = 50;

class Tally {
  readonly byKeyId = new Map<string, number>();
  reEncrypted = 0;
  deferred = 0;
  readonly unreadable: UnreadableDocument[] = [];

  use(keyId: string, count = 1): void {
    this.byKeyId.set(keyId, (this.byKeyId.get(keyId) ?? 0) + count);
  }
}

/**
 * Key rotation's missing half: re-encrypts every stored VPP token under the current key, so the keys in
 * TOKEN_ENCRYPTION_OLD_KEYS can be dropped, and says when that point is reached.
 *
 * Each document is read, decrypted with its own key, encrypted with the current one and replaced only if
 * it is still the version read (If-Match); a renewal or sync that wrote meanwhile wins and the document
 * is read again, so no concurrent change is ever overwritten. Running it again changes nothing (documents
 * on the current key are only counted), so every instance may run it at once. A document it cannot
 * decrypt (its key was already removed, or the data is damaged) is counted and reported, never changed.
 */
export class TokenReencryptionSweep {
  readonly #maxAttempts: number;
  #running: Promise<KeyUsageReport> | undefined;
  #lastLogged: string | undefined;

  constructor(private readonly options: TokenReencryptionSweepOptions) {
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /**
   * Worth repeating in the background only while old keys are configured: it is what lets the sweep
   * catch tokens an instance still on the previous configuration wrote during a rolling deployment.
   * Without an old key nothing can be re-encrypted, and the start-up sweep has already reported.
   */
  get rotating(): boolean {
    return this.options.cipher.oldKeyIds.length > 0;
  }

  /** Runs one sweep; a call while one is running waits for that one instead of starting another. */
  run(): Promise<KeyUsageReport> {
    this.#running ??= this.sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Resolves once no sweep is running (shutdown waits for it before closing Cosmos). */
  async idle(): Promise<void> {
    await this.#running?.catch(() => undefined);
  }

  private async sweep(): Promise<KeyUsageReport> {
    const tally = new Tally();
    const entries = await this.options.tokens.listKeyIds();
    await forEachLimited(entries, TOKEN_CONCURRENCY, (entry) => this.sweepToken(entry, tally));
    if (this.options.dialogState) await this.sweepDialogState(this.options.dialogState, tally);
    const report = this.report(tally);
    this.log(report);
    return report;
  }

  private async sweepToken(entry: TokenKeyId, tally: Tally): Promise<void> {
    const { cipher, tokens } = this.options;
    if (entry.keyId === cipher.currentKeyId) {
      tally.use(entry.keyId);
      return;
    }
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      let read;
      try {
        read = await tokens.read(entry.tenantId, entry.id);
      } catch (err) {
        if (!(err instanceof StoreValidationError)) throw err;
        this.unreadable(tally, { kind: 'vppToken', id: entry.id, tenantId: entry.tenantId, keyId: entry.keyId ?? '(none)', reason: 'malformed' });
        return;
      }
      // Removed since the listing, or held by Intune (the bot keeps no copy): nothing to count.
      if (!read?.value.encryptedToken) return;
      const stored = read.value.encryptedToken;
      if (stored.keyId === cipher.currentKeyId) {
        tally.use(stored.keyId);
        return;
      }
      const next = this.reEncrypt(tally, stored, tokenCipherContext(read.value), { kind: 'vppToken', id: read.value.id, tenantId: read.value.tenantId });
      if (!next) return;
      if (await tokens.replaceEncryptedToken(read, next)) {
        tally.use(next.keyId);
        tally.reEncrypted++;
        return;
      }
    }
    tally.use(entry.keyId ?? '(none)');
    tally.deferred++;
  }

  /** The re-encrypted value, or undefined when it cannot be decrypted (then it is counted as unreadable). */
  private reEncrypt(tally: Tally, stored: EncryptedSecret, context: string, where: Omit<UnreadableDocument, 'keyId' | 'reason'>): EncryptedSecret | undefined {
    try {
      return this.options.cipher.reEncrypt(stored, context);
    } catch (err) {
      if (!(err instanceof TokenDecryptionError)) throw err;
      this.unreadable(tally, { ...where, keyId: stored.keyId, reason: err.reason });
      return undefined;
    }
  }

  private unreadable(tally: Tally, document: UnreadableDocument): void {
    tally.use(document.keyId);
    tally.unreadable.push(document);
  }

  /**
   * Dialog state has no index on what it holds, so every conversation's state is read, a page at a
   * time; only documents holding a pending upload under an old key are written.
   */
  private async sweepDialogState(state: DialogStateDocuments, tally: Tally): Promise<void> {
    for await (const page of state.pages(STATE_PAGE_SIZE)) {
      for (const raw of page) await this.sweepStateDocument(state, raw, tally);
    }
  }

  private async sweepStateDocument(state: DialogStateDocuments, first: DialogStateDocument, tally: Tally): Promise<void> {
    const { cipher } = this.options;
    const id = first.id;
    if (typeof id !== 'string') return;
    let raw: DialogStateDocument | undefined = first;
    for (let attempt = 1; raw && attempt <= this.#maxAttempts; attempt++) {
      const found = findPendingUploads(raw);
      const stale = found.filter((f) => f.pending.encryptedToken.keyId !== cipher.currentKeyId);
      if (stale.length === 0) {
        for (const f of found) tally.use(f.pending.encryptedToken.keyId);
        return;
      }
      // Counted only once the document's fate is known: a lost race re-reads and counts again.
      const attemptTally = new Tally();
      for (const f of found) {
        const { pendingId, tenantId, encryptedToken } = f.pending;
        if (encryptedToken.keyId === cipher.currentKeyId) {
          attemptTally.use(encryptedToken.keyId);
          continue;
        }
        const next = this.reEncrypt(attemptTally, encryptedToken, pendingTokenCipherContext(tenantId, pendingId), { kind: 'pendingUpload', id: pendingId, tenantId });
        if (next) {
          f.holder.encryptedToken = next;
          attemptTally.use(next.keyId);
          attemptTally.reEncrypted++;
        }
      }
      if (attemptTally.reEncrypted === 0 || (await state.replaceIfUnchanged(raw))) {
        merge(tally, attemptTally);
        return;
      }
      raw = await state.read(id);
    }
    if (!raw) return;
    for (const f of findPendingUploads(raw)) tally.use(f.pending.encryptedToken.keyId);
    tally.deferred++;
  }

  private report(tally: Tally): KeyUsageReport {
    const { cipher } = this.options;
    const documentsByKeyId = Object.fromEntries([...tally.byKeyId].sort(([a], [b]) => a.localeCompare(b)));
    const oldKeyIdsInUse = Object.keys(documentsByKeyId).filter((id) => id !== cipher.currentKeyId);
    return {
      currentKeyId: cipher.currentKeyId,
      documentsByKeyId,
      reEncrypted: tally.reEncrypted,
      deferred: tally.deferred,
      unreadable: tally.unreadable,
      oldKeyIdsInUse,
      removableOldKeyIds: cipher.oldKeyIds.filter((id) => !tally.byKeyId.has(id)),
      complete: oldKeyIdsInUse.length === 0,
    };
  }

  /**
   * Every sweep's outcome at info the first time and whenever it changes; a background sweep that found
   * the same as the last one logs at debug, so a long rotation does not fill the log.
   */
  private log(report: KeyUsageReport): void {
    const { logger } = this.options;
    const summary = {
      currentKeyId: report.currentKeyId,
      documentsByKeyId: report.documentsByKeyId,
      reEncrypted: report.reEncrypted,
      deferred: report.deferred,
      unreadable: report.unreadable.length,
      oldKeyIdsInUse: report.oldKeyIdsInUse,
      removableOldKeyIds: report.removableOldKeyIds,
    };
    const fingerprint = stableStringify({ ...summary, reEncrypted: 0, unreadable: report.unreadable });
    const level = report.reEncrypted > 0 || fingerprint !== this.#lastLogged ? 'info' : 'debug';
    this.#lastLogged = fingerprint;
    logger[level](summary, describe(report, this.options.cipher.oldKeyIds));
    if (report.unreadable.length > 0 && level === 'info') {
      logger.warn(
        { unreadable: report.unreadable.slice(0, MAX_UNREADABLE_LOGGED), count: report.unreadable.length },
        `token encryption: ${report.unreadable.length} stored token(s) cannot be decrypted and were left untouched; add their key to TOKEN_ENCRYPTION_OLD_KEYS, or upload the token again`,
      );
    }
  }
}

/** The operator's next step, in one line: which old keys must stay, which can go, which are already gone. */
function describe(report: KeyUsageReport, configuredOldKeyIds: readonly string[]): string {
  const current = `${report.documentsByKeyId[report.currentKeyId] ?? 0} on "${report.currentKeyId}"`;
  const parts: string[] = [];
  if (report.complete) {
    parts.push(`no document uses an old key id (${current})`);
  } else {
    const old = report.oldKeyIdsInUse.map((id) => `${id}: ${report.documentsByKeyId[id] ?? 0}`).join(', ');
    parts.push(`documents still use old key ids (${old}; ${current})`);
    const keep = report.oldKeyIdsInUse.filter((id) => configuredOldKeyIds.includes(id));
    if (keep.length > 0) parts.push(`keep ${keep.join(', ')} in TOKEN_ENCRYPTION_OLD_KEYS`);
    const missing = report.oldKeyIdsInUse.filter((id) => !configuredOldKeyIds.includes(id));
    if (missing.length > 0) parts.push(`${missing.join(', ')} not configured: those documents cannot be read`);
  }
  if (report.removableOldKeyIds.length > 0) parts.push(`remove ${report.removableOldKeyIds.join(', ')} from TOKEN_ENCRYPTION_OLD_KEYS`);
  return `token encryption: ${parts.join('; ')}`;
}

function merge(into: Tally, from: Tally): void {
  for (const [keyId, count] of from.byKeyId) into.use(keyId, count);
  into.reEncrypted += from.reEncrypted;
  into.deferred += from.deferred;
  into.unreadable.push(...from.unreadable);
}

interface FoundPendingUpload {
  /** The object in the document that holds `encryptedToken`, to write the new value into. */
  holder: Record<string, unknown>;
  pending: z.infer<typeof pendingUploadSchema>;
}

/** Every pending upload anywhere in a dialog-state document (the dialog stack decides where it sits). */
function findPendingUploads(value: unknown, found: FoundPendingUpload[] = [], depth = 0): FoundPendingUpload[] {
  if (depth > MAX_STATE_DEPTH || value === null || typeof value !== 'object') return found;
  if (Array.isArray(value)) {
    for (const item of value) findPendingUploads(item, found, depth + 1);
    return found;
  }
  const parsed = pendingUploadSchema.safeParse(value);
  if (parsed.success) {
    found.push({ holder: value as Record<string, unknown>, pending: parsed.data });
    return found;
  }
  for (const item of Object.values(value)) findPendingUploads(item, found, depth + 1);
  return found;
}
