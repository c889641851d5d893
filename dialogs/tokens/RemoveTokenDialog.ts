import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { removeButtonTitle, tokenRemoveCard } from '../../cards/tokenCards';
import { escapeMarkdown } from '../../services/common/chatText';
import { formatCount } from '../../services/common/format';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { tokenRefSchema, type TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage } from '../replies';
import { SelectTokenDialog, beginSelectToken } from './SelectTokenDialog';

const CONFIRM = 'removeToken.confirm';
const TYPE_NAME = 'removeToken.typeName';

/** What the typed name answers: a value nobody types as a word, so only the token's name confirms. */
const NAME_TYPED = 'name-typed';

/** The token being removed, while the confirmation waits; whether removing it deletes it in Intune too. */
const removeState = flowState('remove', tokenRefSchema.extend({ deletesInIntune: z.boolean() }));

/**
 * "remove": explains the consequences, then removes the token and its books (the audit trail stays). In
 * Intune mode a token Intune has is deleted in Intune, with its books and every assignment of them: the
 * card says so, and after its **Delete from Intune** the admin types the token's name before anything is done.
 */
export class RemoveTokenDialog extends ComponentDialog {
  static readonly id = 'removeToken';

  constructor(private readonly tokens: TokenService) {
    super(RemoveTokenDialog.id);
    this.addDialog(new SelectTokenDialog(tokens));
    this.addDialog(new CardChoicePrompt(CONFIRM));
    this.addDialog(new CardChoicePrompt(TYPE_NAME));
    this.addDialog(
      new WaterfallDialog('removeToken.steps', [(step) => beginSelectToken(step, 'remove'), (step) => this.confirm(step), (step) => this.askName(step), (step) => this.remove(step)]),
    );
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
    const deletesInIntune = this.tokens.removalDeletesInIntune(token);
    const ref = randomUUID();
    removeState.write(step, { tokenId: token.id, displayName: token.displayName, deletesInIntune });
    const name = escapeMarkdown(token.displayName);
    const validations: CardChoiceValidations = {
      ref,
      question: deletesInIntune ? `Delete **${name}** from Intune?` : `Remove **${name}**?`,
      // Titles as the card's buttons say them. Deleting in Intune takes its own words, not a "yes".
      choices: [
        { value: 'remove', title: removeButtonTitle({ deletesInIntune }), synonyms: deletesInIntune ? ['delete from intune', 'delete'] : ['remove', 'yes', 'delete'] },
        { value: 'keep', title: 'Keep it', synonyms: ['keep', 'no'] },
      ],
    };
    const card = tokenRemoveCard({ ref, displayName: token.displayName, bookCount: await this.tokens.bookCount(tokenId), deletesInIntune });
    const retryPrompt = deletesInIntune ? 'Type **delete from intune** to go on, or **keep** to keep the token.' : 'Type **remove** to remove the token, or **keep** to keep it.';
    return step.prompt(CONFIRM, { prompt: cardMessage(card), retryPrompt, validations });
  }

  /** The second confirmation of a deletion in Intune: the token's name, typed (compared as names are). */
  private async askName(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { displayName, deletesInIntune } = removeState.read(step, 'displayName');
    if (step.result !== 'remove' || deletesInIntune !== true) return step.next(step.result);
    const name = escapeMarkdown(displayName);
    const validations: CardChoiceValidations = {
      ref: randomUUID(),
      choices: [
        { value: NAME_TYPED, synonyms: [displayName] },
        { value: 'keep', synonyms: ['keep', 'no', 'cancel'] },
      ],
    };
    return step.prompt(TYPE_NAME, {
      prompt: `To delete it from Intune with its books and their assignments, type the token's name: **${name}**. Type **keep** to keep it.`,
      retryPrompt: `That is not the token's name, so nothing was deleted. Type **${name}** to delete it from Intune, or **keep** to keep it.`,
      validations,
    });
  }

  private async remove(step: WaterfallStepContext): Promise<DialogTurnResult> {
    // A confirmation asked before this version wrote no deletesInIntune: it was a removal's.
    const { tokenId, displayName, deletesInIntune = false } = removeState.read(step, 'tokenId', 'displayName');
    const name = escapeMarkdown(displayName);
    if (step.result !== (deletesInIntune ? NAME_TYPED : 'remove')) {
      await step.context.sendActivity(`Kept **${name}**. Nothing was changed.`);
      return step.endDialog();
    }
    try {
      const { removedBooks } = await this.tokens.remove(this.actor(step), tokenId);
      const books = `${formatCount(removedBooks)} book${removedBooks === 1 ? '' : 's'}`;
      await step.context.sendActivity(
        deletesInIntune
          ? `Deleted **${name}** from Intune, and Intune deletes its ${books} and their assignments with it. I no longer list it; the audit trail keeps the record.`
          : `Removed **${name}** and its ${books} from VPP Books. The audit trail keeps the record.`,
      );
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
