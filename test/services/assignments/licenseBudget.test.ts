import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { assignResultCard } from '../../../cards/assignCards';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { BookStatusService } from '../../../services/assignments/BookStatusService';
import { bookStatusCard } from '../../../cards/bookStatusCards';
import { approvalCard } from '../../../cards/approvalCards';
import { ActivityTypes, TestAdapter, TurnContext, type AdaptiveCardInvokeValue } from 'botbuilder';
import { ApprovalCardHandler } from '../../../dialogs/approvals/ApprovalCardHandler';
import { ASSIGN_TENANT, AssignEnvironment, MEGAN, RecordingReporter, alexActor, meganActor, unsentApprovalMessages } from '../../support/assignFixtures';
import { silentLogger } from '../../../services/logging/logger';

const alex = alexActor;
const megan = meganActor;

/**
 * An approval approves a number of licenses (issue #14, point 1): whatever happens to the group between
 * the request and the run, or across a restart, the run never spends more than that.
 */
describe('an approval is a license budget (sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 1_000, sandbox: { limits: { maxClientUserIds: 100, maxUsers: 50 } } });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });
  beforeEach(() => env.log.reset());


  it('licenses exactly the approved number when the group grows by 300 between the request and the approval', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Library Volunteers Reader', totalCount: 5_000 }]);
    const book = books[0]!;
    const formC = env.members(DEMO_GROUPS.year9FormC);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormC)], installIntent: 'required' });
    assert.equal(preview.licensesNeeded, formC.length);
    const reporter = new RecordingReporter();
    const executor = env.executor({ reporter });
    const approvals = env.approvals(executor);
    const { request } = await approvals.request({ preview, requestedBy: alex });
    assert.equal(request.summary.licensesNeeded, formC.length, 'the approver sees the number approved');

    env.directoryServer.state.addMembers(DEMO_GROUPS.year9FormC, env.outsiders(DEMO_GROUPS.year9FormC, 300));
    // The approver's card says so, and what approving still means.
    const refresh = new TurnContext(new TestAdapter(async () => undefined), {
      type: ActivityTypes.Invoke,
      name: 'adaptiveCard/action',
      channelId: 'msteams',
      from: { id: '29:megan', name: 'Megan Bowen', aadObjectId: MEGAN },
      recipient: { id: 'bot', name: 'bot' },
      conversation: { id: 'megan-chat', isGroup: false, conversationType: 'personal', tenantId: ASSIGN_TENANT, name: 'chat' },
    });
    const view = await new ApprovalCardHandler(approvals, unsentApprovalMessages, silentLogger(), async () => false).handle(refresh, { action: { type: 'Action.Execute', id: 'r', verb: 'refresh', data: { approvalId: request.id } }, trigger: 'automatic' } as unknown as AdaptiveCardInvokeValue);
    assert.match(JSON.stringify(view.value), /The group grew by 300 since the request \(360 members now\)\. Approving approves 60 licenses all the same/);
    await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
    await executor.idle();

    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, formC.length, 'licenses spent = the approved number');
    const outcome = reporter.outcomes[0]!;
    assert.equal(outcome.state, 'completed');
    assert.equal(outcome.totals.licensed + outcome.totals.awaitingInvitation, formC.length);
    assert.equal(outcome.overBudget, 300);
    assert.match(JSON.stringify(assignResultCard(outcome, 'apple')), /Left out: approved licenses used up.*300 \(60 approved\)/);
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(run?.spent, formC.length);
    // The result card goes out with the book's counts read afresh from Apple, not those of the last sync.
    const stored = await env.store.books.get(token.id, book.adamId, book.pricingParam);
    assert.deepEqual([stored?.usedLicenseCount, stored?.availableLicenseCount], [formC.length, 5_000 - formC.length]);
    // status <book> shows the budget: approved, spent, left, and who was left out.
    const status = await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, stored!);
    assert.deepEqual(status.groups[0]?.budget, { approved: 60, spent: 60, left: 0, leftOut: 300 });
    assert.match(JSON.stringify(bookStatusCard(status)), /Licenses approved \/ spent \/ left.*60 \/ 60 \/ 0.*Left out \(approved licenses used up\).*300/);
  });

  it('gives back the licenses Apple refused, and members who hold the book already cost nothing', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Scarce Copies', totalCount: 60 }]);
    const book = books[0]!;
    const formB = env.members(DEMO_GROUPS.year9FormB);
    // Five members hold it already (another MDM gave it to them): they are not part of the budget.
    for (const id of formB.slice(0, 5)) {
      env.sandbox.state.createUser(org, { clientUserId: id, managedAppleId: `${id}@example.org` });
      env.sandbox.state.assign(org, book.adamId, book.pricingParam, id);
    }
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    assert.equal(preview.licensesNeeded, formB.length - 5);
    // Approved into the 55 free; another MDM takes 35 of them before the run: Apple refuses 35 of ours.
    const { request } = await env.deliver(preview, {}, () => env.spendElsewhere(org, book, 35));
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 60);
    assert.equal(run?.spent, 20, '20 new licenses spent; the 35 refused went back');
    assert.equal(run?.totals.failed, 35);
    assert.equal(run?.overBudget ?? 0, 0);
  });

  it('never spends more than approved across a restart, though the group grew while the bot was down', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Restart Proof', totalCount: 5_000 }]);
    const book = books[0]!;
    // Year 9 (the three forms nested, 181 students): two batches of 100.
    const year9 = env.members(DEMO_GROUPS.year9Students);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9Students)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    const first = env.executor({ reporter, progressEveryUsers: 1 });
    // Stop after the first batch; then 500 students join the group.
    reporter.onProgress = (update) => {
      if (update.processed >= 100) void first.stop();
    };
    const approvals = env.approvals(first);
    const { request } = await approvals.request({ preview, requestedBy: alex });
    await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
    await first.idle();
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.spent, 100, 'stopped after one batch');
    env.directoryServer.state.addMembers(DEMO_GROUPS.year9Students, env.outsiders(DEMO_GROUPS.year9Students, 500));

    const second = env.executor({ reporter });
    await second.resumeAll();
    await second.idle();
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, year9.length, 'exactly the approved number, across both processes');
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(run?.state, 'completed');
    assert.equal(run?.spent, year9.length);
    assert.ok((run?.overBudget ?? 0) > 0, 'newcomers beyond the budget are left out, not licensed');
  });

  it('reserves the licenses of open requests: a preview shows what is left, and two requests are never approved into the same last licenses', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Last Licenses', totalCount: 100 }]);
    const book = books[0]!;
    // 60 students each in Form 9A and Form 9B; 100 licenses: only one of the two can be approved.
    const previewA = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const approvals = await env.approvalsOnly();
    const a = await approvals.request({ preview: previewA, requestedBy: alex });
    const previewB = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    assert.equal(previewB.licensesReserved, 60, 'the pending request holds its 60 back');
    assert.equal(previewB.licensesAvailable, 40);
    assert.equal(previewB.enough, false);
    // Asked for all the same (as a second admin might, with an older preview): both wait for approval.
    const b = await approvals.request({ preview: { ...previewB, licensesAvailable: 100, enough: true }, requestedBy: alex });

    const [first, second] = await Promise.all([
      approvals.decide(ASSIGN_TENANT, a.request.id, megan, 'approved'),
      approvals.decide(ASSIGN_TENANT, b.request.id, megan, 'approved'),
    ]);
    const outcomes = [first.outcome, second.outcome].sort();
    assert.deepEqual(outcomes, ['decided', 'notEnoughLicenses'], 'exactly one approved');
    const refused = [first, second].find((r) => r.outcome === 'notEnoughLicenses');
    assert.match(refused && 'message' in refused ? refused.message : '', /Only 40 licenses of this book are free at Apple now \(60 more are reserved for approved assignments still under way\), and this request approves 60/);
    const stillPending = refused && 'request' in refused ? await approvals.get(ASSIGN_TENANT, refused.request.id) : undefined;
    assert.equal(stillPending?.state, 'pending', 'the refused one can be approved once licenses are bought');

    // After the approved one is delivered, Apple has 40 free: the other is still refused, on fresh counts.
    const approved = [first, second].find((r) => r.outcome === 'decided');
    const approvedId = approved && 'request' in approved ? approved.request.id : '';
    const executor = env.executor({});
    await executor.execute(token.id, runId(approvedId));
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 60);
    assert.equal((await approvals.decide(ASSIGN_TENANT, stillPending?.id ?? '', megan, 'approved')).outcome, 'notEnoughLicenses');
    // Bought 20 more at Apple: now it fits, and goes through.
    env.sandbox.state.findBook(org, book.adamId, book.pricingParam)!.totalCount += 20;
    assert.equal((await approvals.decide(ASSIGN_TENANT, stillPending?.id ?? '', megan, 'approved')).outcome, 'decided');
  });

  it('approves headroom the requester added for newcomers, and the approver sees it', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Room To Grow', totalCount: 5_000 }]);
    const book = books[0]!;
    const formA = env.members(DEMO_GROUPS.year9FormA);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const approvals = await env.approvalsOnly();
    const { request } = await approvals.request({ preview, requestedBy: alex, headroom: 10 });
    assert.match(JSON.stringify(approvalCard(request, { actionable: true })), /Licenses approved by this","value":"70 \(60 needed \+ 10 for newcomers\)"/);
    // Three students join before the approval: within the headroom, they get the book too.
    env.directoryServer.state.addMembers(DEMO_GROUPS.year9FormA, env.outsiders(DEMO_GROUPS.year9FormA, 3));
    await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
    await env.executor({}).execute(token.id, runId(request.id));
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, formA.length + 3);
    const run = await env.runs.get(token.id, runId(request.id));
    assert.deepEqual([run?.budget, run?.spent, run?.overBudget ?? 0], [70, 63, 0]);
  });

  it('an approval whose delivery did not start still holds its licenses back from the next approval', async () => {
    const { token, books } = await env.seedToken([{ title: 'Start Cut Off', totalCount: 100 }]);
    const book = books[0]!;
    const approvals = await env.approvalsOnly();
    const a = await approvals.request({ preview: await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormA)], installIntent: 'required' }), requestedBy: alex });
    const previewB = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    const b = await approvals.request({ preview: { ...previewB, licensesAvailable: 100, enough: true }, requestedBy: alex });
    // A's approval is recorded, but moving its run to "approved" fails (a throttled write, say).
    const update = env.runs.update.bind(env.runs);
    let failNext = true;
    env.runs.update = async (tokenId, id, mutate) =>
      update(tokenId, id, (r) => {
        const next = mutate(r);
        if (failNext && next?.state === 'approved') {
          failNext = false;
          throw new Error('injected: the run could not be moved to approved');
        }
        return next;
      });
    try {
      assert.equal((await approvals.decide(ASSIGN_TENANT, a.request.id, megan, 'approved')).outcome, 'decided');
    } finally {
      env.runs.update = update;
    }
    assert.equal((await env.runs.get(token.id, runId(a.request.id)))?.state, 'awaitingApproval', 'the start was cut off');
    assert.equal((await approvals.decide(ASSIGN_TENANT, b.request.id, megan, 'approved')).outcome, 'notEnoughLicenses', 'A still holds its 60');
    await approvals.recoverApproved();
    assert.equal((await env.runs.get(token.id, runId(a.request.id)))?.state, 'approved', 'the sweep starts it');
  });
});
