import { z } from 'zod';
import { COMMANDS } from './commandCatalog';

const commandNames = COMMANDS.map((c) => c.command) as [string, ...string[]];

/** A navigation button (Action.Submit with `{ command }`), the way cards start a command. */
export const commandSubmissionSchema = z.object({
  command: z.enum(commandNames),
  // Our ids are UUIDs (tests use short slugs); anything else cannot name a token and must not reach Cosmos.
  tokenId: z.string().regex(/^(?!\.+$)[A-Za-z0-9_.-]{1,128}$/).optional(),
  /** Small named values a flow reads back (a page offset, a search); the flow validates them itself. */
  args: z
    .record(z.string().max(40), z.string().max(200))
    .refine((args) => Object.keys(args).length <= 10, 'at most 10 args')
    .optional(),
});

export interface CommandInput {
  text: string | undefined;
  tokenId?: string | undefined;
  args?: Readonly<Record<string, string>> | undefined;
}

/**
 * The command a turn carries: typed text, or a validated card submission. Card data is user-controlled
 * input in Teams, so anything that does not match the schema counts as no command at all.
 */
export function commandInput(activity: { text?: string; value?: unknown }): CommandInput {
  if (activity.text && activity.text.trim().length > 0) return { text: activity.text };
  // Most turns are typed text: a failed parse of nothing would still build a zod error.
  if (activity.value === undefined || activity.value === null) return { text: undefined };
  const submission = commandSubmissionSchema.safeParse(activity.value);
  return submission.success ? { text: submission.data.command, tokenId: submission.data.tokenId, args: submission.data.args } : { text: undefined };
}
