import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { UserFacingError } from '../errors';
import { escapeMarkdown } from '../common/chatText';
import { formatCount } from '../common/format';
import { nameQuery } from '../common/nameMatch';
import { parseVppTokenFile, type VppTokenFile } from '../apple/VppTokenFile';
import type { ClientConfig, TokenOwnership } from '../apple/AppleBooksClient';
import type { TokenCipher } from '../crypto/TokenCipher';
import { encryptedSecretSchema } from '../crypto/TokenCipher';
import type { Store } from '../store/Store';
import { MAX_TOKENS_PER_TENANT } from '../store/repositories/TokenRepository';
import { TOKEN_REMOVED_FROM_INTUNE, vppTokenSchema, type VppToken } from '../store/entities/vppToken';
import type { EBook } from '../store/entities/eBook';
import type { AuditEntry } from '../store/repositories/AuditLog';
import type { AdminActor } from '../auth/AdminPolicy';
import type { BackendKind, TokenCustody, TokenLocation } from '../backend/ports';
import { StoreConflictError } from '../store/errors';
import type { AppleClientFactory } from './AppleClientFactory';
import { AppleTokenCustody } from './AppleTokenCustody';

/**
 * A checked token file waiting for the admin's confirmation. It lives in dialog state (Cosmos), so the
 * token inside is encrypted, bound to this pending upload.
 */
export const pendingTokenSchema = z.object({
  pendingId: z.string().uuid(),
  tenantId: z.string(),
  encryptedToken: encryptedSecretSchema,
  organizationName: z.string(),
  expirationDateTime: z.string(),
  locationId: z.string().optional(),
  locationName: z.string(),
  countryOrRegion: z.string().optional(),
  bookCount: z.number().int().nonnegative(),
  /** Set when Apple says another MDM holds the token: taking over needs explicit consent. */
  otherMdmName: z.string().optional(),
  /**
   * Intune mode: the MDM Apple names is this bot itself (the token was claimed while VPP_BACKEND was apple),
   * so chat says "I manage it" rather than naming the bot as a stranger.
   */
  otherMdmIsThisBot: z.boolean().optional(),
});
export type PendingToken = z.infer<typeof pendingTokenSchema>;

/**
 * A renewal file checked against its token and Apple, waiting for the admin to agree that the holder takes the
 * token back from the MDM Apple names (Intune mode). It lives in dialog state, so the file is encrypted, bound
 * to this pending renewal as a pending upload's is (pendingTokenCipherContext): the key rotation sweep finds and
 * re-encrypts both alike.
 */
export const pendingRenewalSchema = z.object({
  pendingId: z.string().uuid(),
  tenantId: z.string(),
  tokenId: vppTokenSchema.shape.id,
  encryptedToken: encryptedSecretSchema,
  /** The new file's expiry, for the confirmation card. */
  expirationDateTime: z.string(),
  otherMdmName: z.string().optional(),
  otherMdmIsThisBot: z.boolean().optional(),
});
export type PendingRenewal = z.infer<typeof pendingRenewalSchema>;

/** A token as a flow keeps it between turns (renew, remove): which one, and its name for the messages. */
export const tokenRefSchema = z.object({ tokenId: vppTokenSchema.shape.id, displayName: vppTokenSchema.shape.displayName });

/** What the admin adds to a pending upload to save it; the upload flow keeps it in dialog state until then. */
export const saveOptionsSchema = z.object({
  appleId: vppTokenSchema.shape.appleId.unwrap(),
  accountType: vppTokenSchema.shape.accountType,
  /** The admin explicitly agreed to take the token from another MDM. */
  takeOver: z.boolean(),
});
export type SaveOptions = z.infer<typeof saveOptionsSchema>;

export interface TokenServiceOptions {
  store: Store;
  /** Encrypts the pending upload in dialog state (and, in Apple mode, the stored token). */
  cipher: TokenCipher;
  /** Apple is read in both modes to check a file: its location, who manages it, its books. */
  apple: AppleClientFactory;
  /** This bot's MDM identity at Apple. */
  mdm: { id: string; name: string };
  /** Who holds saved tokens (VPP_BACKEND). Default: the bot itself (`AppleTokenCustody`). */
  custody?: TokenCustody | undefined;
  now?: () => Date;
  /** Other per-token data to delete with a token (kept by services the token service does not know). */
  alsoRemove?: ReadonlyArray<(tokenId: string) => Promise<unknown>>;
}

