import type { TurnContext } from 'botbuilder';
import { z } from 'zod';
import { myBooksCard } from '../../cards/myBooksCards';
import type { ClaimOutcome, ClaimingMember, MemberBooks } from '../../services/assignments/claimModel';
import { idSchema } from '../../services/store/entities/common';
import type { FlowOptions } from '../flows';
import { sendCard } from '../replies';
import { claimAnswer } from './claimAnswers';

/** What `my books` needs of the BookClaimService. */
export interface MemberBookClaims {
  booksFor(tenantId: string, member: Pick<ClaimingMember, 'aadObjectId'>): Promise<MemberBooks>;
  claim(tenantId: string, member: ClaimingMember, ref: { tokenId: string; runId: string }): Promise<ClaimOutcome>;
}

/** A Get button's data: `{ command: 'my books', tokenId, args: { get: <runId> } }`, user-controlled like any card data. */
const getSubmissionSchema = z.object({ tokenId: idSchema, runId: idSchema });

export const STALE_GET_MESSAGE = 'That button is not one I can act on, so nothing was changed. Type **my books** for the books you can get.';

/**
 * `my books`: the member's card (books to get, books already theirs); a Get click comes back as the same
 * command with the run to claim from, and is answered with the outcome. Single-turn: no dialog state.
 */
export function myBooksCommand(claims: MemberBookClaims): (context: TurnContext, options: FlowOptions) => Promise<void> {
  return async (context, options) => {
    const actor = options.actor;
    if (!actor) throw new Error('my books runs only for an identified member of the tenant');
    if (options.args?.get === undefined) {
      await sendCard(context, myBooksCard(await claims.booksFor(actor.tenantId, actor)));
      return;
    }
    const get = getSubmissionSchema.safeParse({ tokenId: options.tokenId, runId: options.args.get });
    if (!get.success) {
      await context.sendActivity(STALE_GET_MESSAGE);
      return;
    }
    // Who asks comes from Teams (the actor), never from the card.
    const member: ClaimingMember = { aadObjectId: actor.aadObjectId, displayName: actor.name ?? context.activity.from?.name ?? 'a member' };
    await context.sendActivity(claimAnswer(await claims.claim(actor.tenantId, member, get.data)));
  };
}
