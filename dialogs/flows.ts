import type { TurnContext } from 'botbuilder';
import type { Dialog } from 'botbuilder-dialogs';
import { z } from 'zod';
import type { AdminActor } from '../services/auth/AdminPolicy';

/** What the main dialog hands a flow when it starts it. */
export interface FlowOptions {
  /** Text after the command ("renew Northwind" → "Northwind"). */
  argument: string;
  /** Set when a card button named the token it acts on. */
  tokenId?: string | undefined;
  /** Set when a card button carried named values for the flow (validated by the flow). */
  args?: Readonly<Record<string, string>> | undefined;
  /** Present for admin and member flows: who was authorised to run it (from Teams, never from card data). */
  actor?: AdminActor | undefined;
}

/** Where and by whom a command may run; MainDialog checks these before running it. */
interface FlowRules {
  command: string;
  /** Changes tokens or assignments: only bot admins of our tenant. */
  adminOnly: boolean;
  /** With adminOnly: approvers who are not admins may run it too (the requests they can decide). */
  approversToo?: boolean;
  /**
   * Anyone of our tenant may run it (members and admins alike; not with adminOnly): the guard checks the
   * tenant and who they are, refusing and auditing anyone else, and sets the actor.
   */
  forMembers?: boolean;
  /** Handles files or secrets: only in a 1:1 chat, never in a channel or group chat. */
  personalChatOnly: boolean;
  /** Why it is personal-chat only, when not for the token-file reason. */
  personalChatMessage?: string;
  /** Starts work that changes something (a sync): refused in group chats, where the bot is read-only. */
  changesState?: boolean;
}

/** A command that may take several turns (questions, confirmations): a dialog with state. */
interface DialogFlowRegistration extends FlowRules {
  dialog: Dialog;
}

/** A command answered within its own turn (a list, a card): no dialog, so no dialog state to build. */
interface SingleTurnFlowRegistration extends FlowRules {
  answer: (context: TurnContext, options: FlowOptions) => Promise<void>;
}

export type FlowRegistration = DialogFlowRegistration | SingleTurnFlowRegistration;

/** The admin a flow runs for; MainDialog sets it before starting any admin-only flow. */
export function flowActor(options: unknown, flow: string): AdminActor {
  const parsed = flowActorSchema.safeParse(options);
  if (!parsed.success) throw new Error(`${flow} runs only for an authorised admin`);
  return parsed.data.actor;
}

/** The actor MainDialog put on a flow's options (dialog state: read back, not trusted to fit). */
const flowActorSchema = z.object({ actor: z.object({ tenantId: z.string(), aadObjectId: z.string(), name: z.string().optional() }) });
