import { ConversationState, MemoryStorage, type TurnContext } from 'botbuilder';
import { TurnRateLimiter } from '../../bot/TurnRateLimiter';
import { VppBooksBot } from '../../bot/VppBooksBot';
import type { MainDialog } from '../../dialogs/MainDialog';

type BotParts = {
  state: ConversationState;
  recorder: ConstructorParameters<typeof VppBooksBot>[2];
  approvalCards: ConstructorParameters<typeof VppBooksBot>[3];
  isAdmin: ConstructorParameters<typeof VppBooksBot>[4];
};

/**
 * The bot around a main dialog, for dialog tests. The parts a test does not give are ones it does not
 * exercise: no conversation is recorded, card actions are refused, everyone counts as an admin, no turn is
 * rate limited.
 */
export function dialogBot(main: MainDialog, parts: Partial<BotParts> = {}): VppBooksBot {
  return new VppBooksBot(
    parts.state ?? new ConversationState(new MemoryStorage()),
    main,
    parts.recorder ?? { record: async () => 'ignored' },
    parts.approvalCards ?? { handle: () => Promise.reject(new Error('this test wires no approval card handler')) },
    parts.isAdmin ?? (async () => true),
    new TurnRateLimiter({ userPerMinute: 0, conversationPerMinute: 0, refreshPerMinute: 0 }),
  );
}

const actorOf = (context: TurnContext) => ({
  tenantId: context.activity.conversation?.tenantId ?? 'test-tenant',
  aadObjectId: context.activity.from?.aadObjectId ?? context.activity.from?.id ?? 'test-user',
  name: context.activity.from?.name,
});

/** An access guard for dialog tests that do not test access: everyone is an admin of the turn's tenant. */
export const everyoneAdmin: ConstructorParameters<typeof MainDialog>[1] = {
  role: async () => 'admin',
  check: async (context) => ({ allowed: true, actor: actorOf(context) }),
  checkMember: async (context) => ({ allowed: true, actor: actorOf(context) }),
};
