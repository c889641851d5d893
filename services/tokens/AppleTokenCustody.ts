import { UserFacingError } from '../errors';
import { escapeMarkdown } from '../common/chatText';
import type { TokenOwnership } from '../apple/AppleBooksClient';
import type { HeldToken, TakeTokenInput, TokenCustody } from '../backend/ports';
import type { TokenCipher } from '../crypto/TokenCipher';
import type { Secret } from '../secrets/Secret';
import { tokenCipherContext, type VppToken } from '../store/entities/vppToken';
import type { AppleClientFactory } from './AppleClientFactory';

export interface AppleTokenCustodyOptions {
  cipher: TokenCipher;
  apple: AppleClientFactory;
  /** This bot's MDM identity at Apple. */
  mdm: { id: string; name: string };
}

/** Apple's `mdmInfo.metadata` for the bot's claim: what an Apple admin sees beside the MDM name. */
const CLAIM_METADATA = 'Microsoft Teams VPP Books bot';

/**
 * VPP_BACKEND=apple: the bot is the token's MDM. It claims the token at Apple on save (and on renewal
 * when nobody holds it) and keeps it encrypted, bound to its record; removal leaves Apple alone.
 */
export class AppleTokenCustody implements TokenCustody {
  readonly kind = 'apple' as const;
  readonly holderName = 'VPP Books';

  constructor(private readonly options: AppleTokenCustodyOptions) {}

  /** The store's duplicate-location check (the token service's) is all there is: the bot holds nothing else. */
  refuseHeld(): Promise<void> {
    return Promise.resolve();
  }

  takeFrom(ownership: TokenOwnership): string | undefined {
    return ownership.state === 'otherMdm' ? ownership.mdmName : undefined;
  }

  async take(input: TakeTokenInput): Promise<HeldToken> {
    await this.claim(input.secret);
    return { tokenId: input.proposedTokenId, encryptedToken: this.encrypt(input.secret, { tenantId: input.tenantId, id: input.proposedTokenId }) };
  }

  async renew(token: VppToken, file: { secret: Secret; ownership: TokenOwnership }): Promise<HeldToken> {
    const { ownership } = file;
    if (ownership.state === 'otherMdm') {
      throw new UserFacingError(
        `Apple says ${escapeMarkdown(ownership.mdmName)} now manages this token. Upload it as a new token to see the consequences and take control explicitly.`,
        'renew_other_mdm',
      );
    }
    if (ownership.state === 'unclaimed') await this.claim(file.secret);
    return { tokenId: token.id, encryptedToken: this.encrypt(file.secret, token) };
  }

  /** Apple keeps the claim until another MDM takes the token; the record (and its ciphertext) goes with the token service. */
  release(): Promise<void> {
    return Promise.resolve();
  }

  private async claim(secret: Secret): Promise<void> {
    const { mdm } = this.options;
    await this.options.apple.forToken(secret).claimToken({ id: mdm.id, name: mdm.name, metadata: CLAIM_METADATA });
  }

  private encrypt(secret: Secret, record: Pick<VppToken, 'tenantId' | 'id'>) {
    return this.options.cipher.encrypt(secret, tokenCipherContext(record));
  }
}
