import type { RunIdentity } from './reporting';

/** A member of an assigned group, as a notice names them. */
export interface NoticeMember {
  /** The member's Entra object id (our clientUserId at Apple). */
  clientUserId: string;
  displayName: string;
  mail?: string | undefined;
}

/** The run a notice is about: who asked, which book, the intent. */
export interface MemberNoticeRun extends RunIdentity {
  adamId: string;
  pricingParam: string;
}

/**
 * What members of an assigned group are told, each in their personal chat with the bot. The bot implements
 * it (a chat started by installing the bot for the member where needed, messages through the outbox);
 * services only say what happened. Each call is durable and told once per member, run and kind: a retry,
 * a resumed batch or a second instance never tells anyone twice. Calls return once the notices are
 * recorded, not delivered: delivery (and who could not be reached) follows in the background.
 */
export interface MemberNotices {
  /** Required: the license is theirs now; the book is in the Books app under their purchases. */
  licensed(run: MemberNoticeRun, members: readonly NoticeMember[]): Promise<void>;
  /** Required, not yet in the organisation's VPP: their own invitation link; the license follows once they join. */
  invited(run: MemberNoticeRun, members: ReadonlyArray<NoticeMember & { invitationUrl: string }>): Promise<void>;
  /** Available: the book is there for them; `my books` gets it. */
  offered(run: MemberNoticeRun, members: readonly NoticeMember[]): Promise<void>;
}

export const NO_MEMBER_NOTICES: MemberNotices = {
  licensed: async () => undefined,
  invited: async () => undefined,
  offered: async () => undefined,
};