/** The additional authenticated data of an upload waiting for confirmation (see tokenCipherContext). */
export const pendingTokenCipherContext = (tenantId: string, pendingId: string) => `pendingToken|${tenantId}|${pendingId}`;

/** "Northwind Academy – Main Campus" rather than repeating the organisation in front of its own location. */
export function tokenDisplayName(organizationName: string, locationName: string): string {
  return nameQuery(organizationName).within(locationName) ? locationName : `${organizationName} (${locationName})`;
}

/**
 * The VPP token lifecycle Intune's "VPP tokens" pane offers: upload (with the checks Apple and the
 * product rules need), list, renew for the same location, and remove. Knows nothing of chat.
 */
export class TokenService {
  private readonly now: () => Date;
  private readonly custody: TokenCustody;

  constructor(private readonly options: TokenServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.custody = options.custody ?? new AppleTokenCustody({ cipher: options.cipher, apple: options.apple, mdm: options.mdm });
  }

  /** Who holds the tokens (VPP_BACKEND), and the name chat gives it when it takes a token from another MDM. */
  get holder(): { kind: BackendKind; name: string } {
    return { kind: this.custody.kind, name: this.custody.holderName };
  }

  private parse(content: string): VppTokenFile {
    return parseVppTokenFile(content, { now: this.now });
  }

  /**
   * Checks a token file against Apple and our rules, without storing anything: format and expiry, the
   * 256-token limit, a location already uploaded (or, in Intune mode, already in Intune), and who holds the
   * token. Apple is only read: reading a token's client config takes it from nobody.
   */
  async inspectUpload(tenantId: string, content: string): Promise<PendingToken> {
    const file = this.parse(content);
    const { store } = this.options;
    const count = await store.tokens.countInTenant(tenantId);
    if (count >= MAX_TOKENS_PER_TENANT) {
      throw new UserFacingError(
        `You already have ${formatCount(count)} VPP tokens, the most one organisation can have (${formatCount(MAX_TOKENS_PER_TENANT)}). Remove a token you no longer use (type **tokens**), then upload this one.`,
        'token_limit_reached',
      );
    }
    const apple = this.options.apple.forToken(file.secret);
    const config = await apple.getClientConfig();
    const location: TokenLocation = { tenantId, organizationName: file.orgName, locationId: config.uId, locationName: config.locationName ?? file.orgName };
    await this.refuseDuplicateLocation(tenantId, config);
    await this.custody.refuseHeld(location);
    const ownership = await apple.checkOwnership(this.options.mdm.id);
    const otherMdmName = this.custody.takeFrom(ownership);
    let bookCount = 0;
    // A read that starts again (Apple's list changed mid-way) counts from zero again.
    for await (const page of apple.assetPages({ onRestart: () => (bookCount = 0) })) bookCount += page.assets.length;

    const pendingId = randomUUID();
    return {
      pendingId,
      tenantId,
      encryptedToken: this.options.cipher.encrypt(file.secret, pendingTokenCipherContext(tenantId, pendingId)),
      organizationName: file.orgName,
      expirationDateTime: file.expiresAt.toISOString(),
      locationId: location.locationId,
      locationName: location.locationName,
      countryOrRegion: config.countryISO2ACode,
      bookCount,
      ...this.otherMdm(otherMdmName, ownership),
    };
  }

  /** The MDM to take the token from, if any, and whether Apple names this bot while another holder (Intune) would take it. */
  private otherMdm(otherMdmName: string | undefined, ownership: TokenOwnership): Pick<PendingToken, 'otherMdmName' | 'otherMdmIsThisBot'> {
    const isThisBot = otherMdmName !== undefined && ownership.state === 'ours' && this.custody.kind !== 'apple';
    return { otherMdmName, ...(isThisBot ? { otherMdmIsThisBot: true } : {}) };
  }

  private async refuseDuplicateLocation(tenantId: string, config: ClientConfig): Promise<void> {
    if (!config.uId && !config.locationName) return;
    const existing = await this.options.store.tokens.findByLocation(tenantId, { locationId: config.uId, locationName: config.uId ? undefined : config.locationName });
    const first = existing[0];
    if (first) {
      throw new UserFacingError(
        `A token for the Apple location "${escapeMarkdown(first.locationName)}" is already uploaded ("${escapeMarkdown(first.displayName)}"). To replace it with this newer file, renew it instead: type **renew ${escapeMarkdown(first.locationName)}**.`,
        'duplicate_location',
      );
    }
  }

