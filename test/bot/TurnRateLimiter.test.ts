import { strict as assert } from 'node:assert';
import { TestAdapter, type Activity, type TurnContext } from 'botbuilder';
import { RATE_LIMITED_TEXT, TurnRateLimiter, type TurnRateLimits } from '../../bot/TurnRateLimiter';

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

  it("counts Teams' automatic card refreshes against each viewer, not against the conversation", async () => {
    const { send, sent } = harness({ userPerMinute: 5, conversationPerMinute: 3 });
    const channel = { id: '19:admins@thread.tacv2', conversationType: 'channel', tenantId: TENANT, isGroup: true, name: 'admins' };
    const refresh = (viewer: string): Partial<Activity> => ({ type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'refresh' }, trigger: 'automatic' }, from: person(viewer), conversation: channel });
    for (let i = 0; i < 10; i++) await send(refresh(`viewer-${i}`));
    assert.equal(sent().filter((a) => a.text === 'ok').length, 10, 'ten people opening the channel all get their card');
    for (let i = 0; i < 5; i++) await send(refresh('viewer-0'));
    assert.equal(sent().filter((a) => a.type === 'invokeResponse').length, 1, "one viewer's sixth refresh in the minute is over their limit");
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
