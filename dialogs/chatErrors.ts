import type { DialogTurnResult, WaterfallStepContext } from 'botbuilder-dialogs';
import { randomUUID } from 'node:crypto';
import { UserFacing } from '../services/errors';
import { isStoreUnavailable } from '../services/store/errors';

export interface ChatError {
  /** What the admin reads in chat. */
  text: string;
  /** Correlates the chat message with the log line for errors we did not expect. */
  incidentId?: string;
}

/**
 * True for errors whose text is meant for the admin (every `UserFacing` error: ours, Apple's VppError,
 * the directory's DirectoryError); anything else is a bug to log, not to show.
 */
export function isExpectedError(err: unknown): err is UserFacing {
  return err instanceof UserFacing;
}

/** The one place that turns any thrown error into chat text. Unknown errors never leak internals. */
export function toChatError(err: unknown): ChatError {
  if (isExpectedError(err)) return { text: err.userMessage };
  const incidentId = randomUUID().slice(0, 8);
  if (isStoreUnavailable(err)) {
    return {
      text: `I cannot reach my database right now, so nothing was changed. Please try again in a few minutes; if it keeps happening, give your administrator incident ${incidentId}.`,
      incidentId,
    };
  }
  return {
    text: `Something went wrong on my side and nothing was changed. Please try again; if it keeps happening, give your administrator incident ${incidentId}.`,
    incidentId,
  };
}

/**
 * Ends a flow after telling the admin what went wrong (nothing was changed). Errors nobody expected
 * are rethrown so the turn error handler logs them with an incident id.
 */
export async function endWithError(step: WaterfallStepContext, err: unknown): Promise<DialogTurnResult> {
  if (!isExpectedError(err)) throw err;
  await step.context.sendActivity(toChatError(err).text);
  return step.endDialog();
}
