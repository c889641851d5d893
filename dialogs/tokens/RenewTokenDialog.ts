import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { expiryLabel } from '../../cards/tokenCards';
import { escapeMarkdown } from '../../services/common/chatText';
import type { TokenFileReader, TokenUpload } from '../../services/tokens/TokenFileReader';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { tokenRefSchema, type TokenService } from '../../services/tokens/TokenService';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { TokenFilePrompt } from '../prompts/TokenFilePrompt';
import { SelectTokenDialog, beginSelectToken } from './SelectTokenDialog';
import { PASTED_TOKEN_WARNING } from './UploadTokenDialog';
import { askFileAgain, fileTries, retryFileOrEnd } from './fileRetry';

const FILE = 'renewToken.file';
const STEPS = 'renewToken.steps';

/** The token being renewed, while the file is asked for. */
const renewState = flowState('renew', tokenRefSchema.pick({ tokenId: true }));

/**
 * "renew": replace a token's file with the newer one for the same Apple location. A refused file (another
 * location, expired, unreadable) is asked for again, a few times, for the same token.
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
    this.addDialog(new WaterfallDialog(STEPS, [(step) => beginSelectToken(step, 'renew'), (step) => this.askFile(step), (step) => this.renew(step)]));
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

  private async renew(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const upload = step.result as TokenUpload;
    const { tokenId } = renewState.read(step, 'tokenId');
    try {
      const content = await this.reader.read(upload);
      const token = await this.tokens.renew(this.actor(step), tokenId, content);
      if (upload.kind === 'text') await step.context.sendActivity(PASTED_TOKEN_WARNING);
      await step.context.sendActivity(`Renewed **${escapeMarkdown(token.displayName)}**. It now expires on ${expiryLabel(token.expirationDateTime, this.now())}.`);
    } catch (err) {
      // Restarted with the token it renews, so the file is asked for the same one without asking which.
      return retryFileOrEnd(step, err, { steps: STEPS, command: 'renew', keep: { tokenId } });
    }
    return step.endDialog();
  }
}
