import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { ActivityTypes, TestAdapter, TurnContext, type Activity, type AdaptiveCardInvokeValue } from 'botbuilder';
import { DEMO_GROUPS } from '../../../local/directory';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { assignmentId } from '../../../services/store/entities/assignment';
import type { ApprovalRequest } from '../../../services/store/entities/approval';
import type { AdaptiveCardJson } from '../../../cards/cardTemplates';
import { ApprovalCardHandler, type ApprovalNotifier } from '../../../dialogs/approvals/ApprovalCardHandler';
import { postApprovalCard } from '../../../dialogs/approvals/approvalCardSender';
import { ADELE, ALEX, ASSIGN_TENANT, AssignEnvironment, MEGAN, RecordingReporter, type AssignTokenFixture } from '../../support/assignFixtures';
import { storeTeamsChat } from '../../support/storedChat';
import { silentLogger } from '../../../services/logging/logger';

const OTHER_TENANT = '00000000-0000-0000-0000-00000000ffff';

class RecordingNotifier implements ApprovalNotifier {
  decisions: ApprovalRequest[] = [];
  updates: Array<{ activityId: string; card: AdaptiveCardJson }> = [];
  resent: Array<{ request: ApprovalRequest; approvers: readonly string[] }> = [];
  /** Holds the requester's message back until released: Teams may be slow or throttling. */
  gate: Promise<void> = Promise.resolve();
  async decided(request: ApprovalRequest): Promise<void> {
    await this.gate;
    this.decisions.push(request);
  }
  async requestCreated(request: ApprovalRequest, approvers: readonly string[]): Promise<void> {
    this.resent.push({ request, approvers });
  }
  async updateCard(_tenantId: string, copy: { activityId: string }, adaptiveCard: AdaptiveCardJson): Promise<void> {
    this.updates.push({ activityId: copy.activityId, card: adaptiveCard });
  }
}

