import { strict as assert } from 'node:assert';
import { TestAdapter, type Activity, type TurnContext } from 'botbuilder';
import { RATE_LIMITED_TEXT, REFRESHES_PER_USER_LIMIT, TurnRateLimiter, type TurnRateLimits } from '../../bot/TurnRateLimiter';
import { loadConfig } from '../../services/config/config';

const TENANT = 'tenant-1';
const person = (name: string) => ({ id: `29:${name}`, name, aadObjectId: `aad-${name}` });
const chat = (id: string) => ({ id, conversationType: 'personal', tenantId: TENANT, isGroup: false, name: id });

/** A bot that says "ok" to every turn the limiter lets through; returns what was sent, in order. */
function harness(limits: TurnRateLimits, clock = { now: 0 }): { send: (activity: Partial<Activity>) => Promise<void>; sent: () => Partial<Activity>[] } {
  const limiter = new TurnRateLimiter(limits, { now: () => clock.now });
  const adapter = new TestAdapter(async (context: TurnContext) => {
    if (await limiter.admit(context)) await context.sendActivity('ok');
  });
  return {
    send: async (activity) => {
      await adapter.processActivity({ type: 'message', text: 'tokens', ...activity });
    },
    sent: () => adapter.activeQueue.map((a) => ({ type: a.type, text: a.text, value: a.value as unknown })),
  };
}

