import { escapeMarkdown } from '../common/chatText';
import { truncate } from '../common/truncate';
import { silentLogger, type Logger } from '../logging/logger';
import { LIMITS, type Actor } from '../store/entities/common';
import { TOKEN_REMOVED_FROM_INTUNE, type VppToken } from '../store/entities/vppToken';
import { StoreConflictError } from '../store/errors';
import { deterministicId } from '../store/ids';
import type { Store } from '../store/Store';
import type { TokenVerdict } from '../sync/SyncEngine';
import { tokenDisplayName } from '../tokens/TokenService';
import type { IntuneApi, IntuneTokenState, IntuneVppToken } from './IntuneApi';

/** Graph's vppTokenState in the store's words; `unknown` says nothing, so the stored state stands. */
const STATE_FROM_INTUNE: Readonly<Record<IntuneTokenState, VppToken['state'] | undefined>> = {
  unknown: undefined,
  valid: 'valid',
  expired: 'expired',
  invalid: 'invalid',
  assignedToExternalMDM: 'assignedToExternalMDM',
  duplicateLocationId: 'duplicateLocation',
};

/** The store's country is a short code (Apple's ISO code); anything else Graph sends is left out. */
const COUNTRY_CODE = /^[A-Za-z]{2,3}$/;

/** Who a record the mirror creates was added by: the bot, on Intune's word. */
const FOUND_IN_INTUNE: Actor = { aadObjectId: 'vpp-books-bot', displayName: 'VPP Books (found in Intune)' };

/**
 * The record id of Intune's token: its own id (escaped for Cosmos if need be). The token service and the
 * mirror both name the record so, which is what keeps a mirror pass during an upload from adding a second one.
 */
export function intuneRecordId(intuneTokenId: string): string {
  return deterministicId(intuneTokenId);
}

/**
 * What Intune says of a token, as fields of its record: state, organisation, expiry, country, Apple Account.
 * Intune's view wins on every read, so a renewal or a new Apple Account set in Intune shows up here; a value
 * the store could not hold (Graph returns free text) is left out rather than failing the write.
 */
export function intuneTokenFields(token: IntuneVppToken): TokenVerdict {
  const fields: TokenVerdict = {};
  const state = STATE_FROM_INTUNE[token.state];
  if (state) fields.state = state;
  // Intune does not say which MDM took a token; a name kept from an earlier answer is no longer true once it is back.
  if (state && state !== 'assignedToExternalMDM') fields.externalMdm = undefined;
  if (token.organizationName) fields.organizationName = truncate(token.organizationName, LIMITS.displayName);
  const expires = Date.parse(token.expirationDateTime);
  if (Number.isFinite(expires)) fields.expirationDateTime = new Date(expires).toISOString();
  if (token.countryOrRegion && COUNTRY_CODE.test(token.countryOrRegion)) fields.countryOrRegion = token.countryOrRegion.toUpperCase();
  if (token.appleId && token.appleId.length <= LIMITS.email) fields.appleId = token.appleId;
  if (token.locationName) fields.locationName = truncate(token.locationName, LIMITS.displayName);
  return fields;
}

/** Whether applying `fields` would change `token`. */
function changes(token: VppToken, fields: TokenVerdict): boolean {
  return (Object.keys(fields) as Array<keyof TokenVerdict>).some((key) => JSON.stringify(token[key]) !== JSON.stringify(fields[key]));
}

/** Why a record's token is gone: said in the token list, the notices and a sync's refusal. */
export function removedFromIntuneMessage(token: Pick<VppToken, 'displayName'>): string {
  const name = escapeMarkdown(token.displayName);
  return `"${name}" is no longer in Intune: someone removed it there, so it is not synced. Its books and history stay here until you remove it too (type **remove ${name}**); to use it again, remove it here and upload its file (**upload token**).`;
}

/**
 * Why Intune cannot act on a record: its token was uploaded while the bot held tokens itself (VPP_BACKEND was
 * apple), so the record has the token but Intune does not.
 */
export function notInIntuneMessage(token: Pick<VppToken, 'displayName'>): string {
  const name = escapeMarkdown(token.displayName);
  return `"${name}" was added while I held tokens myself, so Intune does not have it. To hand it to Intune, type **renew ${name}** and send its file: I show what taking control means, and Intune takes it only once you confirm.`;
}

export interface IntuneTokenMirrorOptions {
  store: Store;
  intune: IntuneApi;
  /** The Microsoft tenant whose Intune this is: the store partition the records go to. */
  tenantId: string;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
}

export interface MirrorResult {
  /** Records created for tokens added in Intune directly. */
  added: VppToken[];
  /** Records whose token Intune no longer has (marked, not deleted). */
  removed: VppToken[];
  /** Records whose state, organisation, expiry, country or Apple Account changed in Intune. */
  updated: number;
}

/**
 * Intune mode: the store's token list follows Intune's. Tokens added in Intune directly get a record (so the
 * sync, the notices and **tokens** cover them); records whose token was removed from Intune are marked
 * invalid with a reason, their books and history kept; the rest take Intune's state, organisation, expiry,
 * country and Apple Account. The scheduled sync runs it before each round (SyncService's `beforeRound`).
 */
