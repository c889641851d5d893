import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { tokenListCard } from '../../cards/tokenCards';
import type { TokenService } from '../../services/tokens/TokenService';
import type { FlowOptions } from '../flows';
import { sendCard } from '../replies';

/** "tokens": every token with its state, expiry and last sync, and buttons to act on each. */
export class TokensDialog extends ComponentDialog {
  static readonly id = 'tokens';

  constructor(
    private readonly tokens: TokenService,
    private readonly now: () => Date = () => new Date(),
  ) {
    super(TokensDialog.id);
    this.addDialog(new WaterfallDialog('tokens.steps', [(step) => this.list(step)]));
    this.initialDialogId = 'tokens.steps';
  }

  private async list(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const actor = (step.options as FlowOptions).actor;
    if (!actor) throw new Error('tokens runs only for an authorised admin');
    await sendCard(step.context, tokenListCard(await this.tokens.listTokens(actor.tenantId), this.now()));
    return step.endDialog();
  }
}
