import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { choiceQuestionCard } from '../../cards/tokenCards';
import type { TokenService } from '../../services/tokens/TokenService';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage } from '../replies';
import { endWithError } from '../chatErrors';
import { flowActor, type FlowOptions } from '../flows';

export interface SelectTokenOptions {
  tenantId: string;
  argument: string;
  tokenId?: string | undefined;
  /** "renew", "remove": used in the question. */
  verb: string;
}

const PICK = 'selectToken.pick';

/**
 * Works out which token the admin means: the one a card button named, the one whose name matches what
 * they typed, or, when several match, the one they pick. Ends with the token id, or undefined.
 */
export class SelectTokenDialog extends ComponentDialog {
  static readonly id = 'selectToken';

  constructor(private readonly tokens: TokenService) {
    super(SelectTokenDialog.id);
    this.addDialog(new CardChoicePrompt(PICK));
    this.addDialog(new WaterfallDialog('selectToken.steps', [(step) => this.find(step), (step) => this.picked(step)]));
    this.initialDialogId = 'selectToken.steps';
  }

  private async find(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const options = step.options as SelectTokenOptions;
    if (options.tokenId) {
      const token = await this.tokens.getToken(options.tenantId, options.tokenId);
      return step.endDialog(token.id);
    }
    const matches = await this.tokens.findTokens(options.tenantId, options.argument);
    if (matches.length === 0) {
      await step.context.sendActivity(
        options.argument ? 'No token matches that name. Type **tokens** to see the tokens and their names.' : 'There are no VPP tokens yet. Type **upload token** to add one.',
      );
      return step.endDialog(undefined);
    }
    const only = matches[0];
    if (matches.length === 1 && only) return step.endDialog(only.id);
    const ref = randomUUID();
    const validations: CardChoiceValidations = { choices: matches.map((t) => ({ value: t.id, synonyms: [t.displayName.toLowerCase(), t.locationName.toLowerCase()] })), ref };
    const card = choiceQuestionCard({
      ref,
      question: `Which token do you want to ${options.verb}?`,
      choices: matches.slice(0, 20).map((t) => ({ title: t.displayName, value: t.id })),
    });
    return step.prompt(PICK, {
      prompt: cardMessage(card),
      retryPrompt: 'Please pick a token with the buttons above, type its name, or type **cancel**.',
      validations,
    });
  }

  private async picked(step: WaterfallStepContext): Promise<DialogTurnResult> {
    return step.endDialog(step.result as string);
  }
}

/**
 * The first step of a flow that acts on one token ("renew", "remove"): works out which one from the
 * button or the name typed; the next step gets its id (or undefined) as `step.result`.
 */
export async function beginSelectToken(step: WaterfallStepContext, verb: string): Promise<DialogTurnResult> {
  const options = step.options as FlowOptions;
  const select: SelectTokenOptions = { tenantId: flowActor(options, verb).tenantId, argument: options.argument, tokenId: options.tokenId, verb };
  try {
    return await step.beginDialog(SelectTokenDialog.id, select);
  } catch (err) {
    return endWithError(step, err);
  }
}
