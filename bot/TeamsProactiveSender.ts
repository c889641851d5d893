import { CardFactory, MessageFactory, type CloudAdapter, type ConversationReference, type Activity } from 'botbuilder';
import { ProactiveSendError, type NotificationMessage, type ProactiveSender } from '../services/notifications/ProactiveSender';
import type { ConversationReferenceJson } from '../services/store/entities/conversation';

/** What the Bot Framework's REST errors carry (RestError from @azure/core-rest-pipeline). */
interface RestErrorLike {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
  response?: { status?: unknown; headers?: { get?: (name: string) => string | undefined }; parsedBody?: unknown };
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Teams' error code and message: the body is `{ "error": { "code": "...", "message": "..." } }`, which the
 * connector client also copies onto the RestError's code and message.
 */
function teamsErrorOf(err: unknown): { code?: string | undefined; teamsMessage?: string | undefined } {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as RestErrorLike;
  const body = (e.response?.parsedBody as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return { code: text(body?.code) ?? text(e.code), teamsMessage: text(body?.message) ?? text(e.message) };
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as RestErrorLike;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.response?.status === 'number') return e.response.status;
  return undefined;
}

function retryAfterMs(err: unknown): number | undefined {
  const header = typeof err === 'object' && err !== null ? (err as RestErrorLike).response?.headers?.get?.('retry-after') : undefined;
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function toActivity(message: NotificationMessage): Partial<Activity> {
  if (!message.card) return MessageFactory.text(message.text);
  // The text is the card's summary: it shows in the activity feed and notifications.
  return { ...MessageFactory.attachment(CardFactory.adaptiveCard(message.card)), summary: message.text };
}

/**
 * Posts proactive messages with the Bot Framework (CloudAdapter.continueConversationAsync). Errors
 * come back as ProactiveSendError carrying Teams' HTTP status and error code, so the outbox can retry
 * throttling and forget only conversations the bot was removed from or blocked in.
 */
export class TeamsProactiveSender implements ProactiveSender {
  constructor(
    private readonly adapter: Pick<CloudAdapter, 'continueConversationAsync'>,
    /** MicrosoftAppId; empty in local mode. */
    private readonly appId: string | undefined,
  ) {}

  async send(reference: ConversationReferenceJson, message: NotificationMessage): Promise<string | undefined> {
    try {
      let activityId: string | undefined;
      await this.adapter.continueConversationAsync(this.appId ?? '', reference as Partial<ConversationReference>, async (context) => {
        activityId = (await context.sendActivity(toActivity(message)))?.id;
      });
      return activityId;
    } catch (err) {
      const status = statusOf(err);
      const teams = teamsErrorOf(err);
      const why = status === undefined ? '' : ` (HTTP ${status}${teams.code ? ` ${teams.code}` : ''})`;
      throw new ProactiveSendError(`Teams refused a proactive message${why}`, status, retryAfterMs(err), { cause: err, ...teams });
    }
  }
}