export class IntuneTokenMirror {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: IntuneTokenMirrorOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
  }

  async run(): Promise<MirrorResult> {
    const { store, intune, tenantId } = this.options;
    const [inIntune, stored] = await Promise.all([intune.listVppTokens(), store.tokens.listByTenant(tenantId)]);
    const byIntuneId = new Map(stored.flatMap((t) => (t.intuneTokenId ? [[t.intuneTokenId, t] as const] : [])));
    const result: MirrorResult = { added: [], removed: [], updated: 0 };
    for (const token of inIntune) {
      const record = byIntuneId.get(token.id);
      if (!record) {
        const added = await this.add(token);
        if (added) result.added.push(added);
      } else if (await this.apply(record, token)) {
        result.updated++;
      }
    }
    const present = new Set(inIntune.map((t) => t.id));
    for (const record of stored) {
      if (!record.intuneTokenId || present.has(record.intuneTokenId)) continue;
      const marked = await this.markRemoved(record);
      if (marked) result.removed.push(marked);
    }
    if (result.added.length + result.removed.length + result.updated > 0) {
      this.logger.info({ added: result.added.length, removed: result.removed.length, updated: result.updated }, 'token list brought in line with Intune');
    }
    return result;
  }

  /**
   * The token as Intune has it now, written to its record: what a sync asked for a token the store says cannot
   * be synced reads first (SyncService's `refreshToken`), so a renewal made in Intune counts at once.
   */
  async refresh(token: VppToken): Promise<VppToken> {
    if (!token.intuneTokenId) return token;
    const found = await this.options.intune.getVppToken(token.intuneTokenId);
    if (!found) return (await this.markRemoved(token)) ?? token;
    await this.apply(token, found);
    return (await this.options.store.tokens.get(token.tenantId, token.id)) ?? token;
  }

  private async add(token: IntuneVppToken): Promise<VppToken | undefined> {
    const { store, tenantId } = this.options;
    const now = this.now().toISOString();
    const fields = intuneTokenFields(token);
    const organizationName = fields.organizationName ?? '';
    const locationName = fields.locationName ?? (organizationName || `Intune token ${token.id}`);
    const named = token.displayName?.trim() || (organizationName ? tokenDisplayName(organizationName, locationName) : locationName);
    const record: VppToken = {
      id: intuneRecordId(token.id),
      tenantId,
      displayName: truncate(named, LIMITS.displayName),
      organizationName,
      appleId: fields.appleId,
      accountType: token.accountType,
      locationName: truncate(locationName, LIMITS.displayName),
      countryOrRegion: fields.countryOrRegion,
      // A date Graph did not give is treated as past: the token shows as expired rather than as good forever.
      expirationDateTime: fields.expirationDateTime ?? now,
      state: fields.state ?? 'valid',
      lastSyncStatus: 'none',
      consecutiveSyncFailures: 0,
      intuneTokenId: token.id,
      createdBy: FOUND_IN_INTUNE,
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    try {
      const created = await store.tokens.createWithinLimit(record);
      if (created.created) return created.token;
      this.logger.warn({ intuneTokenId: token.id, count: created.count }, 'a token added in Intune is not listed: the organisation has the most tokens allowed');
      return undefined;
    } catch (err) {
      // The token service (an upload finishing) or another instance wrote the record first: it is there.
      if (err instanceof StoreConflictError) return undefined;
      throw err;
    }
  }

  /** Writes Intune's view onto the record; false when nothing changed. */
  private async apply(record: VppToken, token: IntuneVppToken): Promise<boolean> {
    const fields = intuneTokenFields(token);
    // A record marked removed whose token is back (restored) is Intune's again.
    const back = record.lastError?.code === TOKEN_REMOVED_FROM_INTUNE;
    if (!back && !changes(record, fields)) return false;
    const written = await this.options.store.tokens.update(record.tenantId, record.id, (t) =>
      t.intuneTokenId === token.id && (changes(t, fields) || t.lastError?.code === TOKEN_REMOVED_FROM_INTUNE)
        ? t.lastError?.code === TOKEN_REMOVED_FROM_INTUNE
          ? { ...t, state: 'valid', ...fields, lastError: undefined }
          : { ...t, ...fields }
        : undefined,
    );
    return written?.written ?? false;
  }

  private async markRemoved(record: VppToken): Promise<VppToken | undefined> {
    if (record.state === 'invalid' && record.lastError?.code === TOKEN_REMOVED_FROM_INTUNE) return undefined;
    const occurredDateTime = this.now().toISOString();
    const written = await this.options.store.tokens.update(record.tenantId, record.id, (t) =>
      t.intuneTokenId === record.intuneTokenId ? { ...t, state: 'invalid', lastError: { code: TOKEN_REMOVED_FROM_INTUNE, message: removedFromIntuneMessage(t), occurredDateTime } } : undefined,
    );
    return written?.written ? written.value : undefined;
  }
}
