import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { tokenRemoveCard } from '../../cards/tokenCards';
import { escapeMarkdown } from '../../services/common/chatText';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { tokenRefSchema, type TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage } from '../replies';
import { SelectTokenDialog, beginSelectToken } from './SelectTokenDialog';

const CONFIRM = 'removeToken.confirm';

/** The token being removed, while the confirmation card waits. */
const removeState = flowState('remove', tokenRefSchema);

/** "remove": explains the consequences, then removes the token and its books (the audit trail stays). */
export class RemoveTokenDialog extends ComponentDialog {
  static readonly id = 'removeToken';

  constructor(private readonly tokens: TokenService) {
    super(RemoveTokenDialog.id);
    this.addDialog(new SelectTokenDialog(tokens));
    this.addDialog(new CardChoicePrompt(CONFIRM));
    this.addDialog(new WaterfallDialog('removeToken.steps', [(step) => beginSelectToken(step, 'remove'), (step) => this.confirm(step), (step) => this.remove(step)]));
    this.initialDialogId = 'removeToken.steps';
  }

  private actor(step: WaterfallStepContext): AdminActor {
    return flowActor(step.options, 'remove');
  }

  private async confirm(step: WaterfallStepContext): Promise<DialogTurnResult> {
    // SelectTokenDialog's answer: the token's id, or nothing when none was found or picked.
    const tokenId: unknown = step.result;
    if (typeof tokenId !== 'string' || !tokenId) return step.endDialog();
    const token = await this.tokens.getToken(this.actor(step).tenantId, tokenId);
    const ref = randomUUID();
    removeState.write(step, { tokenId: token.id, displayName: token.displayName });
    const validations: CardChoiceValidations = {
      ref,
      question: `Remove **${escapeMarkdown(token.displayName)}**?`,
      // Titles as the card's buttons say them.
      choices: [
        { value: 'remove', title: 'Remove token', synonyms: ['remove', 'yes', 'delete'] },
        { value: 'keep', title: 'Keep it', synonyms: ['keep', 'no'] },
      ],
    };
    const card = tokenRemoveCard({ ref, displayName: token.displayName, bookCount: await this.tokens.bookCount(tokenId) });
    return step.prompt(CONFIRM, { prompt: cardMessage(card), retryPrompt: 'Type **remove** to remove the token, or **keep** to keep it.', validations });
  }

  private async remove(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { tokenId, displayName } = removeState.read(step, 'tokenId', 'displayName');
    if (step.result !== 'remove') {
      await step.context.sendActivity(`Kept **${escapeMarkdown(displayName)}**. Nothing was changed.`);
      return step.endDialog();
    }
    try {
      const { removedBooks } = await this.tokens.remove(this.actor(step), tokenId);
      await step.context.sendActivity(`Removed **${escapeMarkdown(displayName)}** and its ${removedBooks} book${removedBooks === 1 ? '' : 's'} from VPP Books. The audit trail keeps the record.`);
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
