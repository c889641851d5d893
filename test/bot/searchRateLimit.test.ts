import { strict as assert } from 'node:assert';
import { TestAdapter, type Activity, type TurnContext } from 'botbuilder';
import { RATE_LIMITED_TEXT, SEARCHES_PER_USER_LIMIT, TurnRateLimiter, type TurnRateLimits } from '../../bot/TurnRateLimiter';

const person = (name: string) => ({ id: `29:${name}`, name, aadObjectId: `aad-${name}` });
const chat = (id: string) => ({ id, conversationType: 'personal', tenantId: 'tenant-1', isGroup: false, name: id });

function harness(limits: TurnRateLimits, clock = { now: 0 }): { send: (activity: Partial<Activity>) => Promise<void>; sent: () => Array<{ type: string | undefined; text: string | undefined; value: unknown }> } {
  const limiter = new TurnRateLimiter(limits, { now: () => clock.now });
  const adapter = new TestAdapter(async (context: TurnContext) => {
    if (await limiter.admit(context)) await context.sendActivity('ok');
  });
  return {
    send: async (activity) => {
      await adapter.processActivity({ type: 'message', text: 'books', ...activity });
    },
    sent: () => adapter.activeQueue.map((a) => ({ type: a.type, text: a.text, value: a.value as unknown })),
  };
}

const search = (who = 'alex'): Partial<Activity> => ({
  type: 'invoke',
  name: 'application/search',
  value: { queryText: 'emm', queryOptions: { skip: 0, top: 15 }, dataset: 'books' },
  from: person(who),
  conversation: chat(`${who}-chat`),
});

describe('TurnRateLimiter: typeahead searches', () => {
  it('counts searches apart from messages, so typing a name leaves the clicks that follow', async () => {
    const { send, sent } = harness({ userPerMinute: 2, conversationPerMinute: 0 });
    for (let i = 0; i < 2 * SEARCHES_PER_USER_LIMIT; i++) await send(search());
    await send({ from: person('alex'), conversation: chat('alex-chat') });
    await send({ from: person('alex'), conversation: chat('alex-chat') });
    assert.equal(sent().length, 2 * SEARCHES_PER_USER_LIMIT + 2, 'every search and both messages were let through');
    assert.ok(sent().every((a) => a.text === 'ok'));
  });

  it("answers a search over its limit with the error a search box shows, and a minute later searches again", async () => {
    const clock = { now: 0 };
    const { send, sent } = harness({ userPerMinute: 1, conversationPerMinute: 0, searchPerMinute: 2 }, clock);
    for (let i = 0; i < 4; i++) await send(search());
    const refused = { status: 429, body: { statusCode: 429, type: 'application/vnd.microsoft.error', value: { code: 'TooManyRequests', message: RATE_LIMITED_TEXT } } };
    assert.deepEqual(sent(), [
      { type: 'message', text: 'ok', value: undefined },
      { type: 'message', text: 'ok', value: undefined },
      { type: 'invokeResponse', text: undefined, value: refused },
      { type: 'invokeResponse', text: undefined, value: refused },
    ]);
    await send({ from: person('alex'), conversation: chat('alex-chat') });
    assert.equal(sent().at(-1)?.text, 'ok', 'searching did not use up the message limit');
    await send(search('megan'));
    assert.equal(sent().at(-1)?.text, 'ok', 'someone else still searches');
    clock.now += 60_000;
    await send(search());
    assert.equal(sent().at(-1)?.text, 'ok');
  });
});
