import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { expiryLabel, takeOverButtonTitle, tokenPreviewCard } from '../../cards/tokenCards';
import { escapeMarkdown } from '../../services/common/chatText';
import type { TokenFileReader, TokenUpload } from '../../services/tokens/TokenFileReader';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { pendingRenewalSchema, tokenRefSchema, type PendingRenewal, type TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { TokenFilePrompt } from '../prompts/TokenFilePrompt';
import { cardMessage } from '../replies';
import { SelectTokenDialog, beginSelectToken } from './SelectTokenDialog';
import { otherMdmNotice, otherMdmWords, PASTED_TOKEN_WARNING, tookControlFrom } from './UploadTokenDialog';
import { askFileAgain, fileTries, retryFileOrEnd } from './fileRetry';

const FILE = 'renewToken.file';
const CHOICE = 'renewToken.choice';
const STEPS = 'renewToken.steps';

/** The token being renewed, while the file is asked for; then the checked file (encrypted) while consent is asked for. */
const renewState = flowState('renew', tokenRefSchema.pick({ tokenId: true }).extend({ pending: pendingRenewalSchema }));

/**
 * "renew": replace a token's file with the newer one for the same Apple location. A refused file (another
 * location, expired, unreadable) is asked for again, a few times, for the same token. In Intune mode a token
 * another MDM took (or this bot held itself) goes back to Intune with the new file, after the same explicit
 * Take control card an upload shows; nothing is sent to Intune before it is confirmed.
 */
export class RenewTokenDialog extends ComponentDialog {
  static readonly id = 'renewToken';

  constructor(
    private readonly tokens: TokenService,
    private readonly reader: TokenFileReader,
    private readonly now: () => Date = () => new Date(),
  ) {
    super(RenewTokenDialog.id);
    this.addDialog(new SelectTokenDialog(tokens));
    this.addDialog(new TokenFilePrompt(FILE));
    this.addDialog(new CardChoicePrompt(CHOICE));
    this.addDialog(
      new WaterfallDialog(STEPS, [(step) => beginSelectToken(step, 'renew'), (step) => this.askFile(step), (step) => this.inspect(step), (step) => this.confirm(step), (step) => this.renew(step)]),
    );
    this.initialDialogId = STEPS;
  }

  private actor(step: WaterfallStepContext): AdminActor {
    return flowActor(step.options, 'renew');
  }

  private async askFile(step: WaterfallStepContext): Promise<DialogTurnResult> {
    // SelectTokenDialog's answer: the token's id, or nothing when none was found or picked.
    const tokenId: unknown = step.result;
    if (typeof tokenId !== 'string' || !tokenId) return step.endDialog();
    const token = await this.tokens.getToken(this.actor(step).tenantId, tokenId);
    renewState.write(step, { tokenId: token.id });
    const what = `the new **.vpptoken** file for **${escapeMarkdown(token.displayName)}** (Apple location "${escapeMarkdown(token.locationName)}")`;
    const prompt = `Send me ${what}: attach it, or paste its content. Type **cancel** to stop.`;
    const tries = fileTries(step);
    return step.prompt(FILE, { prompt: tries === 0 ? prompt : askFileAgain(tries, what), retryPrompt: `I still need the new token file. ${prompt}` });
  }

  /** The file against its token and Apple; when the holder would take the token from another MDM, that is said at once. */
  private async inspect(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const upload = step.result as TokenUpload;
    const { tokenId } = renewState.read(step, 'tokenId');
    let pending: PendingRenewal;
    try {
      const content = await this.reader.read(upload);
      pending = await this.tokens.inspectRenewal(this.actor(step), tokenId, content);
    } catch (err) {
      // Restarted with the token it renews, so the file is asked for the same one without asking which.
      return retryFileOrEnd(step, err, { steps: STEPS, command: 'renew', keep: { tokenId } });
    }
    renewState.write(step, { pending });
    if (upload.kind === 'text') await step.context.sendActivity(PASTED_TOKEN_WARNING);
    if (pending.otherMdmName) await step.context.sendActivity(otherMdmNotice(pending.otherMdmName, this.tokens.holder.kind, pending.otherMdmIsThisBot));
    return step.next();
  }

  /** Only a renewal that takes the token from another MDM asks: the same card, facts and Take control as an upload. */
  private async confirm(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { pending } = renewState.read(step, 'pending');
    if (!pending.otherMdmName) return step.next('renew');
    let token;
    let bookCount;
    try {
      token = await this.tokens.getToken(this.actor(step).tenantId, pending.tokenId);
      bookCount = await this.tokens.bookCount(token.id);
    } catch (err) {
      return endWithError(step, err);
    }
    const holder = this.tokens.holder.kind;
    const card = tokenPreviewCard(
      {
        ref: pending.pendingId,
        organizationName: token.organizationName,
        locationName: token.locationName,
        countryOrRegion: token.countryOrRegion,
        expirationDateTime: pending.expirationDateTime,
        bookCount,
        appleId: token.appleId ?? '',
        accountType: token.accountType,
        otherMdmName: pending.otherMdmName,
        holder,
        otherMdmIsThisBot: pending.otherMdmIsThisBot,
        renewal: true,
      },
      this.now(),
    );
    const from = otherMdmWords(pending);
    // Answered, the card becomes this line and loses its buttons: a second Take control cannot be clicked.
    const validations: CardChoiceValidations = {
      ref: pending.pendingId,
      question: `Renew **${escapeMarkdown(token.displayName)}** and let ${escapeMarkdown(this.tokens.holder.name)} take control from ${from}?`,
      choices: [
        // Titles as the card's buttons say them (plain text).
        { value: 'takeover', title: takeOverButtonTitle({ holder, otherMdmName: pending.otherMdmName }), synonyms: ['take control', 'take over', 'takeover'] },
        { value: 'cancel', title: 'Cancel', synonyms: ['no', 'cancel'] },
      ],
    };
    return step.prompt(CHOICE, { prompt: cardMessage(card), retryPrompt: `Type **take control** to renew the token and take it from ${from}, or **cancel**.`, validations });
  }

  private async renew(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { pending } = renewState.read(step, 'pending');
    if (step.result === 'cancel') {
      await step.context.sendActivity(`Cancelled. Nothing was renewed and the token stays with ${otherMdmWords(pending)}.`);
      return step.endDialog();
    }
    try {
      const token = await this.tokens.saveRenewal(this.actor(step), pending, { takeOver: step.result === 'takeover' });
      const name = escapeMarkdown(token.displayName);
      const expires = `It now expires on ${expiryLabel(token.expirationDateTime, this.now())}.`;
      if (!pending.otherMdmName) {
        await step.context.sendActivity(`Renewed **${name}**. ${expires}`);
      } else {
        await step.context.sendActivity(`Renewed **${name}**, and ${escapeMarkdown(this.tokens.holder.name)} took control of it from ${tookControlFrom(pending)}. ${expires} Type **sync ${name}** to read its books again now.`);
      }
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
