import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { ReachFailure, type ReachOutcome } from '../../bot/ApproverReach';
import { MemberMessenger, type MemberMessengerOptions } from '../../bot/MemberMessenger';
import type { MemberNoticeRun, NoticeMember } from '../../services/assignments/memberNotices';
import type { DeliveryResult, Recipient } from '../../services/notifications/NotificationOutbox';
import type { NotificationMessage } from '../../services/notifications/ProactiveSender';
import type { StoredConversation } from '../../services/store/entities/conversation';
import type { Store } from '../../services/store/Store';
import { useEmbeddedCosmos } from '../services/store/fixtures';

const TENANT = '00000000-0000-0000-0000-0000000000aa';
const REQUESTER = { aadObjectId: '00000000-0000-0000-0000-00000000000f', displayName: 'Ada Admin' };

function chatOf(aadObjectId: string): StoredConversation {
  return {
    id: `user|${aadObjectId}`,
    tenantId: TENANT,
    scope: 'personal',
    userAadObjectId: aadObjectId,
    conversationId: `chat-${aadObjectId}`,
    reference: { bot: { id: 'bot' }, conversation: { id: `chat-${aadObjectId}` }, channelId: 'msteams', serviceUrl: 'https://smba.example/' },
    updatedDateTime: new Date().toISOString(),
  };
}

/** Records what went where; answers as told per conversation. */
class FakeOutbox {
  readonly sent: Array<{ recipient: Recipient; message: NotificationMessage }> = [];
  answer: (recipient: Recipient) => DeliveryResult = () => 'sent';

  send(recipient: Recipient, message: NotificationMessage): Promise<DeliveryResult> {
    const result = this.answer(recipient);
    if (result === 'sent') this.sent.push({ recipient, message });
    return Promise.resolve(result);
  }

  to(aadObjectId: string): NotificationMessage[] {
    return this.sent.filter((s) => s.recipient.conversationId === `chat-${aadObjectId}`).map((s) => s.message);
  }
}

/** Everyone has a chat unless said otherwise. */
class FakeReach {
  readonly calls: string[] = [];
  failures = new Map<string, ReachFailure>();

  reach(_tenantId: string, aadObjectId: string): Promise<ReachOutcome> {
    this.calls.push(aadObjectId);
    const failure = this.failures.get(aadObjectId);
    return Promise.resolve(failure ? { reached: false, failure } : { reached: true, conversation: chatOf(aadObjectId) });
  }
}

const member = (n: number): NoticeMember => ({ clientUserId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, displayName: `Member ${n}`, mail: `m${n}@example.org` });

function runOf(): MemberNoticeRun {
  return {
    runId: randomUUID(),
    tokenId: randomUUID(),
    tenantId: TENANT,
    approvalId: randomUUID(),
    requestedBy: REQUESTER,
    bookTitle: 'Emma',
    installIntent: 'required',
    groupNames: ['Year 9'],
    adamId: '1234',
    pricingParam: 'STDQ',
  };
}

