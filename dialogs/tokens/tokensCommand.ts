import type { TurnContext } from 'botbuilder';
import { tokenListCard } from '../../cards/tokenCards';
import type { TokenService } from '../../services/tokens/TokenService';
import { flowActor, type FlowOptions } from '../flows';
import { sendCard } from '../replies';

/**
 * "tokens": every token with its state, expiry and last sync, and buttons to act on each. Answered in
 * its own turn (the buttons start other commands), so it runs without a dialog.
 */
export function tokensCommand(tokens: TokenService, now: () => Date = () => new Date()): (context: TurnContext, options: FlowOptions) => Promise<void> {
  return async (context, options) => {
    const actor = flowActor(options, 'tokens');
    await sendCard(context, tokenListCard(await tokens.listTokens(actor.tenantId), now()));
  };
}
