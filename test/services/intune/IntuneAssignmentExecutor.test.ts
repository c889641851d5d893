import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { approvalCard } from '../../../cards/approvalCards';
import { GROUP_TARGET } from '../../../services/intune/IntuneApi';
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

  it('fails with what is missing when Intune drops an assignment, and sends nothing again', async () => {
    const { token, book, bookId } = await env.seedBook({ assignments: existing() });
    const s = env.services();
    // Intune keeps everything but the Library Staff assignment.
    env.intune.onAssign = (sent) => sent.filter((a) => a.target.groupId !== DEMO_GROUPS.libraryStaff);
    try {
      const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
      const before = env.intune.assignCalls().length;
      const { run } = await env.deliver(s, preview);
      assert.equal(env.intune.assignCalls().length - before, 1, 'not retried blindly');
      assert.equal(run?.state, 'failed');
      assert.equal(run?.lastError?.code, 'intune_assignments_mismatch');
      const outcome = s.reporter.outcomes.at(-1);
      assert.equal(outcome?.state, 'failed');
      assert.match(outcome?.error ?? '', /no longer shows 1 assignment the book had before: group "[^"]+" \(Available\)/);
      assert.match(outcome?.error ?? '', /did not try again/);
      assert.equal(env.intune.listOf(bookId).length, 4);
      // The sweep does not pick a failed run up again.
      await s.executor.resumeAll();
      await s.executor.idle();
      assert.equal(env.intune.assignCalls().length - before, 1);
    } finally {
      env.intune.onAssign = undefined;
    }
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

      // A resumed run whose first change lost an assignment still fails on it.
      env.intune.lists.set(bookId, (env.intune.lists.get(bookId) ?? []).filter((a) => a.target['@odata.type'] !== EXCLUDED_GROUP.target['@odata.type']));
      await env.runs.update(token.id, run!.id, (r) => ({ ...r, state: 'interrupted', resumeAfterDateTime: new Date().toISOString() }));
      await s.executor.resume(token.id, run!.id);
      await s.executor.idle();
      run = await env.runs.get(token.id, runId(request.id));
      assert.equal(run?.state, 'failed');
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
