import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { approvalCard } from '../../../cards/approvalCards';
import { GROUP_TARGET } from '../../../services/intune/IntuneApi';
import { assignmentId } from '../../../services/store/entities/assignment';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { EXCLUDED_GROUP, INTUNE_TENANT, IntuneAssignEnvironment, alexActor, groupAssignment, meganActor, type IntuneServices } from './IntuneAssignmentFixtures';

/**
 * Budgets in Intune mode (issue #20, point 3): Intune licenses whoever joins an assigned group by itself, so the
 * watcher counts the groups after each sync; beyond the approved budget it asks for exactly the excess, and when
 * that is refused it takes the run's groups off the book in Intune, keeping everything else in its list.
 */
/** A kind of target the bot never makes and that licenses no user: kept whole, never counted. */
const ALL_DEVICES = { installIntent: 'required' as const, target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } };

describe('IntuneBudgetWatcher (local directory, embedded Cosmos, Graph-like Intune)', function () {
  this.timeout(60_000);
  const env = new IntuneAssignEnvironment();
  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  const join = (groupId: string, userIds: string[]): void => env.directoryServer.state.addMembers(groupId, userIds);
  const pendingTopUps = async () => (await env.store.approvals.listPending(INTUNE_TENANT)).filter((r) => r.kind === 'topUp');

  /** A delivered assignment of a fresh book to `groupId`, next to what the book had in Intune already. */
  async function delivered(s: IntuneServices, groupId: string, options: { headroom?: number } = {}) {
    const seeded = await env.seedBook({ total: 5_000, assignments: [groupAssignment(DEMO_GROUPS.englishDepartment, 'required')] });
    const preview = await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(groupId)], installIntent: 'required' });
    const { request, run } = await env.deliver(s, preview, options);
    assert.equal(run?.state, 'completed');
    return { ...seeded, request, run: run! };
  }

  it('asks once for exactly the excess; an approved top-up raises the budget and removes nothing', async () => {
    const s = env.services();
    const group = DEMO_GROUPS.year9FormB;
    const { token, bookId, request, run } = await delivered(s, group, { headroom: 2 });
    const members = env.members(group).length;
    assert.deepEqual([run.budget, run.spent], [members + 2, members]);

    // Within the headroom: nothing asked.
    const [a, b, c, d, e] = env.outsiders(group, 5);
    join(group, [a!, b!]);
    let [result] = await s.watcher.reconcileToken(token.id);
    assert.deepEqual([result?.state, result?.groups[0]?.joined, result?.topUp], ['reconciled', 2, undefined]);
    assert.equal((await env.runs.get(token.id, run.id))?.spent, members + 2);

    // Three more: three over the budget, asked for exactly that, once.
    join(group, [c!, d!, e!]);
    [result] = await s.watcher.reconcileToken(token.id);
    assert.deepEqual([result?.topUp?.outcome, result?.topUp?.count], ['requested', 3]);
    [result] = await s.watcher.reconcileToken(token.id);
    assert.equal(result?.topUp?.outcome, 'unchanged', 'the same number is not asked twice');
    const [topUp] = await pendingTopUps();
    assert.equal(topUp?.summary.licensesNeeded, 3);
    assert.equal(topUp?.requestedBy.aadObjectId, alexActor.aadObjectId);
    const card = JSON.stringify(approvalCard(topUp!, { actionable: true, backend: 'intune' }));
    assert.match(card, /3 more people joined 'Year 9 Form 9B' since the book was assigned, beyond the licenses approved for it\. Approve 3 more licenses, so the assignment stays in Intune\?/);
    assert.match(card, /If this is rejected, the bot removes the groups' assignment of the book in Intune/);

    // Intune spent those licenses already (none free now): the top-up is approved all the same.
    env.intune.books.set(bookId, { ...env.intune.books.get(bookId)!, usedLicenseCount: 5_000 });
    assert.equal((await s.approvals.decide(INTUNE_TENANT, topUp!.id, meganActor, 'approved')).outcome, 'decided');
    await s.watcher.idle();
    const after = await env.runs.get(token.id, runId(request.id));
    assert.deepEqual([after?.budget, after?.spent, after?.topUp?.state, after?.withdrawnFromIntune], [members + 5, members + 5, 'approved', undefined]);
    assert.ok(env.intune.listOf(bookId).some((x) => x.target.groupId === group), 'nothing removed');
    assert.equal(env.intune.listOf(bookId).length, 2);
    [result] = await s.watcher.reconcileToken(token.id);
    assert.equal(result?.topUp, undefined, 'within the new budget');
  });

  it('takes exactly the run\'s groups off the book in Intune when the top-up is rejected, keeping everything else', async () => {
    const s = env.services();
    const group = DEMO_GROUPS.year9FormC;
    // Another run of the same book, to Form 9A, whose assignment must stay; and assignments made in Intune.
    const seeded = await env.seedBook({ total: 5_000, assignments: [groupAssignment(DEMO_GROUPS.englishDepartment, 'required'), ALL_DEVICES, EXCLUDED_GROUP] });
    const other = await env.deliver(s, await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'available' }));
    const { request, run } = await env.deliver(s, await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(group)], installIntent: 'required' }));
    assert.equal(run?.state, 'completed');
    const listBefore = env.intune.listOf(seeded.bookId);
    assert.equal(listBefore.length, 5);

    // Students of no Year 9 form: nobody holds the book through Form 9A's earlier assignment.
    join(group, env.outsiders(DEMO_GROUPS.year9Students, 4));
    const results = await s.watcher.reconcileToken(seeded.token.id);
    const mine = results.find((r) => r.runId === run!.id);
    assert.deepEqual([mine?.topUp?.outcome, mine?.topUp?.count], ['requested', 4]);
    assert.equal(results.find((r) => r.runId === other.run?.id)?.topUp, undefined, 'the other run is within its budget');
    const topUp = (await pendingTopUps()).find((r) => r.runId === run!.id);

    // Rejected: the hook takes the group off at once, without waiting for a sync.
    const assignsBefore = env.intune.assignCalls().length;
    assert.equal((await s.approvals.decide(INTUNE_TENANT, topUp!.id, meganActor, 'rejected', 'Not this term')).outcome, 'decided');
    await s.watcher.idle();
    assert.equal(env.intune.assignCalls().length - assignsBefore, 1);
    assert.deepEqual(
      env.intune.listOf(seeded.bookId),
      listBefore.filter((x) => x.target.groupId !== group),
      'exactly the run\'s group is gone; the other run\'s, the foreign and the exclusion stay as they were',
    );
    assert.ok(env.intune.listOf(seeded.bookId).some((x) => x.target['@odata.type'] === GROUP_TARGET && x.target.groupId === DEMO_GROUPS.year9FormA));
    const withdrawn = await env.runs.get(seeded.token.id, runId(request.id));
    assert.ok(withdrawn?.withdrawnFromIntune);
    assert.equal(withdrawn?.topUp?.state, 'declined');
    const stored = await env.store.assignments.get(seeded.token.id, assignmentId(seeded.book.adamId, seeded.book.pricingParam, group));
    assert.equal(stored?.lastError?.code, 'intune_withdrawn');

    // Not redone, and no longer reported as standing; the other run is untouched.
    const again = await s.watcher.reconcileToken(seeded.token.id);
    assert.deepEqual(
      again.map((r) => r.runId),
      [other.run!.id],
    );
    assert.equal(env.intune.assignCalls().length - assignsBefore, 1);
    assert.equal((await s.watcher.reconcileRun(seeded.token.id, run!.id)).state, 'skipped');
  });

  it('counts someone who joins the groups of two runs of one book once, against the run asked for first', async () => {
    const s = env.services();
    const seeded = await env.seedBook({ total: 5_000 });
    const first = await env.deliver(s, await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(DEMO_GROUPS.teachers)], installIntent: 'required' }));
    const later = await env.deliver(s, await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(DEMO_GROUPS.bookClub)], installIntent: 'required' }));
    const [student] = env.outsiders(DEMO_GROUPS.year9Students, 10).slice(-1);
    env.directoryServer.state.addMembers(DEMO_GROUPS.bookClub, [student!, ...env.members(DEMO_GROUPS.teachers).slice(0, 2)]);
    // The dynamic Teachers group takes whoever is a teacher: the student becomes one.
    const user = env.directoryServer.state.users.get(student!)!;
    env.directoryServer.state.addUser({ ...user, jobTitle: 'Teacher' });
    const results = await s.watcher.reconcileToken(seeded.token.id);
    const byRun = new Map(results.map((r) => [r.runId, r.topUp?.count]));
    assert.equal(byRun.get(first.run!.id), 1, 'the earlier run pays for the newcomer');
    assert.equal(byRun.get(later.run!.id), undefined, 'the later one pays for nobody the earlier one licenses');
  });

  it('acts on a rejected top-up found at the next sync (a restart between the rejection and the change)', async () => {
    // No hook: the rejection is only recorded, as when the process stopped right after it.
    const s = env.services({ hooks: false });
    const group = DEMO_GROUPS.libraryVolunteers;
    const { token, bookId, run } = await delivered(s, group);
    join(group, env.outsiders(group, 2));
    await s.watcher.reconcileToken(token.id);
    const topUp = (await pendingTopUps()).find((r) => r.runId === run.id);
    await s.approvals.decide(INTUNE_TENANT, topUp!.id, meganActor, 'rejected');
    await s.watcher.idle();
    assert.ok(env.intune.listOf(bookId).some((x) => x.target.groupId === group), 'nothing done yet');

    const [result] = await s.watcher.reconcileToken(token.id);
    assert.equal(result?.state, 'reconciled');
    assert.match(result?.reason ?? '', /The top-up was rejected, so the bot took "Library Volunteers" off the book in Intune.*licenses already spent stay/);
    assert.deepEqual(env.intune.listOf(bookId), [groupAssignment(DEMO_GROUPS.englishDepartment, 'required')]);
    assert.ok((await env.runs.get(token.id, run.id))?.withdrawnFromIntune);
  });

  it('asks at once after a delivery when the groups grew between the request and the delivery', async () => {
    const s = env.services();
    const group = DEMO_GROUPS.englishDepartment;
    const seeded = await env.seedBook({ total: 5_000 });
    const preview = await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(group)], installIntent: 'available' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    join(group, env.outsiders(group, 3));
    // The approver is told what approving means in Intune when the groups changed since the request.
    const notice = await s.approvals.groupChange(request);
    assert.match(notice ?? '', /The group grew by 3 since the request .* Approving approves \d+ licenses all the same\. Intune licenses every member by itself, so approvers are asked at once/);
    await s.approvals.decide(INTUNE_TENANT, request.id, meganActor, 'approved');
    await s.executor.idle();
    await s.watcher.idle();
    const run = await env.runs.get(seeded.token.id, runId(request.id));
    assert.deepEqual([run?.spent, run?.budget, run?.topUp?.count, run?.topUp?.state], [preview.licensesNeeded + 3, preview.licensesNeeded, 3, 'pending']);
    assert.deepEqual(s.topUps, [{ count: 3, outcome: 'requested' }]);
    const topUp = (await pendingTopUps()).find((r) => r.runId === run?.id);
    assert.deepEqual([topUp?.summary.joined, topUp?.summary.asked], [3, undefined], 'people joined: nobody asks for an Available book through the bot in Intune mode');
  });
});
