import type { FlowRegistration } from '../flows';
import { myBooksCommand, type MemberBookClaims } from './myBooksCommand';

export interface MemberFlowDependencies {
  claims: MemberBookClaims;
}

/**
 * What people who are not admins may do: `my books` (admins too), in their personal chat only, since the
 * card is about them. `help` is MainDialog's own (it shows the member help to them).
 */
export function memberFlows({ claims }: MemberFlowDependencies): FlowRegistration[] {
  return [
    {
      command: 'my books',
      answer: myBooksCommand(claims),
      adminOnly: false,
      forMembers: true,
      personalChatOnly: true,
      personalChatMessage: 'I show your books only in your personal chat with me. Open a 1:1 chat with me and type **my books** there.',
    },
  ];
}
