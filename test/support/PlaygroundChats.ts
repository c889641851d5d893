import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PLAYGROUND_ADMIN_USER_ID, PLAYGROUND_SECOND_USER_ID, PLAYGROUND_TENANT_ID } from '../../services/config/config';
import { cardText, teamsMessage, type CapturedActivity, type FakeConnector } from './FakeConnector';

/** The Playground's two users in local mode: Alex the admin, Megan the other approver. */
export const ALEX = { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: PLAYGROUND_ADMIN_USER_ID };
export const MEGAN = { id: 'user-id-1', name: 'Megan Bowen', aadObjectId: PLAYGROUND_SECOND_USER_ID };
export type ChatUser = typeof ALEX;

export const DEMO_TOKEN_FILE = readFileSync(path.resolve(__dirname, '../../local/appleSandbox/tokens/demo-valid.vpptoken'), 'utf8');

export const conversationOf = (id: string) => ({ id, conversationType: 'personal', tenantId: PLAYGROUND_TENANT_ID });

/** A click on a choice button: what Teams sends back for `{ choice, ref }` card data. */
export const click = (choice: string, ref: string) => ({ text: undefined, value: { choice, ref } });

/** The `ref` a card's choice buttons carry. */
export function refOf(activity: CapturedActivity): string {
  const ref = /"ref":"([^"]+)"/.exec(cardText(activity))?.[1];
  assert.ok(ref, `a card with choices: ${String(activity.text)} ${cardText(activity).slice(0, 300)}`);
  return ref;
}

/**
 * Alex and Megan chatting with a bot over HTTP, as Teams would post their activities; replies arrive at
 * the FakeConnector. For tests that drive whole flows through the real bot.
 */
export class PlaygroundChats {
  constructor(
    private readonly connector: FakeConnector,
    /** The bot's base URL; read on every post, because a test may restart the bot on a new port. */
    private readonly botUrl: () => string,
  ) {}

  post(body: Record<string, unknown>): Promise<Response> {
    return fetch(`${this.botUrl()}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** `user` says something in their chat; resolves with the first reply there matching `until`. */
  async say(user: ChatUser, text: string | Record<string, unknown>, until: (a: CapturedActivity) => boolean = () => true, timeoutMs = 20_000): Promise<CapturedActivity> {
    const conversationId = chatOf(user);
    const reply = this.connector.waitForNext((a) => a.conversation?.id === conversationId && until(a), timeoutMs);
    const body = typeof text === 'string' ? teamsMessage(this.connector.url, text) : { ...teamsMessage(this.connector.url, ''), ...text };
    const response = await this.post({ ...body, from: user, conversation: conversationOf(conversationId) });
    assert.equal(response.status, 200);
    return reply;
  }

  /** The Approve button of a request card (Action.Execute), clicked by `user` in their chat (or `conversationId`). */
  approveAs(user: ChatUser, approvalId: string | undefined, conversationId = chatOf(user)): Promise<Response> {
    return this.post({
      ...teamsMessage(this.connector.url, ''),
      type: 'invoke',
      name: 'adaptiveCard/action',
      from: user,
      conversation: conversationOf(conversationId),
      value: { action: { type: 'Action.Execute', verb: 'approve', data: { approvalId } }, trigger: 'manual' },
    });
  }

  /** Megan opens her chat (so approval cards can reach her); the admin (Alex) uploads the demo token and syncs it. */
  async setUpDemoToken(options: { admin?: ChatUser; opener?: ChatUser | null } = {}): Promise<void> {
    const admin = options.admin ?? ALEX;
    const opener = options.opener === undefined ? MEGAN : options.opener;
    if (opener) await this.say(opener, 'help');
    await this.say(admin, 'upload token', (a) => /Send me the/.test(String(a.text)));
    await this.say(admin, DEMO_TOKEN_FILE, (a) => /Which Apple Account/.test(String(a.text)));
    await this.say(admin, 'vpp-admin@northwind.example', (a) => cardText(a).includes('Apple Business Manager'));
    await this.say(admin, 'business', (a) => cardText(a).includes('Confirm the VPP token'));
    await this.say(admin, 'save', (a) => /^Saved/.test(String(a.text)));
    await this.say(admin, 'sync', (a) => cardText(a).includes('finished'), 30_000);
  }
}

/** Each user's personal chat with the bot. */
export function chatOf(user: ChatUser): string {
  if (user.aadObjectId === MEGAN.aadObjectId) return 'megan-chat';
  if (user.aadObjectId === ALEX.aadObjectId) return 'alex-chat';
  return `chat-${user.aadObjectId}`;
}
