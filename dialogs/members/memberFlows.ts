import type { MemberBookPort } from '../../services/assignments/memberBooks';
import type { FlowRegistration } from '../flows';
import { myBooksCommand } from './myBooksCommand';

export interface MemberFlowDependencies {
  /** Who answers `my books`: BookClaimService in Apple mode (with Get), IntuneMemberBooks in Intune mode. */
  claims: MemberBookPort;
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
