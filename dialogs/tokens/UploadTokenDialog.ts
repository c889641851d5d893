import { ComponentDialog, TextPrompt, WaterfallDialog, type DialogTurnResult, type PromptValidatorContext, type WaterfallStepContext } from 'botbuilder-dialogs';
import { choiceQuestionCard, expiryLabel, tokenPreviewCard } from '../../cards/tokenCards';
import { escapeMarkdown } from '../../services/common/chatText';
import { emailSchema } from '../../services/common/email';
import type { TokenFileReader, TokenUpload } from '../../services/tokens/TokenFileReader';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { pendingTokenSchema, saveOptionsSchema, type TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { TokenFilePrompt } from '../prompts/TokenFilePrompt';
import { cardMessage } from '../replies';

const FILE = 'uploadToken.file';
const APPLE_ID = 'uploadToken.appleId';
const CHOICE = 'uploadToken.choice';

export const ASK_FOR_FILE =
  'Send me the **.vpptoken** file: attach it to your next message. You download it in Apple Business Manager or Apple School Manager under ' +
  'Preferences > Payments and Billing > Content Tokens. You can also paste the file content, or type **cancel**.';

export const PASTED_TOKEN_WARNING =
  'I accepted the pasted token. Next time, please attach the .vpptoken file instead: chat history keeps what you paste, so consider deleting that message.';

/** Apple's view of the file (the token inside encrypted), then the admin's answers, until it is saved. */
const uploadState = flowState('upload token', saveOptionsSchema.pick({ appleId: true, accountType: true }).extend({ pending: pendingTokenSchema }));

/**
 * "upload token": file → Apple's view of it (organisation, location, expiry, books, who manages it) →
 * Apple ID → account type → confirmation card → saved. Every refusal is specific and stores nothing.
 */
export class UploadTokenDialog extends ComponentDialog {
  static readonly id = 'uploadToken';

  constructor(
    private readonly tokens: TokenService,
    private readonly reader: TokenFileReader,
    private readonly now: () => Date = () => new Date(),
  ) {
    super(UploadTokenDialog.id);
    this.addDialog(new TokenFilePrompt(FILE));
    this.addDialog(new TextPrompt(APPLE_ID, (prompt: PromptValidatorContext<string>) => Promise.resolve(emailSchema.safeParse((prompt.recognized.value ?? '').trim()).success)));
    this.addDialog(new CardChoicePrompt(CHOICE));
    this.addDialog(
      new WaterfallDialog('uploadToken.steps', [
        (step) => this.askFile(step),
        (step) => this.inspect(step),
        (step) => this.askAppleId(step),
        (step) => this.askAccountType(step),
        (step) => this.confirm(step),
        (step) => this.save(step),
      ]),
    );
    this.initialDialogId = 'uploadToken.steps';
  }

  private actor(step: WaterfallStepContext): AdminActor {
    return flowActor(step.options, 'upload token');
  }

  private async askFile(step: WaterfallStepContext): Promise<DialogTurnResult> {
    return step.prompt(FILE, { prompt: ASK_FOR_FILE, retryPrompt: `I still need the token file. ${ASK_FOR_FILE}` });
  }

  private async inspect(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const upload = step.result as TokenUpload;
    try {
      const content = await this.reader.read(upload);
      const pending = await this.tokens.inspectUpload(this.actor(step).tenantId, content);
      uploadState.write(step, { pending });
    } catch (err) {
      return endWithError(step, err);
    }
    if (upload.kind === 'text') await step.context.sendActivity(PASTED_TOKEN_WARNING);
    return step.next();
  }

  private async askAppleId(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { pending } = uploadState.read(step, 'pending');
    return step.prompt(APPLE_ID, {
      prompt: `The token is for **${escapeMarkdown(pending.organizationName)}**. Which Apple ID (Managed Apple Account) administers this VPP account? For example vpp-admin@contoso.com.`,
      retryPrompt: 'That does not look like an Apple ID. Type the email address of the Apple account, or **cancel**.',
    });
  }

  private async askAccountType(step: WaterfallStepContext): Promise<DialogTurnResult> {
    uploadState.write(step, { appleId: String(step.result).trim() });
    const ref = uploadState.read(step, 'pending').pending.pendingId;
    const validations: CardChoiceValidations = {
      ref,
      choices: [
        { value: 'business', synonyms: ['business', 'abm', 'apple business manager'] },
        { value: 'education', synonyms: ['education', 'asm', 'school', 'apple school manager'] },
      ],
    };
    const card = choiceQuestionCard({
      ref,
      question: 'Is this an Apple Business Manager or an Apple School Manager account?',
      choices: [
        { title: 'Business', value: 'business' },
        { title: 'Education', value: 'education' },
      ],
    });
    return step.prompt(CHOICE, { prompt: cardMessage(card), retryPrompt: 'Please choose **Business** or **Education**, or type **cancel**.', validations });
  }

  private async confirm(step: WaterfallStepContext): Promise<DialogTurnResult> {
    uploadState.write(step, { accountType: step.result === 'education' ? 'education' : 'business' });
    const state = uploadState.read(step, 'pending', 'appleId', 'accountType');
    const { pending } = state;
    const card = tokenPreviewCard(
      {
        ref: pending.pendingId,
        organizationName: pending.organizationName,
        locationName: pending.locationName,
        countryOrRegion: pending.countryOrRegion,
        expirationDateTime: pending.expirationDateTime,
        bookCount: pending.bookCount,
        appleId: state.appleId,
        accountType: state.accountType,
        otherMdmName: pending.otherMdmName,
      },
      this.now(),
    );
    const confirmWord = pending.otherMdmName ? 'takeover' : 'save';
    const validations: CardChoiceValidations = {
      ref: pending.pendingId,
      choices: [
        { value: confirmWord, synonyms: pending.otherMdmName ? ['take control', 'take over', 'takeover'] : ['save', 'yes', 'confirm'] },
        { value: 'cancel', synonyms: ['no', 'cancel'] },
      ],
    };
    const retry = pending.otherMdmName
      ? `Type **take control** to take the token from ${escapeMarkdown(pending.otherMdmName)}, or **cancel**.`
      : 'Type **save** to add the token, or **cancel**.';
    return step.prompt(CHOICE, { prompt: cardMessage(card), retryPrompt: retry, validations });
  }

  private async save(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const state = uploadState.read(step, 'pending', 'appleId', 'accountType');
    if (step.result === 'cancel') {
      await step.context.sendActivity(
        state.pending.otherMdmName ? `Cancelled. Nothing was saved and the token stays with ${escapeMarkdown(state.pending.otherMdmName)}.` : 'Cancelled. Nothing was saved.',
      );
      return step.endDialog();
    }
    try {
      const token = await this.tokens.saveUpload(this.actor(step), state.pending, {
        appleId: state.appleId,
        accountType: state.accountType,
        takeOver: step.result === 'takeover',
      });
      await step.context.sendActivity(
        `Saved **${escapeMarkdown(token.displayName)}**. It expires on ${expiryLabel(token.expirationDateTime, this.now())}; I will warn you before it does. ` +
          'Type **sync** to read its books and licenses from Apple now (it also syncs twice a day), or **tokens** to see all tokens.',
      );
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