  /** Stores a confirmed upload and hands the token to its holder (this bot at Apple, or Intune). */
  async saveUpload(actor: AdminActor, pendingInput: PendingToken, save: SaveOptions): Promise<VppToken> {
    const pending = pendingTokenSchema.parse(pendingInput);
    if (pending.tenantId !== actor.tenantId) throw new UserFacingError('That upload belongs to another organisation.', 'pending_wrong_tenant');
    if (pending.otherMdmName && !save.takeOver) {
      throw new UserFacingError(`Nothing was saved: the token stays with ${escapeMarkdown(pending.otherMdmName)}.`, 'takeover_declined');
    }
    const { cipher } = this.options;
    const secret = cipher.decrypt(pending.encryptedToken, pendingTokenCipherContext(pending.tenantId, pending.pendingId));
    const apple = this.options.apple.forToken(secret);
    // Checked again: another admin may have uploaded the same location while this one was confirming.
    await this.refuseDuplicateLocation(actor.tenantId, await apple.getClientConfig());
    const location: TokenLocation = { tenantId: actor.tenantId, organizationName: pending.organizationName, locationId: pending.locationId, locationName: pending.locationName };
    await this.custody.refuseHeld(location);
    const displayName = tokenDisplayName(pending.organizationName, pending.locationName);
    const held = await this.custody.take({
      ...location,
      proposedTokenId: randomUUID(),
      secret,
      appleId: save.appleId,
      accountType: save.accountType,
      displayName,
      takeOver: save.takeOver && pending.otherMdmName !== undefined,
    });

    const now = this.now().toISOString();
    const reported = held.reported ?? {};
    const token: VppToken = {
      id: held.tokenId,
      tenantId: actor.tenantId,
      displayName,
      organizationName: reported.organizationName ?? pending.organizationName,
      appleId: save.appleId,
      accountType: save.accountType,
      locationId: pending.locationId,
      locationName: pending.locationName,
      countryOrRegion: reported.countryOrRegion ?? pending.countryOrRegion,
      expirationDateTime: reported.expirationDateTime ?? pending.expirationDateTime,
      state: reported.state ?? 'valid',
      lastSyncStatus: 'none',
      consecutiveSyncFailures: 0,
      ...(held.encryptedToken ? { encryptedToken: held.encryptedToken } : {}),
      ...(held.intuneTokenId ? { intuneTokenId: held.intuneTokenId } : {}),
      ...(held.fingerprint ? { fingerprint: held.fingerprint } : {}),
      createdBy: { aadObjectId: actor.aadObjectId, displayName: actor.name },
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    const saved = await this.createRecord(token);
    await this.audit(actor, 'token.upload', saved, 'success', {
      tookOverFrom: pending.otherMdmName ?? null,
      books: pending.bookCount,
    });
    return saved;
  }

  /**
   * Writes a new token's record within the tenant's limit. In Intune mode the record is named after Intune's
   * token, so a mirror pass that met the token first (IntuneTokenMirror) wrote that very record: it then
   * gets the admin's details. A token the limit refused is let go again, so the holder keeps no token the
   * bot does not list.
   */
  private async createRecord(token: VppToken): Promise<VppToken> {
    const { store } = this.options;
    let result;
    try {
      result = await store.tokens.createWithinLimit(token);
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err;
      const written = await store.tokens.update(token.tenantId, token.id, (found) => ({ ...token, createdDateTime: found.createdDateTime }));
      if (!written) throw err;
      return written.value;
    }
    if (!result.created) {
      await this.custody.release(token);
      throw new UserFacingError(`Nothing was saved: your organisation already has ${formatCount(result.count)} VPP tokens, the most allowed (${formatCount(MAX_TOKENS_PER_TENANT)}).`, 'token_limit_reached');
    }
    return result.token;
  }

  listTokens(tenantId: string): Promise<VppToken[]> {
    return this.options.store.tokens.listByTenant(tenantId);
  }

  async getToken(tenantId: string, tokenId: string): Promise<VppToken> {
    const token = await this.options.store.tokens.get(tenantId, tokenId);
    if (!token) throw new UserFacingError('That token no longer exists; it may have been removed. Type **tokens** to see the current list.', 'token_not_found');
    return token;
  }

  async bookCount(tokenId: string): Promise<number> {
    return (await this.books(tokenId)).length;
  }

  /** The books bought through the token, as the last sync stored them. */
  books(tokenId: string): Promise<EBook[]> {
    return this.options.store.books.listByToken(tokenId);
  }

  /**
   * Tokens whose name, organisation or location is `query`, else contains it, compared as names are
   * (nameMatch: case, accents, kinds of dash and spacing do not count): a hyphen finds Apple's en dash.
   */
  async findTokens(tenantId: string, query: string): Promise<VppToken[]> {
    const tokens = await this.listTokens(tenantId);
    const q = nameQuery(query);
    if (!q.normalised) return tokens;
    const exact = tokens.filter((t) => t.id === query.trim() || q.equals(t.displayName, t.locationName, t.organizationName));
    if (exact.length > 0) return exact;
    return tokens.filter((t) => q.within(t.displayName, t.locationName, t.organizationName));
  }

  /** Replaces a token's file with a newer one for the same Apple location; the expiry updates at once. */
  async renew(actor: AdminActor, tokenId: string, content: string): Promise<VppToken> {
    const { current, file, ownership } = await this.checkRenewal(actor, tokenId, content);
    return this.writeRenewal(actor, current, file, ownership, false);
  }

  /**
   * The renewal's checks (format, expiry, same Apple location), then who Apple says manages the token: when the
   * holder would take it from another MDM (Intune mode, a token another MDM took or this bot held in Apple
   * mode), the admin is asked first. Nothing is written; the file waits encrypted in the pending renewal.
   */
  async inspectRenewal(actor: AdminActor, tokenId: string, content: string): Promise<PendingRenewal> {
    const { current, file, ownership } = await this.checkRenewal(actor, tokenId, content);
    const otherMdmName = this.custody.renewalTakesFrom?.(current, ownership);
    const pendingId = randomUUID();
    return {
      pendingId,
      tenantId: actor.tenantId,
      tokenId: current.id,
      encryptedToken: this.options.cipher.encrypt(file.secret, pendingTokenCipherContext(actor.tenantId, pendingId)),
      expirationDateTime: file.expiresAt.toISOString(),
      ...this.otherMdm(otherMdmName, ownership),
    };
  }

  /**
   * Renews with an inspected file. `takeOver`: the admin agreed that the holder takes the token from the MDM the
   * inspection named; Apple is asked again, and a token another MDM took meanwhile is refused with its name.
   */
  async saveRenewal(actor: AdminActor, pendingInput: PendingRenewal, save: { takeOver: boolean }): Promise<VppToken> {
    const pending = pendingRenewalSchema.parse(pendingInput);
    if (pending.tenantId !== actor.tenantId) throw new UserFacingError('That renewal belongs to another organisation.', 'pending_wrong_tenant');
    if (pending.otherMdmName && !save.takeOver) {
      throw new UserFacingError(`Nothing was renewed: the token stays with ${pending.otherMdmIsThisBot ? 'me' : escapeMarkdown(pending.otherMdmName)}.`, 'takeover_declined');
    }
    const secret = this.options.cipher.decrypt(pending.encryptedToken, pendingTokenCipherContext(pending.tenantId, pending.pendingId));
    const { current, file, ownership } = await this.checkRenewal(actor, pending.tokenId, secret.reveal());
    const otherNow = this.custody.renewalTakesFrom?.(current, ownership);
    if (otherNow !== undefined && otherNow !== pending.otherMdmName) {
      const name = escapeMarkdown(current.displayName);
      throw new UserFacingError(
        `Apple now says ${escapeMarkdown(otherNow)} manages "${name}", which you did not agree to take it from. Nothing was renewed; type **renew ${name}** to see what taking control means and confirm it.`,
        'renew_other_mdm',
      );
    }
    return this.writeRenewal(actor, current, file, ownership, otherNow !== undefined);
  }

  /** The checks every renewal makes before its holder sees the file: the token, the file, and the Apple location. */
  private async checkRenewal(actor: AdminActor, tokenId: string, content: string): Promise<{ current: VppToken; file: VppTokenFile; ownership: TokenOwnership }> {
    const current = await this.getToken(actor.tenantId, tokenId);
    const file = this.parse(content);
    const apple = this.options.apple.forToken(file.secret);
    const config = await apple.getClientConfig();
    const sameLocation = current.locationId && config.uId ? current.locationId === config.uId : current.locationName === config.locationName;
    if (!sameLocation) {
      await this.audit(actor, 'token.renew', current, 'refused', { reason: 'different_location' });
      throw new UserFacingError(
        `That file is for the Apple location "${escapeMarkdown(config.locationName ?? 'unknown')}", not "${escapeMarkdown(current.locationName)}". Send me the token downloaded for "${escapeMarkdown(current.locationName)}"; to add this file as a token of its own instead, stop the renewal (**cancel**) and type **upload token**.`,
        'renew_different_location',
      );
    }
    return { current, file, ownership: await apple.checkOwnership(this.options.mdm.id) };
  }

  private async writeRenewal(actor: AdminActor, current: VppToken, file: VppTokenFile, ownership: TokenOwnership, takeOver: boolean): Promise<VppToken> {
    const tokenId = current.id;
    const held = await this.custody.renew(current, { secret: file.secret, ownership, takeOver });
    const reported = held.reported ?? {};
    const written = await this.options.store.tokens.update(actor.tenantId, tokenId, (token) => ({
      ...token,
      organizationName: reported.organizationName ?? file.orgName,
      expirationDateTime: reported.expirationDateTime ?? file.expiresAt.toISOString(),
      countryOrRegion: reported.countryOrRegion ?? token.countryOrRegion,
      state: reported.state ?? 'valid',
      externalMdm: undefined,
      lastError: undefined,
      consecutiveSyncFailures: 0,
      encryptedToken: held.encryptedToken,
      intuneTokenId: held.intuneTokenId ?? token.intuneTokenId,
      fingerprint: held.fingerprint,
    }));
    if (!written) throw new UserFacingError('That token no longer exists; it may have been removed meanwhile.', 'token_not_found');
    if (held.intuneTokenId && held.intuneTokenId !== current.intuneTokenId) await this.forgetTwins(written.value);
    await this.audit(actor, 'token.renew', written.value, 'success', { expires: written.value.expirationDateTime, ...(takeOver ? { tookOver: true } : {}) });
    return written.value;
  }

  /**
   * A record handed to Intune on renewal (uploaded while the bot held tokens itself) keeps its id; a mirror
   * pass that met Intune's new token before the record said so wrote a second record for it, which goes
   * (from the store only: Intune's token is this record's now).
   */
  private async forgetTwins(record: VppToken): Promise<void> {
    const twins = (await this.listTokens(record.tenantId)).filter((t) => t.id !== record.id && t.intuneTokenId === record.intuneTokenId);
    for (const twin of twins) await this.forget(twin);
  }

  /**
   * Whether removing the token deletes it in its holder too, with everything the holder keeps for it: Intune
   * deletes its books and their assignments. Not for a token Intune no longer has, nor one it never had.
   */
  removalDeletesInIntune(token: VppToken): boolean {
    return this.custody.kind === 'intune' && token.intuneTokenId !== undefined && token.lastError?.code !== TOKEN_REMOVED_FROM_INTUNE;
  }

  /** Removes a token (from its holder first, so a refusal there leaves everything as it was) and everything synced for it; the audit trail stays. */
  async remove(actor: AdminActor, tokenId: string): Promise<{ token: VppToken; removedBooks: number }> {
    const token = await this.getToken(actor.tenantId, tokenId);
    await this.custody.release(token);
    const removedBooks = await this.forget(token);
    await this.audit(actor, 'token.remove', token, 'success', { removedBooks });
    return { token, removedBooks };
  }

  /** Deletes the record and everything synced for it from the store; the number of books deleted. */
  private async forget(token: VppToken): Promise<number> {
    const { store } = this.options;
    const removedBooks = await store.books.deleteAllForToken(token.id);
    await store.assignments.deleteAllForToken(token.id);
    await store.vppUsers.deleteAllForToken(token.id);
    await store.syncRuns.deleteAllForToken(token.id);
    await store.notifications.deleteAllForToken(token.id);
    for (const remove of this.options.alsoRemove ?? []) await remove(token.id);
    await store.tokens.delete(token.tenantId, token.id);
    return removedBooks;
  }

  private async audit(actor: AdminActor, action: string, token: VppToken, outcome: AuditEntry['outcome'], details: Record<string, string | number | boolean | null>): Promise<void> {
    await this.options.store.audit.record({
      tenantId: actor.tenantId,
      actor: { aadObjectId: actor.aadObjectId, displayName: actor.name },
      action,
      target: { type: 'token', id: token.id, name: token.displayName },
      tokenId: token.id,
      outcome,
      details,
    });
  }
}
