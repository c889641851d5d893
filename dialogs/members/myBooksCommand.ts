import type { TurnContext } from 'botbuilder';
import { z } from 'zod';
import { myBooksCard } from '../../cards/myBooksCards';
import type { ClaimingMember } from '../../services/assignments/claimModel';
import type { MemberBookPort } from '../../services/assignments/memberBooks';
import { idSchema } from '../../services/store/entities/common';
import type { FlowOptions } from '../flows';
import { sendCard } from '../replies';
import { claimAnswer } from './claimAnswers';

/** A Get button's data: `{ command: 'my books', tokenId, args: { get: <runId> } }`, user-controlled like any card data. */
const getSubmissionSchema = z.object({ tokenId: idSchema, runId: idSchema });

export const STALE_GET_MESSAGE = 'That button is not one I can act on, so nothing was changed. Type **my books** for the books you can get.';

/** A Get click where Intune delivers the books (an old card from before, or forged data). */
export const NO_GET_MESSAGE = "Your organisation's books come through Intune, so there is nothing to get from me and nothing was changed. Type **my books** to see your books and where to find them.";

/**
 * `my books`: the member's card, as the backend delivers books (Apple mode: books to get, books already
 * theirs; Intune mode: where to find each). In Apple mode a Get click comes back as the same command with
 * the run to claim from, and is answered with the outcome. Single-turn: no dialog state.
 */
export function myBooksCommand(books: MemberBookPort): (context: TurnContext, options: FlowOptions) => Promise<void> {
  return async (context, options) => {
    const actor = options.actor;
    if (!actor) throw new Error('my books runs only for an identified member of the tenant');
    if (options.args?.get === undefined) {
      await sendCard(context, myBooksCard(await books.booksFor(actor.tenantId, actor)));
      return;
    }
    if (!books.claim) {
      await context.sendActivity(NO_GET_MESSAGE);
      return;
    }
    const get = getSubmissionSchema.safeParse({ tokenId: options.tokenId, runId: options.args.get });
    if (!get.success) {
      await context.sendActivity(STALE_GET_MESSAGE);
      return;
    }
    // Who asks comes from Teams (the actor), never from the card.
    const member: ClaimingMember = { aadObjectId: actor.aadObjectId, displayName: actor.name ?? context.activity.from?.name ?? 'a member' };
    await context.sendActivity(claimAnswer(await books.claim(actor.tenantId, member, get.data)));
  };
}