describe('approval cards (Universal Actions, server-side decisions)', function () {
  this.timeout(30_000);
  const env = new AssignEnvironment({ studentCount: 200 });
  let fixture: AssignTokenFixture;
  let clock = Date.now();
  const now = () => new Date(clock);

  // The service's clock, read when each test starts: a value from when mocha loaded the file would already
  // be past the 60-second expiry once the tests before this file have run.
  beforeEach(() => {
    clock = Date.now();
  });

  before(async () => {
    await env.start();
    fixture = await env.seedToken(Array.from({ length: 10 }, (_, i) => ({ title: `Classic ${i + 1}`, totalCount: 100 })));
  });
  after(async () => {
    await env.stop();
  });

  function setup() {
    const reporter = new RecordingReporter();
    const executor = env.executor({ reporter });
    const approvals = env.approvals(executor, { now, expiryMs: 60_000 });
    const notifier = new RecordingNotifier();
    const handler = new ApprovalCardHandler(approvals, notifier, silentLogger(), async (_tenant, id) => id === ALEX || id === MEGAN);
    return { reporter, executor, approvals, notifier, handler };
  }

  let bookIndex = 0;
  async function newRequest(approvals: ReturnType<typeof setup>['approvals']): Promise<ApprovalRequest> {
    const book = fixture.books[bookIndex++]!;
    const preview = await env.planner.preview({ token: fixture.token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.libraryStaff)], installIntent: 'required' });
    return (await approvals.request({ preview, requestedBy: { aadObjectId: ALEX, displayName: 'Alex Wilber' } })).request;
  }

  /** An invoke turn as Teams sends it when `user` clicks; updates to other activities are recorded. */
  function click(user: { id: string; name: string }, value: unknown, options: { tenantId?: string; conversationId?: string } = {}) {
    const adapter = new TestAdapter(async () => undefined);
    const activity: Partial<Activity> = {
      type: ActivityTypes.Invoke,
      name: 'adaptiveCard/action',
      channelId: 'msteams',
      from: { id: `29:${user.id}`, name: user.name, aadObjectId: user.id },
      recipient: { id: 'bot', name: 'bot' },
      conversation: { id: options.conversationId ?? 'conv-approvals', isGroup: false, conversationType: 'personal', tenantId: options.tenantId ?? ASSIGN_TENANT, name: 'chat' },
      value,
    };
    const context = new TurnContext(adapter, activity);
    const updated: Partial<Activity>[] = [];
    context.onUpdateActivity(async (_ctx, a, next) => {
      updated.push(a);
      return next();
    });
    return { context, updated };
  }

  const alex = { id: ALEX, name: 'Alex Wilber' };
  const megan = { id: MEGAN, name: 'Megan Bowen' };
  const adele = { id: ADELE, name: 'Adele Vance' };
  const execute = (verb: string, data: Record<string, unknown>, trigger: 'manual' | 'automatic' = 'manual') =>
    ({ action: { type: 'Action.Execute', id: 'a', verb, data }, trigger }) as unknown as AdaptiveCardInvokeValue;
  const json = (v: unknown) => JSON.stringify(v);

  it('posts the card, approves on another approver\'s click, answers first, then updates it for everyone, tells the requester and delivers', async () => {
    const { approvals, handler, notifier, executor, reporter } = setup();
    let release = (): void => undefined;
    notifier.gate = new Promise<void>((resolve) => (release = resolve));
    let request = await newRequest(approvals);
    // The request card goes out in the requester's chat; Teams refreshes it for the approvers.
    const { context: postContext } = click(alex, undefined);
    postContext.onSendActivities(async (_ctx, activities) => activities.map(() => ({ id: 'card-activity-1' })));
    request = await postApprovalCard(postContext, approvals, request);
    assert.deepEqual(request.card, { activityId: 'card-activity-1', conversationId: 'conv-approvals' });

    const { context, updated } = click(megan, execute('approve', { approvalId: request.id, comment: 'Fine by me' }));
    const response = await handler.handle(context, context.activity.value as AdaptiveCardInvokeValue);
    assert.equal(response.statusCode, 200);
    assert.equal(response.type, 'application/vnd.microsoft.card.adaptive');
    const card = json(response.value);
    assert.match(card, /Approved by Megan Bowen on/);
    assert.ok(!card.includes('Action.Execute'), 'no buttons once decided');
    assert.equal(notifier.decisions.length, 0, 'the click was answered before the requester was told');
    assert.equal(updated.length, 0, 'nothing else happened inside the click');
    release();
    await handler.idle();
    assert.equal(notifier.updates.length, 1);
    assert.equal(notifier.updates[0]?.activityId, 'card-activity-1');
    assert.match(json(notifier.updates[0]?.card), /Approved by Megan Bowen/);
    assert.equal(notifier.decisions[0]?.state, 'approved');
    assert.equal(notifier.decisions[0]?.comment, 'Fine by me');
    await executor.idle();
    assert.equal(reporter.outcomes[0]?.state, 'completed');
    assert.equal(reporter.outcomes[0]?.totals.processed, env.members(DEMO_GROUPS.libraryStaff).length);
  });

  it('the requester cannot decide their own request; a non-approver cannot either', async () => {
    const { approvals, handler, notifier } = setup();
    const request = await newRequest(approvals);
    const own = click(alex, execute('approve', { approvalId: request.id }));
    const ownCard = json((await handler.handle(own.context, own.context.activity.value as AdaptiveCardInvokeValue)).value);
    assert.match(ownCard, /cannot approve or reject your own request/);
    assert.ok(!ownCard.includes('"verb":"approve"'), 'the requester sees no buttons');
    const stranger = click(adele, execute('reject', { approvalId: request.id }));
    assert.match(json((await handler.handle(stranger.context, stranger.context.activity.value as AdaptiveCardInvokeValue)).value), /Only the configured approvers/);
    assert.equal((await approvals.get(ASSIGN_TENANT, request.id))?.state, 'pending');
    assert.equal(notifier.decisions.length, 0);
    const audit = await env.store.audit.listForTarget(ASSIGN_TENANT, 'approval', request.id);
    assert.equal(audit.filter((e) => e.outcome === 'refused').length, 2);
  });

  it('double clicks, a second approver, stale cards and forged payloads change nothing', async () => {
    const { approvals, handler, notifier } = setup();
    const request = await newRequest(approvals);
    const first = click(megan, execute('reject', { approvalId: request.id, comment: 'Not this term' }));
    await handler.handle(first.context, first.context.activity.value as AdaptiveCardInvokeValue);
    const decided = await approvals.get(ASSIGN_TENANT, request.id);
    assert.equal(decided?.state, 'rejected');

    // Megan clicks again, Alex (also an approver, but the requester) and a stale card's approve arrive late.
    for (const [user, verb] of [[megan, 'reject'], [megan, 'approve']] as const) {
      const again = click(user, execute(verb, { approvalId: request.id }));
      const card = json((await handler.handle(again.context, again.context.activity.value as AdaptiveCardInvokeValue)).value);
      assert.match(card, /Already rejected by Megan Bowen, so your click changed nothing/);
    }
    // Two approvers at once: exactly one wins.
    const race = await newRequest(approvals);
    const approvers = [megan, { id: '00000000-0000-0000-0000-0000000000024', name: 'Patti' }];
    const raceExecutor = setup().executor;
    const raceApprovals = env.approvals(raceExecutor, { approvers: [MEGAN, approvers[1]!.id] });
    const raceHandler = new ApprovalCardHandler(raceApprovals, new RecordingNotifier(), silentLogger(), async () => false);
    const results = await Promise.all(
      approvers.map((u) => {
        const c = click(u, execute('approve', { approvalId: race.id }));
        return raceHandler.handle(c.context, c.context.activity.value as AdaptiveCardInvokeValue);
      }),
    );
    assert.equal(results.filter((r) => json(r.value).includes('changed nothing')).length, 1, 'one click wins, the other is told');
    await raceExecutor.idle();

    // Forged payloads: unknown id, another tenant, wrong verb, extra fields, not a uuid, not Action.Execute.
    const pending = await newRequest(approvals);
    const forged: Array<[unknown, { tenantId?: string }, RegExp]> = [
      [execute('approve', { approvalId: randomUUID() }), {}, /does not exist in your organisation/],
      [execute('approve', { approvalId: pending.id }), { tenantId: OTHER_TENANT }, /does not exist in your organisation/],
      [execute('delete', { approvalId: pending.id }), {}, /not one this bot offers/],
      [execute('approve', { approvalId: pending.id, state: 'approved', decidedBy: MEGAN }), {}, /not one this bot offers/],
      [execute('approve', { approvalId: 'x' }), {}, /not one this bot offers/],
      [{ action: { type: 'Action.Submit', verb: 'approve', data: { approvalId: pending.id } } }, {}, /not one this bot offers/],
      [undefined, {}, /not one this bot offers/],
    ];
    for (const [value, options, expected] of forged) {
      const c = click(megan, value, options);
      assert.match(json((await handler.handle(c.context, value as AdaptiveCardInvokeValue)).value), expected);
    }
    assert.equal((await approvals.get(ASSIGN_TENANT, pending.id))?.state, 'pending');
    assert.equal((await env.runs.get(fixture.token.id, runId(pending.id)))?.state, 'awaitingApproval');
    await handler.idle();
    assert.equal(notifier.decisions.length, 1, 'only the first real decision was announced');
  });

  it("answers a refresh with that user's view, refreshed for the approvers by their Teams ids (MRIs), not Entra ids", async () => {
    const { approvals, handler } = setup();
    const request = await newRequest(approvals);
    // Megan has chatted with the bot: her Teams user id (MRI) is known from her conversation reference.
    await storeTeamsChat(env.store, { tenantId: ASSIGN_TENANT, aadObjectId: MEGAN, mri: '29:megan-mri' });
    const asApprover = click(megan, execute('refresh', { approvalId: request.id }, 'automatic'));
    const approverCard = (await handler.handle(asApprover.context, asApprover.context.activity.value as AdaptiveCardInvokeValue)).value;
    assert.ok(json(approverCard).includes('"verb":"approve"'), 'an approver gets the buttons');
    assert.ok(json(approverCard).includes('"id":"comment"'));
    assert.deepEqual((approverCard.refresh as { userIds?: string[] } | undefined)?.userIds, ['29:megan-mri'], 'the refreshed card keeps its refresh, for MRIs only');
    const asRequester = click(alex, execute('refresh', { approvalId: request.id }, 'automatic'));
    const requesterCard = (await handler.handle(asRequester.context, asRequester.context.activity.value as AdaptiveCardInvokeValue)).value;
    assert.ok(!json(requesterCard).includes('"verb":"approve"'));
    assert.ok(json(requesterCard).includes('"verb":"withdraw"'), 'the requester may withdraw');
    assert.match(json(requesterCard), /Waiting for approval/);
  });

  it('lets the requester withdraw (freeing the book and group at once) and an admin resend, nobody else', async () => {
    const { approvals, handler, notifier } = setup();
    const request = await newRequest(approvals);
    const book = fixture.books[bookIndex - 1]!;
    const byMegan = click(megan, execute('withdraw', { approvalId: request.id }));
    assert.match(json((await handler.handle(byMegan.context, byMegan.context.activity.value as AdaptiveCardInvokeValue)).value), /Only the admin who asked can withdraw/);
    const byAdele = click(adele, execute('resend', { approvalId: request.id }));
    assert.match(json((await handler.handle(byAdele.context, byAdele.context.activity.value as AdaptiveCardInvokeValue)).value), /Only VPP Books admins can send/);
    const resend = click(alex, execute('resend', { approvalId: request.id }));
    assert.match(json((await handler.handle(resend.context, resend.context.activity.value as AdaptiveCardInvokeValue)).value), /Sent again to 1 approver/);
    await handler.idle();
    assert.deepEqual(notifier.resent.map((r) => r.approvers), [[MEGAN]], 'to every approver but the requester');

    const withdraw = click(alex, execute('withdraw', { approvalId: request.id }));
    assert.match(json((await handler.handle(withdraw.context, withdraw.context.activity.value as AdaptiveCardInvokeValue)).value), /You withdrew the request/);
    assert.equal((await approvals.get(ASSIGN_TENANT, request.id))?.state, 'withdrawn');
    assert.equal((await env.runs.get(fixture.token.id, runId(request.id)))?.state, 'cancelled');
    assert.equal((await env.store.assignments.get(fixture.token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.libraryStaff)))?.status, 'rejected');
    const late = click(megan, execute('approve', { approvalId: request.id }));
    assert.match(json((await handler.handle(late.context, late.context.activity.value as AdaptiveCardInvokeValue)).value), /requester withdrew this request/);
    // The same book and group can be asked for again at once.
    const preview = await env.planner.preview({ token: fixture.token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.libraryStaff)], installIntent: 'required' });
    const again = await approvals.request({ preview, requestedBy: { aadObjectId: ALEX, displayName: 'Alex Wilber' } });
    assert.equal(again.request.state, 'pending');
  });

  it('expires requests nobody decided in time', async () => {
    const { approvals, handler, notifier } = setup();
    // The store decides expiry by the real clock: a request made 61 s ago with a 60 s expiry is overdue.
    clock = Date.now() - 61_000;
    const request = await newRequest(approvals);
    try {
      const late = click(megan, execute('approve', { approvalId: request.id }));
      assert.match(json((await handler.handle(late.context, late.context.activity.value as AdaptiveCardInvokeValue)).value), /expired before anyone decided/);
      await handler.idle();
      assert.equal((await approvals.get(ASSIGN_TENANT, request.id))?.state, 'expired');
      assert.equal((await env.runs.get(fixture.token.id, runId(request.id)))?.state, 'cancelled');
      const book = fixture.books[bookIndex - 1]!;
      assert.equal((await env.store.assignments.get(fixture.token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.libraryStaff)))?.status, 'rejected');
      assert.equal(notifier.decisions.at(-1)?.state, 'expired');
    } finally {
      clock = Date.now();
    }
  });
});
