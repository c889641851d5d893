import { randomUUID } from 'node:crypto';
import { UserFacingError } from '../services/errors';

export interface ChatError {
  /** What the admin reads in chat. */
  text: string;
  /** Correlates the chat message with the log line for errors we did not expect. */
  incidentId?: string;
}

/** Errors that carry their own admin-readable text (UserFacingError, Apple's VppError). */
interface HasUserMessage {
  userMessage: string;
}

function hasUserMessage(err: unknown): err is HasUserMessage {
  return typeof err === 'object' && err !== null && typeof (err as Partial<HasUserMessage>).userMessage === 'string';
}

/** The one place that turns any thrown error into chat text. Unknown errors never leak internals. */
export function toChatError(err: unknown): ChatError {
  if (err instanceof UserFacingError) return { text: err.message };
  if (hasUserMessage(err)) return { text: err.userMessage };
  const incidentId = randomUUID().slice(0, 8);
  return {
    text: `Something went wrong on my side and nothing was changed. Please try again; if it keeps happening, give your administrator incident ${incidentId}.`,
    incidentId,
  };
}
