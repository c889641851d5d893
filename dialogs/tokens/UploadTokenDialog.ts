import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { choiceQuestionCard, expiryLabel, takeOverButtonTitle, tokenPreviewCard } from '../../cards/tokenCards';
import type { BackendKind } from '../../services/backend/ports';
import { WHERE_TOKENS_ARE_DOWNLOADED } from '../../services/common/appleTerms';
import { escapeMarkdown } from '../../services/common/chatText';
import type { TokenFileReader, TokenUpload } from '../../services/tokens/TokenFileReader';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { pendingTokenSchema, saveOptionsSchema, type TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { TokenFilePrompt } from '../prompts/TokenFilePrompt';
import { cardMessage } from '../replies';
import { AppleIdPrompt, appleIdAnswerSchema, GAVE_UP_ON_APPLE_ID } from './AppleIdPrompt';
import { askFileAgain, fileTries, retryFileOrEnd } from './fileRetry';

const STEPS = 'uploadToken.steps';
const FILE = 'uploadToken.file';
const APPLE_ID = 'uploadToken.appleId';
const CHOICE = 'uploadToken.choice';

export const ASK_FOR_FILE = `Send me the **.vpptoken** file: attach it to your next message. You download it ${WHERE_TOKENS_ARE_DOWNLOADED}. You can also paste the file content, or type **cancel**.`;

export const PASTED_TOKEN_WARNING =
  'I accepted the pasted token. Next time, please attach the .vpptoken file instead: chat history keeps what you paste, so consider deleting that message.';

/**
 * Said as soon as the file is read, before any question, when Apple says another MDM holds the token: the
 * admin knows what saving would do before answering anything. Nothing has been claimed yet. `holder`: who
 * takes the token (VPP_BACKEND); `isThisBot`: in Intune mode, the MDM Apple names is this bot itself.
 */
export function otherMdmNotice(mdmName: string, holder: BackendKind = 'apple', isThisBot = false): string {
  const mdm = escapeMarkdown(mdmName);
  const confirm = `Nothing changes until you confirm **${takeOverButtonTitle({ holder, otherMdmName: mdmName })}** on the last step.`;
  if (holder === 'intune' && isThisBot) {
    return `I manage this token myself: it was added while I held the VPP tokens. Saving it here hands it to Intune, which takes control from me and licenses and installs its books from then on. ${confirm}`;
  }
  if (holder === 'intune') {
    return (
      `This token is in use by **${mdm}**. Apple lets only one MDM manage a token: saving it here lets Intune take control from ${mdm}, which then stops managing it ` +
      `(the licenses it assigned and its user records can be lost, and it will show sync errors). ${confirm}`
    );
  }
  return (
    `This token is in use by **${mdm}**. Apple lets only one MDM manage a token: saving it here takes control from ${mdm}, which then stops managing it ` +
    '(the licenses it assigned and its user records can be lost, and it will show sync errors). Nothing changes until you confirm **Take control** on the last step.'
  );
}

type OtherMdm = { otherMdmName?: string | undefined; otherMdmIsThisBot?: boolean | undefined };

/** Who Apple names as the token's MDM, as a sentence says it: "me" when it is this bot. */
export function otherMdmWords(pending: OtherMdm): string {
  return pending.otherMdmIsThisBot ? 'me' : escapeMarkdown(pending.otherMdmName ?? '');
}

/** Whom the holder took the token from, once it has: "took control of it from …". */
export function tookControlFrom(pending: OtherMdm): string {
  return pending.otherMdmIsThisBot ? 'me: I no longer use it with Apple myself' : `**${escapeMarkdown(pending.otherMdmName ?? '')}**, which no longer manages it`;
}

/** Apple's view of the file (the token inside encrypted), then the admin's answers, until it is saved. */
const uploadState = flowState('upload token', saveOptionsSchema.pick({ appleId: true, accountType: true }).extend({ pending: pendingTokenSchema }));

/**
 * "upload token": file → Apple's view of it (organisation, location, expiry, books, who manages it; another
 * MDM is named at once) → Apple Account → account type → confirmation card → saved. Every refusal is specific
 * and stores nothing; a refused file or a wrong Apple Account is asked for again, a few times, within the flow.
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
    this.addDialog(new AppleIdPrompt(APPLE_ID));
    this.addDialog(new CardChoicePrompt(CHOICE));
    this.addDialog(
      new WaterfallDialog(STEPS, [
        (step) => this.askFile(step),
        (step) => this.inspect(step),
        (step) => this.askAppleId(step),
        (step) => this.askAccountType(step),
        (step) => this.confirm(step),
        (step) => this.save(step),
      ]),
    );
    this.initialDialogId = STEPS;
  }

  private actor(step: WaterfallStepContext): AdminActor {
    return flowActor(step.options, 'upload token');
  }

  private async askFile(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const tries = fileTries(step);
    return step.prompt(FILE, { prompt: tries === 0 ? ASK_FOR_FILE : askFileAgain(tries, 'the **.vpptoken** file'), retryPrompt: `I still need the token file. ${ASK_FOR_FILE}` });
  }

  private async inspect(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const upload = step.result as TokenUpload;
    try {
      const content = await this.reader.read(upload);
      const pending = await this.tokens.inspectUpload(this.actor(step).tenantId, content);
      uploadState.write(step, { pending });
    } catch (err) {
      return retryFileOrEnd(step, err, { steps: STEPS, command: 'upload token' });
    }
    if (upload.kind === 'text') await step.context.sendActivity(PASTED_TOKEN_WARNING);
    const { otherMdmName, otherMdmIsThisBot } = uploadState.read(step, 'pending').pending;
    if (otherMdmName) await step.context.sendActivity(otherMdmNotice(otherMdmName, this.tokens.holder.kind, otherMdmIsThisBot));
    return step.next();
  }

  private async askAppleId(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { pending } = uploadState.read(step, 'pending');
    return step.prompt(APPLE_ID, {
      prompt: `The token is for **${escapeMarkdown(pending.organizationName)}**. Which Apple Account (Managed Apple Account) administers this VPP account? For example vpp-admin@contoso.com.`,
    });
  }

  private async askAccountType(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const answer = appleIdAnswerSchema.parse(step.result);
    if ('gaveUp' in answer) {
      await step.context.sendActivity(GAVE_UP_ON_APPLE_ID);
      return step.endDialog();
    }
    uploadState.write(step, { appleId: answer.appleId });
    const ref = uploadState.read(step, 'pending').pending.pendingId;
    const question = 'Is this an Apple Business Manager or an Apple School Manager account?';
    const validations: CardChoiceValidations = {
      ref,
      question,
      choices: [
        { value: 'business', title: 'Business', synonyms: ['business', 'abm', 'apple business manager'] },
        { value: 'education', title: 'Education', synonyms: ['education', 'asm', 'school', 'apple school manager'] },
      ],
    };
    const card = choiceQuestionCard({ ref, question, choices: validations.choices.map(({ title = '', value }) => ({ title, value })) });
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
        holder: this.tokens.holder.kind,
        otherMdmIsThisBot: pending.otherMdmIsThisBot,
      },
      this.now(),
    );
    const confirmWord = pending.otherMdmName ? 'takeover' : 'save';
    // Answered, the preview becomes this line and loses its buttons: a second Take control cannot be clicked.
    const validations: CardChoiceValidations = {
      ref: pending.pendingId,
      question: `Save the VPP token for **${escapeMarkdown(pending.organizationName)}** (${escapeMarkdown(pending.locationName)})?`,
      choices: [
        // Titles as the card's buttons say them (plain text).
        pending.otherMdmName
          ? { value: confirmWord, title: takeOverButtonTitle({ holder: this.tokens.holder.kind, otherMdmName: pending.otherMdmName }), synonyms: ['take control', 'take over', 'takeover'] }
          : { value: confirmWord, title: 'Save token', synonyms: ['save', 'yes', 'confirm'] },
        { value: 'cancel', title: 'Cancel', synonyms: ['no', 'cancel'] },
      ],
    };
    const intune = this.tokens.holder.kind === 'intune';
    const retry = pending.otherMdmName
      ? `Type **take control** to ${intune ? 'let Intune take' : 'take'} the token from ${otherMdmWords(pending)}, or **cancel**.`
      : 'Type **save** to add the token, or **cancel**.';
    return step.prompt(CHOICE, { prompt: cardMessage(card), retryPrompt: retry, validations });
  }

  private async save(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const state = uploadState.read(step, 'pending', 'appleId', 'accountType');
    if (step.result === 'cancel') {
      await step.context.sendActivity(
        state.pending.otherMdmName ? `Cancelled. Nothing was saved and the token stays with ${otherMdmWords(state.pending)}.` : 'Cancelled. Nothing was saved.',
      );
      return step.endDialog();
    }
    try {
      const token = await this.tokens.saveUpload(this.actor(step), state.pending, {
        appleId: state.appleId,
        accountType: state.accountType,
        takeOver: step.result === 'takeover',
      });
      // Who took control is who holds tokens (VPP_BACKEND): the bot itself, or Intune.
      const takenFrom = state.pending.otherMdmName ? ` ${this.tokens.holder.name} took control of it from ${tookControlFrom(state.pending)}.` : '';
      await step.context.sendActivity(
        `Saved **${escapeMarkdown(token.displayName)}**.${takenFrom} It expires on ${expiryLabel(token.expirationDateTime, this.now())}; I will warn you before it does. ` +
          'Type **sync** to read its books and licenses from Apple now (it also syncs twice a day), or **tokens** to see all tokens.',
      );
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
