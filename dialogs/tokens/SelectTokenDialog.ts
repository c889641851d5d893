import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { choiceQuestionCard } from '../../cards/tokenCards';
import { echoArgument } from '../../services/common/chatText';
import type { TokenService } from '../../services/tokens/TokenService';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage } from '../replies';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState, FlowStateError } from '../flowState';

const selectTokenOptionsSchema = z.object({
  tenantId: z.string(),
  argument: z.string(),
  tokenId: z.string().optional(),
  /** "renew", "remove": used in the question. */
  verb: z.string(),
});
type SelectTokenOptions = z.infer<typeof selectTokenOptionsSchema>;

/** Its options, and the id the pick prompt answered with (a prompt's result is kept in dialog state too). */
const selectTokenState = flowState('selectToken', z.object({}), selectTokenOptionsSchema);

const PICK = 'selectToken.pick';

/**
 * Works out which token the admin means: the one a card button named, the one whose name matches what
 * they typed (as names match: a hyphen finds Apple's en dash), or, when several match, the one they pick.
 * Ends with the token id, or undefined.
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
    const options = selectTokenState.options(step);
    if (options.tokenId) {
      const token = await this.tokens.getToken(options.tenantId, options.tokenId);
      return step.endDialog(token.id);
    }
    const matches = await this.tokens.findTokens(options.tenantId, options.argument);
    if (matches.length === 0) {
      await step.context.sendActivity(
        options.argument
          ? `No token matches ${echoArgument(options.argument)}. Type **tokens** to see the tokens and their names.`
          : 'There are no VPP tokens yet. Type **upload token** to add one.',
      );
      return step.endDialog(undefined);
    }
    const only = matches[0];
    if (matches.length === 1 && only) return step.endDialog(only.id);
    const ref = randomUUID();
    const question = `Which token do you want to ${options.verb}?`;
    const validations: CardChoiceValidations = {
      choices: matches.map((t) => ({ value: t.id, title: t.displayName, synonyms: [t.displayName.toLowerCase(), t.locationName.toLowerCase()] })),
      ref,
      question,
    };
    const card = choiceQuestionCard({ ref, question, choices: matches.slice(0, 20).map((t) => ({ title: t.displayName, value: t.id })) });
    return step.prompt(PICK, {
      prompt: cardMessage(card),
      retryPrompt: 'Please pick a token with the buttons above, type its name, or type **cancel**.',
      validations,
    });
  }

  private async picked(step: WaterfallStepContext): Promise<DialogTurnResult> {
    if (typeof step.result !== 'string') throw new FlowStateError(SelectTokenDialog.id, 'values', ['result: not a token id']);
    return step.endDialog(step.result);
  }
}

/** What the flow that asks for a token was started with (FlowOptions). */
const flowStartState = flowState('selectToken', z.object({}));

/**
 * The first step of a flow that acts on one token ("renew", "remove"): works out which one from the
 * button or the name typed; the next step gets its id (or undefined) as `step.result`.
 */
export async function beginSelectToken(step: WaterfallStepContext, verb: string): Promise<DialogTurnResult> {
  const options = flowStartState.options(step);
  const select: SelectTokenOptions = { tenantId: flowActor(step.options, verb).tenantId, argument: options.argument, tokenId: options.tokenId, verb };
  try {
    return await step.beginDialog(SelectTokenDialog.id, select);
  } catch (err) {
    return endWithError(step, err);
  }
}
