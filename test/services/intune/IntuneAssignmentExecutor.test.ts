import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { approvalCard } from '../../../cards/approvalCards';
import { GROUP_TARGET, IntuneRetryAfterError } from '../../../services/intune/IntuneApi';
import { IntuneUnavailableError } from '../../../services/intune/IntuneError';
import { assignmentId } from '../../../services/store/entities/assignment';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { ALL_USERS_FILTERED, EXCLUDED_GROUP, INTUNE_TENANT, IntuneAssignEnvironment, alexActor, groupAssignment, meganActor } from './IntuneAssignmentFixtures';

/**
 * Delivery in Intune mode: an approved run adds one iosVppEBookAssignment per group to the book's list in
 * Intune. `assign` replaces the whole list, so every assignment the book had (of any kind of target) is sent
 * back as read, and the list is read back and checked; a resumed run adds nothing twice.
 */
describe('IntuneAssignmentExecutor (local directory, embedded Cosmos, Graph-like Intune)', function () {
  this.timeout(60_000);
  const env = new IntuneAssignEnvironment();
  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  /** What the book had before: required, available, an unknown kind of target with a filter, an exclusion. */
  const existing = () => [groupAssignment(DEMO_GROUPS.englishDepartment, 'required'), groupAssignment(DEMO_GROUPS.libraryStaff, 'available'), ALL_USERS_FILTERED, EXCLUDED_GROUP];

  it('adds the groups and loses none of the assignments the book had, then reports the result', async () => {
    const { token, book, bookId } = await env.seedBook({ total: 400, used: 50, assignments: [groupAssignment(DEMO_GROUPS.englishDepartment, 'required'), groupAssignment(DEMO_GROUPS.libraryStaff, 'available'), EXCLUDED_GROUP] });
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA), await env.group(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    const { request, run } = await env.deliver(s, preview);

    assert.equal(env.intune.assignCalls().length, 1, 'one assign for the run');
    assert.deepEqual(env.intune.listOf(bookId), [
      groupAssignment(DEMO_GROUPS.englishDepartment, 'required'),
      groupAssignment(DEMO_GROUPS.libraryStaff, 'available'),
      EXCLUDED_GROUP,
      { installIntent: 'required', target: { '@odata.type': GROUP_TARGET, groupId: DEMO_GROUPS.year9FormA } },
      { installIntent: 'required', target: { '@odata.type': GROUP_TARGET, groupId: DEMO_GROUPS.year9FormB } },
    ]);
    const [formA, formB] = [env.members(DEMO_GROUPS.year9FormA).length, env.members(DEMO_GROUPS.year9FormB).length];
    // Library Staff nests the volunteers, five of them in Form 9A: they hold the book through it already.
    const holding = new Set([...env.members(DEMO_GROUPS.englishDepartment), ...env.members(DEMO_GROUPS.libraryStaff)]);
    const needing = [...env.members(DEMO_GROUPS.year9FormA), ...env.members(DEMO_GROUPS.year9FormB)].filter((id) => !holding.has(id)).length;
    assert.ok(needing < formA + formB && needing > 0);
    assert.equal(run?.state, 'completed');
    assert.deepEqual(
      run?.groups.map((g) => [g.done, g.counts.processed, g.counts.licensed]),
      [
        [true, formA, formA],
        [true, formB, formB],
      ],
    );
    assert.deepEqual([run?.spent, run?.budget, run?.totals.processed], [needing, needing, formA + formB]);
    const stored = await env.store.assignments.get(token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.year9FormA));
    assert.deepEqual([stored?.status, stored?.results?.licensed], ['completed', formA]);

    const outcome = s.reporter.outcomes.at(-1);
    assert.deepEqual([outcome?.state, outcome?.approvalId, outcome?.totals.licensed, outcome?.groups.length], ['completed', request.id, formA + formB, 2]);
    assert.equal(s.completed.length, 1, 'afterCompleted is called once');
    // The watcher's first look, right after: within the budget, nothing asked.
    assert.deepEqual(s.topUps, []);
  });

  it('keeps every existing assignment, of whatever kind, exactly as it was read', async () => {
    const { token, book, bookId } = await env.seedBook({ assignments: existing() });
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormC)], installIntent: 'available' });
    await env.deliver(s, preview);
    const sent = env.intune.assignCalls()[env.intune.assignCalls().length - 1] ?? [];
    assert.deepEqual(
      sent.slice(0, 4).map(({ installIntent, target }) => ({ installIntent, target })),
      existing(),
      'sent back whole, unknown targets and filters included',
    );
    assert.deepEqual(env.intune.listOf(bookId).slice(0, 4), existing());
    assert.equal(env.intune.listOf(bookId).length, 5);
  });

  it("stands, with a warning, when Intune drops another assignment but shows the run's groups: it is watched, and nothing is sent again", async () => {
    const { token, book, bookId } = await env.seedBook({ assignments: existing() });
    const s = env.services();
    // Intune keeps everything but the Library Staff assignment.
    env.intune.onAssign = (sent) => sent.filter((a) => a.target.groupId !== DEMO_GROUPS.libraryStaff);
    try {
      const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
      const before = env.intune.assignCalls().length;
      const { run } = await env.deliver(s, preview);
      assert.equal(env.intune.assignCalls().length - before, 1, 'not retried blindly');
      // Intune licenses Form 9A's members all the same: the run is recorded as delivered, so the watcher sees it.
      assert.equal(run?.state, 'completed');
      assert.equal(run?.lastError?.code, 'intune_assignments_mismatch');
      assert.deepEqual((await env.runs.listStanding(token.id)).map((r) => r.id), [run?.id]);
      assert.deepEqual(run?.intuneCreated?.map((a) => [a.target.groupId, a.installIntent, typeof a.id]), [[DEMO_GROUPS.year9FormA, 'required', 'string']], "the run's own assignment, with Intune's id");
      const outcome = s.reporter.outcomes.at(-1);
      assert.equal(outcome?.state, 'completed');
      assert.match(outcome?.error ?? '', /no longer shows 1 assignment the book had before: group "[^"]+" \(Available\)/);
      assert.match(outcome?.error ?? '', /"Year 9 Form 9A" is assigned in Intune, so the assignment is recorded as delivered and its budget is watched\. The bot did not try again/);
      assert.equal(run?.lastError?.message, outcome?.error);
      const stored = await env.store.assignments.get(token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.year9FormA));
      assert.equal(stored?.status, 'completed');
      assert.equal(env.intune.listOf(bookId).length, 4);
      // The sweep does not pick it up again.
      await s.executor.resumeAll();
      await s.executor.idle();
      assert.equal(env.intune.assignCalls().length - before, 1);
    } finally {
      env.intune.onAssign = undefined;
    }
  });

  it("fails, saying so, when Intune's list after the change shows none of the run's groups", async () => {
    const { token, book } = await env.seedBook({ assignments: existing() });
    const s = env.services();
    env.intune.onAssign = (sent) => sent.filter((a) => a.target.groupId !== DEMO_GROUPS.year9FormB);
    try {
      const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
      const { run } = await env.deliver(s, preview);
      assert.deepEqual([run?.state, run?.lastError?.code], ['failed', 'intune_assignments_mismatch']);
      assert.match(run?.lastError?.message ?? '', /does not show the book assigned to group "Year 9 Form 9B" \(Required\)\. None of this request's groups is assigned in Intune, so it is recorded as failed\./);
      assert.deepEqual(await env.runs.listStanding(token.id), []);
    } finally {
      env.intune.onAssign = undefined;
    }
  });

  it("counts a filter Intune dropped from an existing assignment as lost, and never takes a filtered assignment for the run's own", async () => {
    const filtered = { installIntent: 'required' as const, target: { ...groupAssignment(DEMO_GROUPS.teachers, 'required').target, deviceAndAppManagementAssignmentFilterId: 'f-ipads', deviceAndAppManagementAssignmentFilterType: 'include' } };
    const { token, book } = await env.seedBook({ assignments: [filtered] });
    const s = env.services();
    // Intune (as v1.0 would) drops every filter, and puts one on the run's new group.
    env.intune.onAssign = (sent) =>
      sent.map((a) => {
        const { deviceAndAppManagementAssignmentFilterId: _id, deviceAndAppManagementAssignmentFilterType: _type, ...target } = a.target;
        return a.target.groupId === DEMO_GROUPS.year9FormC ? { ...a, target: { ...target, deviceAndAppManagementAssignmentFilterId: 'f-other', deviceAndAppManagementAssignmentFilterType: 'exclude' } } : { ...a, target };
      });
    try {
      const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormC)], installIntent: 'required' });
      const { run } = await env.deliver(s, preview);
      assert.deepEqual([run?.state, run?.lastError?.code], ['failed', 'intune_assignments_mismatch']);
      assert.match(run?.lastError?.message ?? '', /no longer shows 1 assignment the book had before: group "[^"]+" \(Required\)/);
      assert.match(run?.lastError?.message ?? '', /does not show the book assigned to group "Year 9 Form 9C"/);
    } finally {
      env.intune.onAssign = undefined;
    }
  });

  it('adopts nothing: a group assigned in Intune with the same intent since the request fails the run, nothing sent or spent', async () => {
    const { token, book, bookId } = await env.seedBook();
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA), await env.group(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    // An Intune admin assigns Form 9B as Required in the portal before the approval.
    const admins = { ...groupAssignment(DEMO_GROUPS.year9FormB, 'required'), id: 'admin-9b' };
    env.intune.lists.set(bookId, [admins]);
    const before = env.intune.assignCalls().length;
    const { run } = await env.deliver(s, preview);
    assert.deepEqual([run?.state, run?.lastError?.code, run?.spent, run?.intuneCreated], ['failed', 'intune_assigned_meanwhile', undefined, undefined]);
    assert.match(run?.lastError?.message ?? '', /was assigned in Intune to "Year 9 Form 9B" since the request, by someone in the Intune admin center\. That assignment is not this request's, so the bot leaves it as it is: nothing was assigned and nothing is spent by this request\. Ask again for the other groups\./);
    assert.equal(env.intune.assignCalls().length, before, 'nothing sent');
    assert.deepEqual(env.intune.lists.get(bookId), [admins]);
  });

  it('refuses a group an Intune admin excluded from the book since the request', async () => {
    const { token, book, bookId } = await env.seedBook();
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.bookClub)], installIntent: 'required' });
    env.intune.lists.set(bookId, [{ ...EXCLUDED_GROUP, id: 'x' }]);
    const before = env.intune.assignCalls().length;
    const { run } = await env.deliver(s, preview);
    assert.deepEqual([run?.state, run?.lastError?.code], ['failed', 'intune_group_excluded']);
    assert.match(run?.lastError?.message ?? '', /to leave out "Book Club" since the request \(an exclusion\), so Intune would give nobody in it the book/);
    assert.equal(env.intune.assignCalls().length, before);
  });

  it("pauses until Graph's Retry-After when it asked for longer than a call waits", async () => {
    const { token, book } = await env.seedBook();
    const now = new Date('2030-03-01T08:00:00.000Z');
    const s = env.services({ executor: { now: () => now } });
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const retryAfter = '2030-03-01T11:30:00.000Z';
    env.intune.failNext('listAssignments', new IntuneRetryAfterError("read the book's assignments", retryAfter, { status: 429 }));
    const { run } = await env.deliver(s, preview);
    assert.equal(run?.state, 'interrupted');
    assert.equal(run?.resumeAfterDateTime, retryAfter, 'not after the usual 15 minutes: when Graph said');
    assert.match(run?.lastError?.message ?? '', /throttling requests to Intune.*after 11:30 UTC on 2030-03-01/);
  });

  it('pauses on throttling and, resumed, adds nothing twice and still checks against the list it read first', async () => {
    const { token, book, bookId } = await env.seedBook({ assignments: existing() });
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    const assignsBefore = env.intune.assignCalls().length;
    // Intune takes the list; then Graph keeps throttling the read back past the retry deadline.
    let reads = 0;
    const list = env.intune.listAssignments.bind(env.intune);
    env.intune.listAssignments = async (id) => {
      reads++;
      if (reads === 2) throw new IntuneUnavailableError("read the book's assignments", { status: 429 });
      return list(id);
    };
    try {
      await s.approvals.decide(INTUNE_TENANT, request.id, meganActor, 'approved');
      await s.executor.idle();
      let run = await env.runs.get(token.id, runId(request.id));
      assert.equal(run?.state, 'interrupted');
      assert.ok(run?.resumeAfterDateTime);
      assert.equal(run?.intuneBefore?.length, 4, 'what the book had is on the run');
      assert.equal(s.reporter.outcomes.at(-1)?.state, 'interrupted');
      assert.match(s.reporter.outcomes.at(-1)?.error ?? '', /throttling requests to Intune.*paused/);
      assert.equal(env.intune.assignCalls().length - assignsBefore, 1);

      // Resumed: the group is in Intune already, so nothing is sent; the check still covers the first four.
      assert.equal(await s.executor.resume(token.id, run!.id, meganActor), true);
      await s.executor.idle();
      run = await env.runs.get(token.id, runId(request.id));
      assert.equal(run?.state, 'completed');
      assert.equal(env.intune.assignCalls().length - assignsBefore, 1, 'nothing sent twice');
      assert.equal(env.intune.listOf(bookId).filter((a) => a.target.groupId === DEMO_GROUPS.year9FormB).length, 1);
      // The book goes to all licensed users already: the group's members cost this run nothing.
      assert.deepEqual([run?.spent, run?.totals.licensed], [0, env.members(DEMO_GROUPS.year9FormB).length]);

      // A resumed run whose first change lost an assignment still reports it (its own group stands, so it is kept).
      env.intune.lists.set(bookId, (env.intune.lists.get(bookId) ?? []).filter((a) => a.target['@odata.type'] !== EXCLUDED_GROUP.target['@odata.type']));
      await env.runs.update(token.id, run!.id, (r) => ({ ...r, state: 'interrupted', resumeAfterDateTime: new Date().toISOString() }));
      await s.executor.resume(token.id, run!.id);
      await s.executor.idle();
      run = await env.runs.get(token.id, runId(request.id));
      assert.deepEqual([run?.state, run?.lastError?.code], ['completed', 'intune_assignments_mismatch']);
      assert.match(run?.lastError?.message ?? '', /exclusionGroupAssignmentTarget of group "[^"]+" \(Required\)/);
    } finally {
      env.intune.listAssignments = list;
    }
  });

  it('sends nothing when the group got the other intent in Intune since the request, or when only part of the groups was approved', async () => {
    const { token, book, bookId } = await env.seedBook();
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    env.intune.lists.set(bookId, [{ ...groupAssignment(DEMO_GROUPS.year9FormA, 'available'), id: 'x' }]);
    const before = env.intune.assignCalls().length;
    const { run } = await env.deliver(s, preview);
    assert.deepEqual([run?.state, run?.lastError?.code], ['failed', 'intune_intent_conflict']);
    assert.equal(env.intune.assignCalls().length, before);

    env.intune.lists.set(bookId, []);
    const limited = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormC)], installIntent: 'required' });
    const { run: scoped } = await env.deliver(s, limited, { userLimit: 10 });
    assert.deepEqual([scoped?.state, scoped?.lastError?.code], ['failed', 'intune_whole_groups']);
    assert.match(scoped?.lastError?.message ?? '', /cannot be given to the first 10 users only/);
    assert.equal(env.intune.assignCalls().length, before);
  });

  it('says on the approval card, in Intune mode, how the budget is kept', async () => {
    const { token, book } = await env.seedBook();
    const s = env.services();
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor });
    const card = JSON.stringify(approvalCard(request, { actionable: true, backend: s.approvals.backend }));
    assert.match(card, /Intune licenses new members of these groups by itself\. When the groups outgrow the 60 approved licenses, approvers are asked for more; if that is rejected, the bot removes the groups' assignment in Intune so no more licenses are spent \(licenses already spent stay\)\./);
    assert.doesNotMatch(JSON.stringify(approvalCard(request, { actionable: true })), /Intune licenses/, 'not in Apple mode');
  });
});
