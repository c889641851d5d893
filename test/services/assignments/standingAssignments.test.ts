import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { StandingAssignmentReconciler } from '../../../services/assignments/StandingAssignmentReconciler';
import { BookStatusService } from '../../../services/assignments/BookStatusService';
import { bookStatusCard } from '../../../cards/bookStatusCards';
import { approvalCard } from '../../../cards/approvalCards';
import { assignResultCard } from '../../../cards/assignCards';
import { reconcileSummary } from '../../../dialogs/assign/reconcileCommand';
import type { ApprovalService } from '../../../services/approvals/ApprovalService';
import type { AssignmentExecutor } from '../../../services/assignments/AssignmentExecutor';
import { ASSIGN_TENANT, AssignEnvironment, RecordingReporter, alexActor, meganActor } from '../../support/assignFixtures';
import { RecordingNotices, claimServices } from '../../support/claimFixtures';

/**
 * Standing assignments (issue #14, points 4 to 6): after an assignment is delivered, people who join its
 * groups get the book within what is left of the approved budget; once it is used up one top-up request
 * asks for exactly the number waiting; people who leave keep their licenses and are counted. Real parts:
 * embedded Cosmos, the Apple sandbox, the local directory over HTTP with Graph's delta and write calls.
 */
describe('standing assignments and reconciliation (sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 1_000, sandbox: { limits: { maxClientUserIds: 100, maxUsers: 50 } } });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });
  beforeEach(() => env.log.reset());


  /** Users join a group in the directory, as an Entra admin adds them. */
  function join(groupId: string, userIds: string[]): void {
    env.directoryServer.state.addMembers(groupId, userIds);
  }

  interface Setup {
    approvals: ApprovalService;
    executor: AssignmentExecutor;
    reconciler: StandingAssignmentReconciler;
    reporter: RecordingReporter;
    topUpsAsked: number;
  }

  function setUp(notices?: RecordingNotices): Setup {
    const reporter = new RecordingReporter();
    const executor = env.executor({ reporter, ...(notices ? { memberNotices: notices } : {}) });
    const setup: Setup = { executor, reporter, topUpsAsked: 0, ...env.standingServices(executor, { onTopUp: (asked) => void (asked.outcome === 'requested' && setup.topUpsAsked++) }) };
    return setup;
  }

  it('gives the book to people who join later within the budget, asks once for a top-up, and never spends more than approved', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Standing Reader', totalCount: 5_000 }]);
    const book = books[0]!;
    const group = DEMO_GROUPS.year9FormB;
    const before = env.members(group).length;
    const s = setUp();
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(group)], installIntent: 'required' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor, headroom: 3 });
    await s.approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    await s.executor.idle();
    const assigned = () => env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount;
    assert.equal(assigned(), before);

    // First look: the whole group is read once; nobody new, nothing spent.
    env.log.reset();
    let [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.state, 'reconciled');
    assert.equal(result?.licensing, 0);
    assert.equal(env.log.associateCalls.length, 0);

    // Two people join: they get the book from the headroom, in a pass of the same run.
    const [first, second, ...rest] = env.outsiders(group, 15);
    join(group, [first!, second!]);
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.licensing, result?.waiting, result?.groups[0]?.joined], [2, 0, 2]);
    await s.executor.idle();
    assert.equal(assigned(), before + 2);
    const passOutcome = s.reporter.outcomes.at(-1);
    assert.equal(passOutcome?.pass, 1);
    assert.equal(passOutcome?.totals.processed, 2, 'the pass reports on its own members');
    assert.match(JSON.stringify(assignResultCard(passOutcome!, 'apple')), /People who joined since got \\"Standing Reader\\" \(Required\).*"Users","value":"2"/);

    // Nothing changed in the directory: one Graph request for the group, nothing asked of Apple at all.
    env.log.reset();
    const graphBefore = env.directoryServer.requests.length;
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.licensing, 0);
    assert.equal(env.directoryServer.requests.length - graphBefore, 1, 'an unchanged group costs one delta request');
    assert.equal(env.log.requests, 0, 'no Apple request when nobody joined');

    // Twelve more join: one license is left in the budget, eleven wait, and the approvers are asked for 11.
    join(group, rest.slice(0, 12));
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.licensing, result?.waiting, result?.topUp?.outcome, result?.topUp?.count], [1, 11, 'requested', 11]);
    await s.executor.idle();
    assert.equal(assigned(), before + 3, 'spent = the approved budget, not a license more');
    let run = await env.runs.get(token.id, runId(request.id));
    assert.deepEqual([run?.budget, run?.spent, run?.topUp?.count, run?.topUp?.state], [before + 3, before + 3, 11, 'pending']);
    const pending = (await env.store.approvals.listPending(ASSIGN_TENANT)).filter((r) => r.kind === 'topUp');
    assert.equal(pending.length, 1);
    assert.equal(pending[0]?.requestedBy.aadObjectId, alexActor.aadObjectId, 'in the name of whoever asked for the assignment');
    assert.match(JSON.stringify(approvalCard(pending[0]!, { actionable: true })), /11 more people joined 'Year 9 Form 9B' since the book was assigned.*Approve 11 more licenses/);

    // Asked again with the same number: approvers are not asked twice.
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.topUp?.outcome, 'unchanged');
    assert.equal(s.topUpsAsked, 1);

    // One more joins: the number changed, so the request is replaced by one for 12.
    join(group, rest.slice(12, 13));
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.topUp?.outcome, result?.topUp?.count], ['requested', 12]);
    assert.equal((await env.store.approvals.get(ASSIGN_TENANT, pending[0]!.id))?.state, 'withdrawn', 'the old number cannot be approved any more');
    const topUp = (await env.store.approvals.listPending(ASSIGN_TENANT)).find((r) => r.kind === 'topUp');
    assert.equal(topUp?.summary.licensesNeeded, 12);
    // The requester cannot approve their own top-up; the other approver can.
    assert.equal((await s.approvals.decide(ASSIGN_TENANT, topUp!.id, alexActor, 'approved')).outcome, 'ownRequest');
    assert.equal((await s.approvals.decide(ASSIGN_TENANT, topUp!.id, meganActor, 'approved')).outcome, 'decided');
    // The approved top-up goes straight to the twelve waiting.
    for (let i = 0; i < 100 && assigned() !== before + 15; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await s.executor.idle();
    }
    assert.equal(assigned(), before + 15);
    run = await env.runs.get(token.id, runId(request.id));
    assert.deepEqual([run?.budget, run?.spent, run?.topUp, run?.state], [before + 15, before + 15, undefined, 'completed']);

    // Someone leaves: counted and named, and the license stays with them.
    env.directoryServer.state.removeMember(group, first!);
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.groups[0]?.left, 1);
    assert.equal(assigned(), before + 15, 'a license cannot be reclaimed');
    const stored = await env.store.books.get(token.id, book.adamId, book.pricingParam);
    const status = await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, stored!);
    const standing = status.groups[0]?.standing;
    assert.deepEqual([standing?.joined, standing?.waiting, standing?.left], [15, 0, 1]);
    assert.equal(status.groups[0]?.members, before + 14);
    const card = JSON.stringify(bookStatusCard(status));
    assert.match(card, /Members now.*Joined since the assignment","value":"15".*Left the group \(keep their licenses\)","value":"1: /);
    assert.match(reconcileSummary([result!]), /Year 9 Form 9B: 1 left the group \(they keep their licenses\)/);
  });

  it('Required: invited members are licensed only once they have joined (seen after a sync), within the budget', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Invitation Reader', totalCount: 5_000 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const group = DEMO_GROUPS.year9FormA;
    const members = env.members(group);
    const managed = members.filter((id) => env.directoryServer.state.users.get(id)?.managedAppleId);
    const s = setUp();
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(group)], installIntent: 'required' });
    assert.equal(preview.needInvitation, members.length - managed.length);
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    await s.approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    await s.executor.idle();
    const holders = () => [...org.assignments.values()].filter((a) => a.adamId === book.adamId).map((a) => a.clientUserId);
    assert.deepEqual(holders().sort(), [...managed].sort(), 'only Managed Apple Accounts are licensed at once');

    // Nobody joined yet: reconciliation keeps them invited and spends nothing.
    let [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.licensing, 0);
    let standing = await env.store.standing.get(token.id, runId(request.id));
    assert.equal(standing?.groups[0]?.invited?.length, members.length - managed.length);

    // Two accept their invitation (the sandbox's link), and a sync stores them as joined.
    const invited = (await env.store.vppUsers.getMany(token.id, members)).filter((u) => u.status === 'registered').slice(0, 2);
    for (const user of invited) {
      const url = await env.clients(token).invitationUrl(user.inviteCode!);
      assert.ok(url);
      assert.equal((await fetch(url)).status, 200);
      await env.store.vppUsers.update(token.id, user.id, (u) => ({ ...u, status: 'associated', inviteCode: undefined }));
    }
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.licensing, 2);
    await s.executor.idle();
    assert.deepEqual(holders().sort(), [...managed, ...invited.map((u) => u.id)].sort(), 'licensed once they joined, never before');
    standing = await env.store.standing.get(token.id, runId(request.id));
    assert.equal(standing?.groups[0]?.licensedAfterJoining, 2);
    assert.equal(standing?.groups[0]?.invited?.length, members.length - managed.length - 2);
    const run = await env.runs.get(token.id, runId(request.id));
    assert.ok((run?.spent ?? 0) <= (run?.budget ?? 0));
    const stored = await env.store.books.get(token.id, book.adamId, book.pricingParam);
    const status = await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, stored!);
    assert.deepEqual(status.groups[0]?.intent, { kind: 'required', licensed: managed.length + 2, invitedNotJoined: members.length - managed.length - 2, licensedAfterJoining: 2 });
    assert.match(JSON.stringify(bookStatusCard(status)), /Invited, not joined yet \(no license yet\)","value":"\d+".*Of the licensed: after joining","value":"2"/);
  });

  it('a top-up that is refused is not asked again until the number waiting changes', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Refused Top-up Reader', totalCount: 5_000 }]);
    const book = books[0]!;
    const group = DEMO_GROUPS.year9FormC;
    const s = setUp();
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(group)], installIntent: 'required' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    await s.approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    await s.executor.idle();
    const spent = env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount;
    await s.reconciler.reconcileToken(token.id);

    join(group, env.outsiders(group, 4));
    let [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.licensing, result?.waiting, result?.topUp?.outcome], [0, 4, 'requested']);
    const topUp = (await env.store.approvals.listPending(ASSIGN_TENANT)).find((r) => r.kind === 'topUp' && r.tokenId === token.id);
    await s.approvals.decide(ASSIGN_TENANT, topUp!.id, meganActor, 'rejected');
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.equal(result?.topUp?.outcome, 'unchanged');
    assert.equal(s.topUpsAsked, 1);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, spent, 'nobody licensed without an approval');
    // A top-up that was asked for holds its licenses back from other requests while pending; a refused one does not.
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.topUp?.state, 'declined');
    assert.equal(await env.runs.reservedFor(token.id, book.adamId, book.pricingParam), 0);
  });

  it('withdraws a pending top-up once the people waiting for it have left', async () => {
    const { token, books } = await env.seedToken([{ title: 'Withdrawn Top-up Reader', totalCount: 5_000 }]);
    const book = books[0]!;
    const group = DEMO_GROUPS.year9FormA;
    const s = setUp();
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(group)], installIntent: 'required' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    await s.approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    await s.executor.idle();
    await s.reconciler.reconcileToken(token.id);
    const joiners = env.outsiders(group, 3);
    join(group, joiners);
    let [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.waiting, result?.topUp?.outcome], [3, 'requested']);
    // Held back from other requests while it waits for a decision.
    assert.equal(await env.runs.reservedFor(token.id, book.adamId, book.pricingParam), 3);
    const topUp = (await env.store.approvals.listPending(ASSIGN_TENANT)).find((r) => r.kind === 'topUp' && r.tokenId === token.id);

    for (const id of joiners) env.directoryServer.state.removeMember(group, id);
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.waiting, result?.groups[0]?.left, result?.topUp?.outcome], [0, 3, 'withdrawn']);
    assert.equal((await env.store.approvals.get(ASSIGN_TENANT, topUp!.id))?.state, 'withdrawn');
    assert.equal(await env.runs.reservedFor(token.id, book.adamId, book.pricingParam), 0);
    assert.match(reconcileSummary([result!]), /the pending top-up request was withdrawn/);
    // An old card's Approve changes nothing now.
    assert.equal((await s.approvals.decide(ASSIGN_TENANT, topUp!.id, meganActor, 'approved')).outcome, 'alreadyDecided');
  });

  it('Available: the members told at delivery are not newcomers, nor is one who gets it from my books; only who joins after is', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Available Standing Reader', totalCount: 5_000 }]);
    const book = books[0]!;
    const group = DEMO_GROUPS.englishDepartment;
    const members = env.members(group);
    const notices = new RecordingNotices();
    const s = setUp(notices);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(group)], installIntent: 'available' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    await s.approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    await s.executor.idle();
    const offered = () => notices.told.filter((t) => t.kind === 'offered').map((t) => t.member);
    assert.deepEqual(offered().sort(), [...members].sort(), 'the delivery tells every member once');
    const status = async () => {
      const stored = await env.store.books.get(token.id, book.adamId, book.pricingParam);
      return (await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, stored!)).groups[0];
    };

    // The look right after the delivery: everyone found was told by it, so nobody joined, nobody is told again.
    let [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.state, result?.groups[0]?.joined, result?.groups[0]?.offering], ['reconciled', 0, 0]);
    assert.equal((await status())?.standing?.joined, 0, 'status: nobody joined since the assignment');

    // A member gets it from "my books": one license spent, still nobody joined.
    const [adele] = members;
    const { claims } = claimServices(env);
    assert.equal((await claims.claim(ASSIGN_TENANT, { aadObjectId: adele!, displayName: 'Adele' }, { tokenId: token.id, runId: runId(request.id) })).outcome, 'licensed');
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.groups[0]?.joined, result?.groups[0]?.offering], [0, 0]);
    assert.deepEqual([(await status())?.standing?.joined, (await status())?.intent], [0, { kind: 'available', offered: members.length, gotIt: 1 }]);

    // Two join: they are the newcomers, told once; nothing is spent or asked for until they ask.
    const joiners = env.outsiders(group, 2);
    join(group, joiners);
    [result] = await s.reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.groups[0]?.joined, result?.groups[0]?.offering, result?.waiting, result?.topUp], [2, 2, 0, undefined]);
    await s.executor.idle();
    assert.deepEqual(offered().sort(), [...members, ...joiners].sort(), 'each member told once, the newcomers after they joined');
    assert.equal((await status())?.standing?.joined, 2);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 1);
    assert.equal(s.topUpsAsked, 0);
  });

  it('Required: members the delivery left out for want of licenses wait for a top-up, but did not join since', async () => {
    const { token, books } = await env.seedToken([{ title: 'Left Out Reader', totalCount: 5_000 }]);
    const book = books[0]!;
    const group = DEMO_GROUPS.libraryStaff;
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(group)], installIntent: 'required' });
    // The group grows between the request and its delivery: the two beyond the approved number are left out.
    const { request, executor } = await env.deliver(preview, {}, () => join(group, env.outsiders(group, 2)));
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.overBudget, 2);
    const { reconciler } = env.standingServices(executor);

    const [result] = await reconciler.reconcileToken(token.id);
    assert.deepEqual([result?.groups[0]?.joined, result?.waiting, result?.topUp?.outcome, result?.topUp?.count], [0, 2, 'requested', 2]);
    const stored = await env.store.books.get(token.id, book.adamId, book.pricingParam);
    const standing = (await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, stored!)).groups[0]?.standing;
    assert.deepEqual([standing?.joined, standing?.waiting], [0, 2]);
  });
});