describe('MemberMessenger: delivery in the background, told once', () => {
  const env = useEmbeddedCosmos();
  let store: Store;
  let outbox: FakeOutbox;
  let reach: FakeReach;
  const started: MemberMessenger[] = [];

  function messenger(overrides: Partial<MemberMessengerOptions> = {}): MemberMessenger {
    const m = new MemberMessenger({ notices: store.memberNotices, outbox, reach, instanceId: 'instance-a', publicBaseUrl: () => 'https://bot.example', retryDelayMs: 0, pollMs: 60_000, ...overrides });
    started.push(m);
    return m;
  }

  beforeEach(async () => {
    store = await env.newStore();
    outbox = new FakeOutbox();
    reach = new FakeReach();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });

  it('two instances recording and delivering the same notices tell each member once', async () => {
    const a = messenger({ instanceId: 'a' });
    const b = messenger({ instanceId: 'b' });
    await Promise.all([a.start(), b.start()]);
    const run = runOf();
    const members = Array.from({ length: 15 }, (_, i) => member(i));
    await Promise.all([a.licensed(run, members), b.licensed(run, members), a.licensed(run, members.slice(0, 5))]);
    await Promise.all([a.idle(), b.idle()]);
    for (const m of members) assert.equal(outbox.to(m.clientUserId).length, 1, m.displayName);
    const summaries = outbox.to(REQUESTER.aadObjectId);
    assert.equal(summaries.length, 1, 'one summary');
    assert.equal(summaries[0]?.text, '"Emma": 15 members were told in Teams; 0 could not be reached.');
  });

  it('recording returns before delivery, which needs the worker', async () => {
    const m = messenger();
    await m.licensed(runOf(), [member(1)]);
    assert.equal(outbox.sent.length, 0, 'recorded only: the worker is not started');
    await m.start();
    await m.idle();
    assert.equal(outbox.to(member(1).clientUserId).length, 1, 'picked up at start-up');
  });

  it('a notice this instance left mid-send is reported unreachable at start-up, never sent again', async () => {
    const run = runOf();
    const before = messenger({ instanceId: 'same-host' });
    await before.licensed(run, [member(1), member(2)]);
    // The previous life claimed member 1 and died before marking it sent.
    const [first] = (await store.memberNotices.due()).filter((n) => n.value.member.clientUserId === member(1).clientUserId);
    assert.ok(first);
    assert.ok(await store.memberNotices.claim(first, 'same-host'));

    const after = messenger({ instanceId: 'same-host' });
    await after.start();
    await after.idle();
    assert.equal(outbox.to(member(1).clientUserId).length, 0, 'maybe sent already: not again');
    assert.equal(outbox.to(member(2).clientUserId).length, 1);
    const notice = await store.memberNotices.get(run.tokenId, run.runId, member(1).clientUserId, 'licensed');
    assert.equal(notice?.state, 'unreachable');
    assert.match(notice?.reason ?? '', /restarted while sending/);
    assert.equal(outbox.to(REQUESTER.aadObjectId)[0]?.text, '"Emma": 1 member was told in Teams; 1 could not be reached.');
  });

  it('a passing failure is tried again; a lasting one, or the bot removed, is reported with its reason', async () => {
    const run = runOf();
    reach.failures.set(member(1).clientUserId, new ReachFailure('Microsoft Graph was busy.', true));
    reach.failures.set(member(2).clientUserId, new ReachFailure('Teams would not let the bot install itself for them.', false));
    outbox.answer = (r) => (r.conversationId === `chat-${member(3).clientUserId}` ? 'dropped' : 'sent');
    const m = messenger({ maxAttempts: 3 });
    await m.start();
    await m.invited(run, [1, 2, 3, 4].map((n) => ({ ...member(n), invitationUrl: `https://vpp.example/i/${n}` })));
    await m.idle();
    // Graph stayed busy: tried once per pass until the attempts ran out (the delay is 0 here).
    for (let pass = 0; pass < 3; pass++) {
      await m.poll();
    }
    assert.equal(reach.calls.filter((id) => id === member(1).clientUserId).length, 3, 'three tries');
    const notices = new Map((await store.memberNotices.listForRun(run.tokenId, run.runId)).map((n) => [n.member.displayName, n]));
    assert.equal(notices.get('Member 1')?.state, 'unreachable');
    assert.equal(notices.get('Member 1')?.reason, 'Microsoft Graph was busy.');
    assert.equal(notices.get('Member 2')?.reason, 'Teams would not let the bot install itself for them.');
    assert.equal(notices.get('Member 2')?.attempts, 0, 'a lasting failure is not retried');
    assert.equal(notices.get('Member 3')?.reason, 'They removed or blocked the bot in Teams.');
    assert.equal(notices.get('Member 4')?.state, 'sent');
    const [summary] = outbox.to(REQUESTER.aadObjectId);
    assert.equal(summary?.text, '"Emma": 1 member was told in Teams; 3 could not be reached.');
    assert.match(JSON.stringify(summary?.card), /https:\/\/bot\.example\/api\/exports\/[A-Za-z0-9_-]{43}/);
  });

  it('the summary waits while the run is still delivering, and goes out once when it ends', async () => {
    const run = runOf();
    let state = 'running';
    const m = messenger({ runState: () => Promise.resolve(state) });
    await m.start();
    await m.licensed(run, [member(1)]);
    await m.idle();
    assert.equal(outbox.to(member(1).clientUserId).length, 1);
    assert.equal(outbox.to(REQUESTER.aadObjectId).length, 0, 'the run goes on: no summary per batch');
    await m.licensed(run, [member(2)]);
    await m.idle();
    state = 'completed';
    await m.poll();
    await m.poll();
    assert.deepEqual(outbox.to(REQUESTER.aadObjectId).map((s) => s.text), ['"Emma": 2 members were told in Teams; 0 could not be reached.']);
  });

  it('without a public address, the summary names the first ten and says why there is no download', async () => {
    const run = runOf();
    for (let n = 0; n < 12; n++) reach.failures.set(member(n).clientUserId, new ReachFailure('Blocked by policy.', false));
    const m = messenger({ publicBaseUrl: () => undefined });
    await m.start();
    await m.licensed(run, Array.from({ length: 12 }, (_, n) => member(n)));
    await m.idle();
    const [summary] = outbox.to(REQUESTER.aadObjectId);
    const card = JSON.stringify(summary?.card);
    assert.match(card, /the first 10 of 12/);
    assert.equal((card.match(/Blocked by policy\./g) ?? []).length, 10);
    assert.match(card, /BOT_HOSTNAME/);
    assert.ok(!card.includes('Action.OpenUrl'));
  });
});