describe('TurnRateLimiter', () => {
  it('answers a flood from one user with one notice, then silence until the minute is over', async () => {
    const clock = { now: 0 };
    const { send, sent } = harness({ userPerMinute: 3, conversationPerMinute: 0 }, clock);
    for (let i = 0; i < 20; i++) await send({ from: person('adele'), conversation: chat('adele-chat') });
    assert.deepEqual(sent().map((a) => a.text), ['ok', 'ok', 'ok', RATE_LIMITED_TEXT]);
    await send({ from: person('alex'), conversation: chat('alex-chat') });
    assert.equal(sent().at(-1)?.text, 'ok', 'someone else is still served');
    clock.now += 60_000;
    await send({ from: person('adele'), conversation: chat('adele-chat') });
    assert.equal(sent().at(-1)?.text, 'ok', 'a minute later Adele is served again');
  });

  it("limits a channel's conversation across its threads and senders, with one notice", async () => {
    const { send, sent } = harness({ userPerMinute: 100, conversationPerMinute: 4 });
    const channel = (thread: number) => ({ id: `19:admins@thread.tacv2;messageid=${thread}`, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: 'admins' });
    for (let i = 0; i < 12; i++) await send({ from: person(['alex', 'megan', 'lynne'][i % 3]!), conversation: channel(i % 2) });
    assert.deepEqual(sent().map((a) => a.text), ['ok', 'ok', 'ok', 'ok', RATE_LIMITED_TEXT]);
  });

  it('gives one notice in a 1:1 chat, where the user and conversation limits would both trip', async () => {
    const { send, sent } = harness({ userPerMinute: 3, conversationPerMinute: 5 });
    for (let i = 0; i < 30; i++) await send({ from: person('adele'), conversation: chat('adele-chat') });
    assert.deepEqual(sent().map((a) => a.text), ['ok', 'ok', 'ok', RATE_LIMITED_TEXT]);
  });

  it('answers every card click over the limit with a valid invoke response, and no chat message', async () => {
    const { send, sent } = harness({ userPerMinute: 1, conversationPerMinute: 0 });
    const click: Partial<Activity> = { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'approve' } }, from: person('lynne'), conversation: chat('lynne-chat') };
    await send(click);
    await send(click);
    await send(click);
    const expected = { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: RATE_LIMITED_TEXT } };
    assert.deepEqual(sent(), [
      { type: 'message', text: 'ok', value: undefined },
      { type: 'invokeResponse', text: undefined, value: expected },
      { type: 'invokeResponse', text: undefined, value: expected },
    ]);
  });

  describe("Teams' automatic card refreshes", () => {
    const channel = { id: '19:admins@thread.tacv2', conversationType: 'channel', tenantId: TENANT, isGroup: true, name: 'admins' };
    const refresh = (viewer: string, card = 0): Partial<Activity> => ({
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb: 'refresh', data: { approvalId: `approval-${card}` } }, trigger: 'automatic' },
      from: person(viewer),
      conversation: channel,
    });

    it('an approver opening a channel with 40 pending approval cards gets all 40, and can still type', async () => {
      const { send, sent } = harness({ userPerMinute: 30, conversationPerMinute: 120 });
      for (let card = 0; card < 40; card++) await send(refresh('lynne', card));
      assert.equal(sent().filter((a) => a.text === 'ok').length, 40, 'every card in view is brought up to date');
      await send({ text: 'approvals', from: person('lynne'), conversation: channel });
      assert.deepEqual(sent().filter((a) => a.type === 'message').map((a) => a.text).slice(-1), ['ok'], 'and her own message is answered');
      assert.equal(sent().some((a) => a.text === RATE_LIMITED_TEXT), false, 'nobody is told they are sending too fast');
    });

    it("count against neither the conversation's limit nor each viewer's message limit", async () => {
      const { send, sent } = harness({ userPerMinute: 5, conversationPerMinute: 3 });
      for (let i = 0; i < 10; i++) await send(refresh(`viewer-${i}`));
      for (let card = 0; card < 20; card++) await send(refresh('viewer-0', card));
      assert.equal(sent().filter((a) => a.text === 'ok').length, 30, 'ten people opening the channel all get their cards');
      for (let i = 0; i < 3; i++) await send({ from: person(`viewer-${i}`), conversation: channel });
      assert.equal(sent().filter((a) => a.text === 'ok').length, 33, 'and the channel still has its messages');
    });

    it('are bounded by a separate, higher limit; a refused one gets an error invoke response and no chat message', async () => {
      const { send, sent } = harness({ userPerMinute: 2, conversationPerMinute: 0 });
      const limit = 2 * REFRESHES_PER_USER_LIMIT;
      for (let card = 0; card < limit + 3; card++) await send(refresh('mallory', card));
      assert.equal(sent().filter((a) => a.text === 'ok').length, limit);
      const refused = sent().slice(limit);
      assert.equal(refused.length, 3, 'each refused refresh is answered once');
      for (const answer of refused) {
        assert.equal(answer.type, 'invokeResponse', 'never a chat message');
        const { status, body } = answer.value as { status: number; body: { statusCode: number; type: string } };
        assert.deepEqual([status, body.statusCode, body.type], [200, 429, 'application/vnd.microsoft.error'], 'Teams keeps the card as it was');
      }
      assert.equal(JSON.stringify(refused).includes(RATE_LIMITED_TEXT), false, 'not the "sending too fast" text: she typed nothing');
    });

    it('a click the person made is a click, whatever its verb', async () => {
      const { send, sent } = harness({ userPerMinute: 1, conversationPerMinute: 0 });
      const manual = { ...refresh('lynne'), value: { action: { type: 'Action.Execute', verb: 'refresh' }, trigger: 'manual' } };
      await send(manual);
      await send(manual);
      assert.equal((sent()[1]?.value as { body: { value: string } }).body.value, RATE_LIMITED_TEXT);
    });
  });

  describe('a channel shared by admins and noisy senders', () => {
    const channel = (thread: number) => ({ id: `19:it@thread.tacv2;messageid=${thread}`, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: 'it' });

    it("senders over their own limit use none of the conversation's", async () => {
      const { send, sent } = harness({ userPerMinute: 3, conversationPerMinute: 7 });
      for (let i = 0; i < 40; i++) await send({ from: person(i % 2 ? 'script-a' : 'script-b'), conversation: channel(i % 3) });
      assert.equal(sent().filter((a) => a.text === 'ok').length, 6);
      await send({ from: person('alex'), conversation: channel(9) });
      assert.equal(sent().at(-1)?.text, 'ok', 'an admin in the same channel is still answered');
    });

    it('with the default limits, two scripted users sending flat out leave the admins of the channel answered', async () => {
      const { rateLimits } = loadConfig({});
      const { send, sent } = harness(rateLimits);
      for (let i = 0; i < 200; i++) await send({ from: person(i % 2 ? 'script-a' : 'script-b'), conversation: channel(i % 5) });
      const answeredBefore = sent().filter((a) => a.text === 'ok').length;
      for (const admin of ['alex', 'megan', 'lynne']) await send({ from: person(admin), conversation: channel(1) });
      assert.equal(sent().filter((a) => a.text === 'ok').length, answeredBefore + 3);
    });
  });

  it('counts only messages and clicks, and is off at 0', async () => {
    const limited = harness({ userPerMinute: 1, conversationPerMinute: 1 });
    for (let i = 0; i < 3; i++) await limited.send({ type: 'conversationUpdate', from: person('adele'), conversation: chat('adele-chat') });
    await limited.send({ from: person('adele'), conversation: chat('adele-chat') });
    assert.deepEqual(limited.sent().map((a) => a.text), ['ok', 'ok', 'ok', 'ok']);

    const off = harness({ userPerMinute: 0, conversationPerMinute: 0 });
    for (let i = 0; i < 100; i++) await off.send({ from: person('adele'), conversation: chat('adele-chat') });
    assert.equal(off.sent().filter((a) => a.text === 'ok').length, 100);
  });
});
