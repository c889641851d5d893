import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { DEMO_GROUPS } from '../../../local/directory';
import { approvalCard } from '../../../cards/approvalCards';
import { GROUP_TARGET, IntuneRetryAfterError } from '../../../services/intune/IntuneApi';
import { IntuneUnavailableError } from '../../../services/intune/IntuneError';
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

/** Fake timers for the watcher alone: embedded Cosmos and the directory keep the real ones. */
function watcherClock() {
  const timers = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, Date };
  // sinon installs the fake timers on the object given as `global` (an option its types leave out).
  const config = { global: timers, toFake: ['setTimeout', 'clearTimeout'] } as unknown as Parameters<typeof sinon.useFakeTimers>[0];
  return { timers, clock: sinon.useFakeTimers(config) };
}

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
    assert.match(result?.reason ?? '', /The top-up was rejected, so I took "Library Volunteers" off the book in Intune.*licenses already spent stay/);
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
  /** Form 9C delivered, grown by `joined` beyond its budget, and a top-up asked for: what each refusal test starts from. */
  async function overBudget(s: IntuneServices, group: string, joined = 3) {
    const delivery = await delivered(s, group);
    // Students in neither the group nor English Department (which the book goes to already): each costs a license.
    const holders = new Set([...env.members(group), ...env.members(DEMO_GROUPS.englishDepartment)]);
    join(group, env.members(DEMO_GROUPS.allStudents).filter((id) => !holders.has(id)).slice(-joined));
    const [asked] = await s.watcher.reconcileToken(delivery.token.id);
    assert.equal(asked?.topUp?.outcome, 'requested', JSON.stringify(asked));
    const topUp = (await pendingTopUps()).find((r) => r.runId === delivery.run.id);
    assert.ok(topUp);
    return { ...delivery, topUp };
  }

  it("takes off only the run's own assignment: an Intune admin's assignment of the same group stays when the top-up is rejected", async () => {
    const s = env.services();
    const group = DEMO_GROUPS.year9FormA;
    const { token, bookId, run, topUp } = await overBudget(s, group);
    assert.ok(run.intuneCreated?.[0]?.id, "the run recorded its assignment with Intune's id");
    // An Intune admin replaces the bot's assignment with their own, filtered to iPads (Intune keeps one per group).
    const admins = { installIntent: 'required' as const, target: { ...groupAssignment(group, 'required').target, deviceAndAppManagementAssignmentFilterId: 'f-ipads', deviceAndAppManagementAssignmentFilterType: 'include' }, id: 'admin-9a' };
    env.intune.lists.set(bookId, [...(env.intune.lists.get(bookId) ?? []).filter((a) => a.target.groupId !== group), admins]);
    const listBefore = env.intune.listOf(bookId);

    assert.equal((await s.approvals.decide(INTUNE_TENANT, topUp.id, meganActor, 'rejected')).outcome, 'decided');
    await s.watcher.idle();
    assert.deepEqual(env.intune.listOf(bookId), listBefore, "the admin's assignment is not the run's: nothing is taken off");
    assert.ok((await env.runs.get(token.id, run.id))?.withdrawnFromIntune, 'nothing of the run stands any more');
  });

  it('reports an assignment removed in Intune itself and asks nothing for it; a top-up still waiting is withdrawn', async () => {
    const s = env.services();
    const group = DEMO_GROUPS.year9FormB;
    const { token, bookId, run, topUp } = await overBudget(s, group);
    // Someone removes the group's assignment in the Intune admin center.
    env.intune.lists.set(bookId, (env.intune.lists.get(bookId) ?? []).filter((a) => a.target.groupId !== group));
    join(group, env.outsiders(DEMO_GROUPS.allStudents, 200).filter((id) => !env.members(group).includes(id)).slice(0, 4));

    const [result] = await s.watcher.reconcileToken(token.id);
    assert.equal(result?.state, 'skipped');
    assert.match(result?.reason ?? '', /Its groups' assignment of the book was removed in Intune \("Year 9 Form 9B"\), so Intune licenses nobody more through it and no more licenses are asked for it\./);
    assert.deepEqual(result?.topUp, { outcome: 'withdrawn', count: 0 });
    assert.equal((await env.store.approvals.get(INTUNE_TENANT, topUp.id))?.state, 'withdrawn');
    assert.equal((await pendingTopUps()).filter((r) => r.runId === run.id).length, 0, 'no new top-up for the newcomers');
    const [again] = await s.watcher.reconcileToken(token.id);
    assert.deepEqual([again?.state, again?.topUp], ['skipped', undefined]);
  });

  it("tries a refused top-up's withdrawal again after 1, then 5 minutes when Intune did not take it, without waiting for a sync", async () => {
    const { timers, clock } = watcherClock();
    const s = env.services({ watcher: { timers } });
    try {
      const group = DEMO_GROUPS.libraryStaff;
      const { token, bookId, run, topUp } = await overBudget(s, group);
      env.intune.failNext('assign', new IntuneUnavailableError('assign the book', { status: 503 }));
      env.intune.failNext('assign', new IntuneUnavailableError('assign the book', { status: 503 }));
      await s.approvals.decide(INTUNE_TENANT, topUp.id, meganActor, 'rejected');
      await s.watcher.idle();
      assert.ok(env.intune.listOf(bookId).some((a) => a.target.groupId === group), 'Intune answered 503: still there');
      assert.deepEqual(s.watcher.pendingWithdrawals(), [run.id]);

      const tries = () => env.intune.calls.filter((c) => c.method === 'assign' && c.bookId === bookId && !c.sent?.some((a) => a.target.groupId === group)).length;
      clock.tick(59_999);
      await s.watcher.idle();
      assert.equal(tries(), 1, 'one try so far');
      clock.tick(1);
      await s.watcher.idle();
      assert.equal(tries(), 2, 'tried again after a minute');
      assert.equal((await env.runs.get(token.id, run.id))?.withdrawnFromIntune, undefined);

      clock.tick(5 * 60_000);
      await s.watcher.idle();
      assert.ok(!env.intune.listOf(bookId).some((a) => a.target.groupId === group), 'taken off on the third try');
      assert.ok((await env.runs.get(token.id, run.id))?.withdrawnFromIntune);
      assert.deepEqual(s.watcher.pendingWithdrawals(), []);
    } finally {
      await s.watcher.stop();
      clock.uninstall();
      env.intune.failures.length = 0;
    }
  });

  it("waits for Graph's Retry-After before trying a withdrawal again, and stops trying when stopped", async () => {
    const { timers, clock } = watcherClock();
    const now = Date.now();
    const s = env.services({ watcher: { timers, now: () => new Date(now) } });
    try {
      const group = DEMO_GROUPS.bookClub;
      const { bookId, run, topUp } = await overBudget(s, group);
      env.intune.failNext('assign', new IntuneRetryAfterError('assign the book', new Date(now + 20 * 60_000).toISOString(), { status: 429 }));
      await s.approvals.decide(INTUNE_TENANT, topUp.id, meganActor, 'rejected');
      await s.watcher.idle();
      const tries = () => env.intune.calls.filter((c) => c.method === 'assign' && c.bookId === bookId && !c.sent?.some((a) => a.target.groupId === group)).length;
      clock.tick(19 * 60_000);
      await s.watcher.idle();
      assert.equal(tries(), 1, 'not before Graph said');
      clock.tick(60_000);
      await s.watcher.idle();
      assert.equal(tries(), 2);
      assert.ok(!env.intune.listOf(bookId).some((a) => a.target.groupId === group));

      // Stopped: a withdrawal waiting for its next try is dropped.
      const other = await overBudget(s, DEMO_GROUPS.year9FormC);
      env.intune.failNext('assign', new IntuneUnavailableError('assign the book', { status: 503 }));
      await s.approvals.decide(INTUNE_TENANT, other.topUp.id, meganActor, 'rejected');
      await s.watcher.idle();
      assert.deepEqual(s.watcher.pendingWithdrawals(), [other.run.id]);
      await s.watcher.stop();
      assert.deepEqual(s.watcher.pendingWithdrawals(), []);
      clock.tick(60 * 60_000);
      await s.watcher.idle();
      assert.equal((await env.runs.get(other.token.id, other.run.id))?.withdrawnFromIntune, undefined);
      assert.ok(run);
    } finally {
      await s.watcher.stop();
      clock.uninstall();
      env.intune.failures.length = 0;
    }
  });

  it('counts a top-up nobody decided in time as refused in Intune mode: the groups come off the book, and the card said so', async () => {
    const s = env.services();
    const group = DEMO_GROUPS.englishDepartment;
    const seeded = await env.seedBook({ total: 5_000 });
    const { run } = await env.deliver(s, await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(group)], installIntent: 'required' }));
    join(group, env.outsiders(group, 2));
    await s.watcher.reconcileToken(seeded.token.id);
    const topUp = (await pendingTopUps()).find((r) => r.runId === run?.id);
    assert.ok(topUp);
    const card = JSON.stringify(approvalCard(topUp, { actionable: true, backend: 'intune' }));
    assert.match(card, /If nobody decides within 72 hours, the groups' assignment is removed from the book in Intune\./);
    assert.doesNotMatch(JSON.stringify(approvalCard(topUp, { actionable: true })), /If nobody decides/, 'not in Apple mode');

    await env.store.approvals.store.update(topUp.id, INTUNE_TENANT, (r) => ({ ...r, expiresAt: new Date(Date.now() - 1000).toISOString() }));
    const expired = await s.approvals.expireOverdue(INTUNE_TENANT);
    assert.deepEqual(expired.map((r) => r.id), [topUp.id]);
    await s.watcher.idle();
    const after = await env.runs.get(seeded.token.id, run!.id);
    assert.deepEqual([after?.topUp?.state, after?.topUp?.expired], ['declined', true]);
    assert.ok(after?.withdrawnFromIntune);
    assert.ok(!env.intune.listOf(seeded.bookId).some((a) => a.target.groupId === group));
    const stored = await env.store.assignments.get(seeded.token.id, assignmentId(seeded.book.adamId, seeded.book.pricingParam, group));
    assert.match(stored?.lastError?.message ?? '', /The top-up was not decided in time, so I took this group off/);
    const expiredCard = JSON.stringify(approvalCard({ ...topUp, state: 'expired' }, { actionable: false, backend: 'intune' }));
    assert.match(expiredCard, /without a decision, so the groups' assignment of the book is removed in Intune/);
  });

  it('looks at every token after a round of syncs, whatever came of them (no sync of its own needed)', async () => {
    const s = env.services();
    const group = DEMO_GROUPS.libraryVolunteers;
    const { run } = await delivered(s, group);
    join(group, env.outsiders(group, 12).slice(-2));
    s.watcher.afterRound();
    await s.watcher.idle();
    assert.equal((await env.runs.get(run.tokenId, run.id))?.topUp?.state, 'pending', 'asked for the newcomers without a sync of the token');
  });

  it('says licenses are free "in Intune", not at Apple, when an approval finds too few', async () => {
    const s = env.services();
    const seeded = await env.seedBook({ total: 5_000 });
    const preview = await env.planner.preview({ token: seeded.token, book: seeded.book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    env.intune.books.set(seeded.bookId, { ...env.intune.books.get(seeded.bookId)!, usedLicenseCount: 4_999 });
    const refused = await s.approvals.decide(INTUNE_TENANT, request.id, meganActor, 'approved');
    assert.equal(refused.outcome, 'notEnoughLicenses');
    assert.match(refused.outcome === 'notEnoughLicenses' ? refused.message : '', /^Only 1 licenses of this book are free in Intune now, and this request approves \d+\. Nothing was approved: buy more licenses in .+, type \*\*sync\*\* so Intune reads them, and approve again, or reject it\.$/);
  });
});
