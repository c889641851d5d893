import { tokenFingerprint } from '../apple/VppTokenFile';
import type { TokenOwnership } from '../apple/AppleBooksClient';
import type { HeldToken, TakeTokenInput, TokenCustody, TokenLocation } from '../backend/ports';
import { escapeMarkdown } from '../common/chatText';
import { namesEqual } from '../common/nameMatch';
import { UserFacingError } from '../errors';
import type { Secret } from '../secrets/Secret';
import type { VppToken } from '../store/entities/vppToken';
import type { IntuneApi, IntuneVppToken } from './IntuneApi';
import { namingTheToken } from './IntuneError';
import { intuneRecordId, intuneTokenFields } from './IntuneTokenMirror';

/**
 * Intune names itself in Apple's mdmInfo ("Microsoft Intune"): a token Apple says Intune manages is Intune's
 * already, in this organisation's Intune or another's, and is refused rather than taken from it.
 */
const INTUNE_AT_APPLE = /intune/i;

export interface IntuneTokenCustodyOptions {
  intune: IntuneApi;
}

/**
 * The location of one of Intune's tokens is the upload's, by Intune's location name (beta). Without one
 * nothing says which location a token serves, and an organisation has many: the organisation's name alone
 * refuses nothing (Apple's own check, the token's MDM at Apple, still refuses a location Intune holds).
 */
function sameLocation(held: IntuneVppToken, location: TokenLocation): boolean {
  return held.locationName !== undefined && held.locationName !== '' && namesEqual(held.locationName, location.locationName);
}

/**
 * The MDM Intune would take the token from, by who Apple says manages it: none when nobody or Intune does;
 * this bot when it claimed the token itself (while VPP_BACKEND was apple).
 */
function heldElsewhere(ownership: TokenOwnership): string | undefined {
  switch (ownership.state) {
    case 'unclaimed':
      return undefined;
    case 'ours':
      return ownership.mdmInfo.name || 'VPP Books';
    case 'otherMdm':
      return INTUNE_AT_APPLE.test(ownership.mdmName) ? undefined : ownership.mdmName;
  }
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
    if (ownership.state === 'otherMdm' && INTUNE_AT_APPLE.test(ownership.mdmName)) {
      throw new UserFacingError(
        `Apple says ${escapeMarkdown(ownership.mdmName)} already manages this token, so it is not added again. If it is in your organisation's Intune, it shows up under **tokens** after the next sync (type **sync all**); if another organisation's Intune has it, it must be removed there first.`,
        'duplicate_in_intune',
      );
    }
    // This bot itself (it was uploaded while VPP_BACKEND was apple) is taken from only with consent too.
    return heldElsewhere(ownership);
  }

  /** On renewal the same: a token another MDM took, or this bot held, goes (back) to Intune only with consent. */
  renewalTakesFrom(_token: VppToken, ownership: TokenOwnership): string | undefined {
    return heldElsewhere(ownership);
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

  /**
   * The new file goes to Intune (`PATCH vppTokens/{id}`); with the admin's consent Intune also takes the token
   * back from the MDM Apple names (beta `claimTokenManagementFromExternalMdm`). A record Intune never had (its
   * token was uploaded while the bot held tokens itself) is handed to Intune: Intune creates the token, taking
   * it from this bot, and the record keeps its id, books and history.
   */
  async renew(token: VppToken, file: { secret: Secret; ownership: TokenOwnership; takeOver?: boolean }): Promise<HeldToken> {
    const other = heldElsewhere(file.ownership);
    const name = escapeMarkdown(token.displayName);
    if (other && !file.takeOver) {
      throw new UserFacingError(
        `Apple says ${escapeMarkdown(other)} now manages "${name}", not Intune. Nothing was renewed. Type **renew ${name}** and send its newest file: I show what taking control means, and Intune takes the token only once you confirm.`,
        'renew_other_mdm',
      );
    }
    const claim = other !== undefined;
    const fingerprint = tokenFingerprint(file.secret.reveal());
    if (!token.intuneTokenId) {
      if (file.ownership.state === 'otherMdm' && !other) {
        throw new UserFacingError(
          `Apple says ${escapeMarkdown(file.ownership.mdmName)} already manages the token of "${name}", so it is not handed to Intune again. If it is in your organisation's Intune, it is listed under **tokens** after the next sync (type **sync all**). Nothing was renewed.`,
          'duplicate_in_intune',
        );
      }
      if (!token.appleId) {
        throw new UserFacingError(`I do not know which Apple Account administers "${name}", and Intune needs it. Nothing was renewed.`, 'token_not_in_intune');
      }
      const created = await this.options.intune.createVppToken({ token: file.secret, appleId: token.appleId, accountType: token.accountType, displayName: token.displayName, claimFromExternalMdm: claim });
      return { tokenId: token.id, intuneTokenId: created.id, fingerprint, reported: reported(created) };
    }
    const updated = await namingTheToken(this.options.intune.updateVppToken(token.intuneTokenId, { token: file.secret, ...(claim ? { claimFromExternalMdm: true } : {}) }), token);
    return { tokenId: token.id, intuneTokenId: updated.id, fingerprint, reported: reported(updated) };
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
