import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretsLedger } from './secretsLedger';

export interface CapturedActivity {
  type: string;
  text?: string;
  attachments?: Array<{ contentType: string; content: Record<string, unknown> }>;
  conversation?: { id: string };
  replyToId?: string;
  [key: string]: unknown;
}

/**
 * A local stand-in for the Bot Connector service: the bot posts its replies here because the test
 * activities carry this server's URL as serviceUrl. Lets HTTP-level tests read what a user would see.
 */
export class FakeConnector {
  readonly activities: CapturedActivity[] = [];
  /** Activities the bot replaced in place (updateActivity: PUT …/activities/:id). */
  readonly updates: CapturedActivity[] = [];
  /** The same updates with the conversation and the activity each replaced, as the request's path named them. */
  readonly updateRequests: Array<{ conversationId: string; activityId: string; activity: CapturedActivity }> = [];
  /** Updates still to refuse (`refuseUpdates`), and how. */
  private refusals: Array<{ status: number; code: string; message: string }> = [];
  /** Conversations the bot started (createConversation: POST /v3/conversations), with the id given. */
  readonly created: Array<{ id: string; parameters: Record<string, unknown> }> = [];
  private readonly waiters: Array<{ predicate: (a: CapturedActivity) => boolean; resolve: (a: CapturedActivity) => void }> = [];
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.method === 'POST' && /^\/v3\/conversations\/[^/]+\/activities/.test(req.url ?? '')) {
          const activity = JSON.parse(body) as CapturedActivity;
          this.activities.push(activity);
          secretsLedger.record('chat reply', body);
          for (const waiter of [...this.waiters]) {
            if (waiter.predicate(activity)) {
              this.waiters.splice(this.waiters.indexOf(waiter), 1);
              waiter.resolve(activity);
            }
          }
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ id: `reply-${this.activities.length}` }));
          return;
        }
        if (req.method === 'POST' && /^\/v3\/conversations\/?$/.test(req.url ?? '')) {
          const id = `a:created-${this.created.length + 1}`;
          this.created.push({ id, parameters: JSON.parse(body) as Record<string, unknown> });
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ id }));
          return;
        }
        const member = /^\/v3\/conversations\/[^/]+\/members\/([^/?]+)$/.exec(req.url ?? '');
        if (req.method === 'GET' && member) {
          // Teams answers a member by Entra id with the user's Teams id (29:…), as TeamsInfo.getMember reads it.
          const aadObjectId = decodeURIComponent(member[1] ?? '');
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ id: `29:${aadObjectId}`, aadObjectId, name: aadObjectId }));
          return;
        }
        // Bot Connector "Update activity": PUT /v3/conversations/{conversationId}/activities/{activityId} with the
        // replacement Activity; 200 with a ResourceResponse, or an ErrorResponse `{ error: { code, message } }`.
        const update = /^\/v3\/conversations\/([^/]+)\/activities\/([^/?]+)/.exec(req.url ?? '');
        if (req.method === 'PUT' && update) {
          res.setHeader('content-type', 'application/json');
          const refusal = this.refusals.shift();
          if (refusal) {
            res.statusCode = refusal.status;
            res.end(JSON.stringify({ error: { code: refusal.code, message: refusal.message } }));
            return;
          }
          const activity = JSON.parse(body) as CapturedActivity;
          const activityId = decodeURIComponent(update[2] ?? '');
          this.updates.push(activity);
          this.updateRequests.push({ conversationId: decodeURIComponent(update[1] ?? ''), activityId, activity });
          res.end(JSON.stringify({ id: activityId }));
          return;
        }
        res.statusCode = 404;
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** The next `times` updates are refused the way a connector refuses editing a message (too old, or not editable). */
  refuseUpdates(times = 1, refusal: { status: number; code: string; message: string } = { status: 400, code: 'BadArgument', message: 'The message cannot be updated.' }): void {
    for (let i = 0; i < times; i++) this.refusals.push(refusal);
  }

  /** Resolves with the first activity (already received or future) matching `predicate`. */
  waitFor(predicate: (a: CapturedActivity) => boolean, timeoutMs = 10_000): Promise<CapturedActivity> {
    const existing = this.activities.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching activity within ${timeoutMs} ms; got ${JSON.stringify(this.activities.map((a) => a.text ?? a.type))}`)), timeoutMs);
      this.waiters.push({ predicate, resolve: (a) => (clearTimeout(timer), resolve(a)) });
    });
  }

  /** Like waitFor, but only for activities that arrive after this call. */
  waitForNext(predicate: (a: CapturedActivity) => boolean = () => true, timeoutMs = 10_000): Promise<CapturedActivity> {
    const seen = this.activities.length;
    return this.waitFor((a) => this.activities.indexOf(a) >= seen && predicate(a), timeoutMs);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A Teams-shaped personal-chat message from a user, addressed to the bot. */
export function teamsMessage(serviceUrl: string, text: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'message',
    id: `msg-${Math.random().toString(36).slice(2)}`,
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl,
    text,
    from: { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: '00000000-0000-0000-0000-0000000000020' },
    recipient: { id: 'bot-id', name: 'VPP Books' },
    conversation: { id: 'personal-chat-1', conversationType: 'personal', tenantId: '00000000-0000-0000-0000-0000000000001' },
    channelData: { tenant: { id: '00000000-0000-0000-0000-0000000000001' } },
    ...overrides,
  };
}

/** Text of every TextBlock and FactSet title in an Adaptive Card attachment, for assertions. */
export function cardText(activity: CapturedActivity): string {
  const card = activity.attachments?.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
  return card ? JSON.stringify(card) : '';
}
