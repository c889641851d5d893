import { tokenFingerprint } from '../apple/VppTokenFile';
import type { TokenOwnership } from '../apple/AppleBooksClient';
import type { HeldToken, TakeTokenInput, TokenCustody, TokenLocation } from '../backend/ports';
import { escapeMarkdown } from '../common/chatText';
import { namesEqual } from '../common/nameMatch';
import { UserFacingError } from '../errors';
import type { Secret } from '../secrets/Secret';
import type { VppToken } from '../store/entities/vppToken';
import type { IntuneApi, IntuneVppToken } from './IntuneApi';
import { intuneRecordId, intuneTokenFields, notInIntuneMessage } from './IntuneTokenMirror';

/**
 * Intune names itself in Apple's mdmInfo ("Microsoft Intune"): a token Apple says Intune manages is Intune's
 * already, in this organisation's Intune or another's, and is refused rather than taken from it.
 */
const INTUNE_AT_APPLE = /intune/i;

export interface IntuneTokenCustodyOptions {
  intune: IntuneApi;
}

/** The location of one of Intune's tokens is the upload's: by location name where Intune gives one (beta), else by organisation. */
function sameLocation(held: IntuneVppToken, location: TokenLocation): boolean {
  if (held.locationName) return namesEqual(held.locationName, location.locationName);
  return namesEqual(held.organizationName, location.organizationName);
}

/** What Intune said of the token on create or update, as the token service writes it to the record. */
function reported(token: IntuneVppToken): HeldToken['reported'] {
  const { state, organizationName, expirationDateTime, countryOrRegion, appleId, locationName } = intuneTokenFields(token);
  return { state, organizationName, expirationDateTime, countryOrRegion, appleId, locationName };
}

/**
 * VPP_BACKEND=intune: Intune holds the token, through Graph (`POST/PATCH/DELETE /deviceAppManagement/vppTokens`).
 * The bot keeps no copy, only Intune's id and the file's fingerprint; the record is named after Intune's token.
 */
export class IntuneTokenCustody implements TokenCustody {
  readonly kind = 'intune' as const;
  readonly holderName = 'Intune';

  constructor(private readonly options: IntuneTokenCustodyOptions) {}

  /** A token uploaded in Intune directly is in Intune's list before the bot's sync has listed it. */
  async refuseHeld(location: TokenLocation): Promise<void> {
    const held = (await this.options.intune.listVppTokens()).find((t) => sameLocation(t, location));
    if (!held) return;
    const where = escapeMarkdown(location.locationName);
    const name = escapeMarkdown(held.displayName || held.locationName || held.organizationName);
    throw new UserFacingError(
      `Intune already has a token for the Apple location "${where}" ("${name}"), so this file is not added again. The bot lists Intune's tokens by itself: it shows up under **tokens** after the next sync (type **sync all**). To replace it with this newer file, renew it then: type **renew ${where}**.`,
      'duplicate_in_intune',
    );
  }

  takeFrom(ownership: TokenOwnership): string | undefined {
    switch (ownership.state) {
      case 'unclaimed':
        return undefined;
      case 'ours':
        // This bot manages it itself (it was uploaded while VPP_BACKEND was apple): Intune takes it only with consent.
        return ownership.mdmInfo.name || 'VPP Books';
      case 'otherMdm':
        if (!INTUNE_AT_APPLE.test(ownership.mdmName)) return ownership.mdmName;
        throw new UserFacingError(
          `Apple says ${escapeMarkdown(ownership.mdmName)} already manages this token, so it is not added again. If it is in your organisation's Intune, it shows up under **tokens** after the next sync (type **sync all**); if another organisation's Intune has it, it must be removed there first.`,
          'duplicate_in_intune',
        );
    }
  }

  async take(input: TakeTokenInput): Promise<HeldToken> {
    const created = await this.options.intune.createVppToken({
      token: input.secret,
      appleId: input.appleId,
      accountType: input.accountType,
      displayName: input.displayName,
      claimFromExternalMdm: input.takeOver,
    });
    return { tokenId: intuneRecordId(created.id), intuneTokenId: created.id, fingerprint: tokenFingerprint(input.secret.reveal()), reported: reported(created) };
  }

  async renew(token: VppToken, file: { secret: Secret; ownership: TokenOwnership }): Promise<HeldToken> {
    if (!token.intuneTokenId) throw new UserFacingError(notInIntuneMessage(token), 'token_not_in_intune');
    const { ownership } = file;
    const other = ownership.state === 'ours' ? ownership.mdmInfo.name || 'VPP Books' : ownership.state === 'otherMdm' && !INTUNE_AT_APPLE.test(ownership.mdmName) ? ownership.mdmName : undefined;
    if (other) {
      const name = escapeMarkdown(token.displayName);
      throw new UserFacingError(
        `Apple says ${escapeMarkdown(other)} now manages this token, not Intune. To give it back to Intune, remove it (type **remove ${name}**) and upload it again (**upload token**): you see what taking control means and confirm it.`,
        'renew_other_mdm',
      );
    }
    const updated = await this.options.intune.updateVppToken(token.intuneTokenId, { token: file.secret });
    return { tokenId: token.id, intuneTokenId: updated.id, fingerprint: tokenFingerprint(file.secret.reveal()), reported: reported(updated) };
  }

  async release(token: VppToken): Promise<void> {
    const id = token.intuneTokenId;
    if (!id) return;
    try {
      await this.options.intune.deleteVppToken(id);
    } catch (err) {
      // Removed in Intune already (the mirror marks such records): nothing left to let go of.
      if ((await this.options.intune.getVppToken(id).catch(() => null)) === undefined) return;
      throw err;
    }
  }
}
