import type { DialogTurnResult, WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { withoutSendCommand } from '../../services/apple/VppError';
import { APPLE_PORTALS } from '../../services/common/appleTerms';
import { formatCount } from '../../services/common/format';
import { refusesTheFile } from '../../services/tokens/fileRefusals';
import { endWithError, isExpectedError, toChatError } from '../chatErrors';
import { flowState } from '../flowState';

/** Files a token flow reads before it gives up: the first one and two more after a refusal. */
const MAX_FILE_TRIES = 3;

/** How many files the flow refused so far, carried in the options its steps restart with. */
const triesState = flowState('token file', z.object({}), z.object({ fileTries: z.number().int().min(0).max(MAX_FILE_TRIES).optional() }).loose());

export function fileTries(step: Pick<WaterfallStepContext, 'options' | 'values'>): number {
  return triesState.options(step).fileTries ?? 0;
}

/** The question again after a refused file, with how many tries are left; `what` names the file wanted. */
export function askFileAgain(tries: number, what: string): string {
  return `Send me ${what} again: attach it, or paste its content (try ${formatCount(tries + 1)} of ${formatCount(MAX_FILE_TRIES)}). Type **cancel** to stop.`;
}

function gaveUpOnFiles(command: string): string {
  return `I could not use any of the ${formatCount(MAX_FILE_TRIES)} files you sent, so I stopped here; nothing was saved. Type **${command}** to start again with the .vpptoken file downloaded from ${APPLE_PORTALS}.`;
}

export interface FileRetry {
  /** The flow's waterfall, restarted from its file question. */
  steps: string;
  /** The command that starts the flow again, for the message after the last try. */
  command: string;
  /** Options the restarted steps need besides the flow's own (the token being renewed). */
  keep?: Record<string, unknown>;
}

/**
 * After a token file failed: a refusal of the file itself is said (its specific message, which never
 * repeats the file) and the file asked for again within the flow, until MAX_FILE_TRIES files were refused;
 * any other error ends the flow as before.
 */
export async function retryFileOrEnd(step: WaterfallStepContext, err: unknown, retry: FileRetry): Promise<DialogTurnResult> {
  if (!isExpectedError(err) || !refusesTheFile(err)) return endWithError(step, err);
  const tries = fileTries(step) + 1;
  // Apple's token refusals end by saying which command sends a new file; here the flow's question asks for it.
  await step.context.sendActivity(withoutSendCommand(toChatError(err).text));
  if (tries >= MAX_FILE_TRIES) {
    await step.context.sendActivity(gaveUpOnFiles(retry.command));
    return step.endDialog();
  }
  return step.replaceDialog(retry.steps, { ...triesState.options(step), ...retry.keep, fileTries: tries });
}
