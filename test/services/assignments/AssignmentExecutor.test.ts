import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { assignmentId } from '../../../services/store/entities/assignment';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { checkGroup } from '../../../services/assignments/AssignmentPlanner';
import { ASSIGN_TENANT, AssignEnvironment, MEGAN, RecordingReporter, alexActor, meganActor } from '../../support/assignFixtures';

const alex = alexActor;
const megan = meganActor;

describe('assignment planner and executor (sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(30_000);
  // Small Apple batches so a thousand students make many batches, as 50,000 would in production.
  const env = new AssignEnvironment({ studentCount: 1_000, sandbox: { limits: { maxClientUserIds: 100, maxUsers: 50 } } });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });
  beforeEach(() => env.log.reset());

  it('refuses a device group by name, trims a mixed group to its users', async () => {
    const device = await checkGroup(env.directory, DEMO_GROUPS.studentIpads);
    assert.equal(device.ok, false);
    assert.equal(!device.ok && device.message, 'Books can be assigned to user groups only; "Student iPads" is a device group. Nothing was changed.');
    const dynamicDevices = await checkGroup(env.directory, DEMO_GROUPS.allManagedIpads);
    assert.ok(!dynamicDevices.ok && dynamicDevices.message.includes('"All Managed iPads" is a device group'));
    const mixed = await checkGroup(env.directory, DEMO_GROUPS.scienceLabCarts);
    assert.ok(mixed.ok && mixed.note?.includes('only its users get the book'));
    const empty = await checkGroup(env.directory, DEMO_GROUPS.bookClub);
    assert.equal(empty.ok, false);
    assert.equal(!empty.ok && empty.message, '"Book Club" has no user members, so there is nobody to assign the book to. Book Club has no members.');
  });

  it('previews, then delivers a Required request: users created, licenses for Managed Apple Accounts, invitations for the others, results recorded', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Middlemarch', totalCount: 500 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const formA = env.members(DEMO_GROUPS.year9FormA);
    const library = env.members(DEMO_GROUPS.libraryStaff);
    // One member (with a Managed Apple Account) already holds the book: no new license for them.
    const holder = formA.find((id) => env.directoryServer.state.users.get(id)?.managedAppleId)!;
    env.sandbox.state.createUser(org, { clientUserId: holder, managedAppleId: env.directoryServer.state.users.get(holder)?.managedAppleId });
    env.sandbox.state.assign(org, book.adamId, book.pricingParam, holder);
    const groups = [await env.directory.getGroup(DEMO_GROUPS.year9FormA), await env.directory.getGroup(DEMO_GROUPS.libraryStaff)];
    const preview = await env.planner.preview({ token, book, groups, installIntent: 'required' });
    const distinct = new Set([...formA, ...library]);
    assert.equal(preview.distinctUsers, distinct.size);
    assert.deepEqual(preview.groups.map((g) => g.userCount), [formA.length, library.length]);
    assert.equal(preview.alreadyAssigned, 1);
    assert.equal(preview.licensesNeeded, distinct.size - 1);
    assert.equal(preview.enough, true);
    const managed = [...distinct].filter((id) => env.directoryServer.state.users.get(id)?.managedAppleId);
    assert.equal(preview.needInvitation, distinct.size - managed.length);

    const reporter = new RecordingReporter();
    const executor = env.executor({ reporter });
    const approvals = env.approvals(executor);
    const { request } = await approvals.request({ preview, requestedBy: alex });
    assert.equal((await env.store.assignments.get(token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.year9FormA)))?.status, 'pendingApproval');
    const decided = await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved', 'go ahead');
    assert.equal(decided.outcome, 'decided');
    await executor.idle();

    const [outcome] = reporter.outcomes;
    assert.ok(outcome);
    assert.equal(outcome.state, 'completed');
    assert.equal(outcome.totals.processed, distinct.size);
    assert.equal(outcome.totals.failed, 0);
    // Managed Apple Accounts are licensed at once (the member who held the book already among them); the others are invited.
    assert.equal(outcome.totals.licensed, managed.length);
    assert.equal(outcome.totals.awaitingInvitation, distinct.size - managed.length);
    assert.ok(outcome.invitedUsers.length > 0, 'the invited are listed');
    assert.ok(outcome.invitedUsers.every((u) => u.invitationUrl?.includes('inviteCode=')), 'invitations carry their link');
    // Only those Apple can give the book to now hold it: no license waits on someone who may never join.
    for (const id of managed) assert.ok(org.assignments.has(`${book.adamId}|${book.pricingParam}|${id}`), `${id} holds the book`);
    for (const id of distinct) if (!managed.includes(id)) assert.ok(!org.assignments.has(`${book.adamId}|${book.pricingParam}|${id}`), `${id} is invited, not licensed`);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, managed.length);
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.spent, managed.length - 1, 'the invited cost nothing yet');
    // Each user went to Apple once, in batches of at most 100 (the sandbox's limit here).
    const sent = env.log.associatedIds();
    assert.equal(new Set(sent).size, sent.length);
    assert.ok(env.log.associateCalls.length > 1 && env.log.associateCalls.every((c) => c.length <= 100), `${env.log.associateCalls.length} batches`);

    const stored = await env.store.vppUsers.getMany(token.id, [...distinct]);
    assert.equal(stored.length, distinct.size - 1, 'every user the bot created is stored');
    // Every invited user keeps their own invitation code, not only those the card lists.
    const invited = stored.filter((u) => u.status === 'registered');
    assert.equal(invited.length, distinct.size - managed.length);
    assert.ok(invited.every((u) => u.inviteCode));
    assert.equal(new Set(invited.map((u) => u.inviteCode)).size, invited.length);
    const formAssignment = await env.store.assignments.get(token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.year9FormA));
    assert.equal(formAssignment?.status, 'completed');
    assert.equal(formAssignment?.approvedBy?.aadObjectId, MEGAN);
    assert.equal(formAssignment?.results?.targetedUsers, formA.length);
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(run?.state, 'completed');
    assert.equal(run?.pending, undefined);
  });

  it('reports 9709 per user when licenses run out half-way', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'A Tale of Two Cities', totalCount: 60 }]);
    const book = books[0]!;
    const groups = [await env.directory.getGroup(DEMO_GROUPS.year9FormB)];
    const preview = await env.planner.preview({ token, book, groups, installIntent: 'required' });
    assert.equal(preview.enough, true);
    const reporter = new RecordingReporter();
    // Approved into 60 free licenses; another MDM spends 35 before the run: Apple refuses the users beyond.
    await env.deliver(preview, { reporter }, () => env.spendElsewhere(org, book, 35));
    const outcome = reporter.outcomes[0]!;
    assert.equal(outcome.totals.failed, 60 - 25);
    // Every member had joined the organisation's VPP already: nobody waits on an invitation.
    assert.equal(outcome.totals.licensed, 25);
    assert.equal(outcome.totals.awaitingInvitation, 0);
    assert.deepEqual(outcome.failureReasons.map((r) => [r.code, r.count]), [['9709', 35]]);
    assert.match(outcome.failedUsers[0]?.reason ?? '', /license/i);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 60);
    const assignment = await env.store.assignments.get(token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.year9FormB));
    assert.equal(assignment?.status, 'partiallyCompleted');
    assert.equal(assignment?.results?.failed, 35);
  });

  it('delivers a reduced scope: only the first N users', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Dr Jekyll and Mr Hyde', totalCount: 10 }]);
    const book = books[0]!;
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormC)], installIntent: 'required' });
    const executor = env.executor();
    const approvals = env.approvals(executor);
    const { request } = await approvals.request({ preview, requestedBy: alex, userLimit: preview.licensesAvailable });
    assert.equal(request.summary.licensesNeeded, 10);
    await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
    await executor.idle();
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 10);
    const run = await env.runs.get(token.id, runId(request.id));
    // Every member had joined the organisation's VPP already: all ten are licensed, nobody is invited.
    assert.deepEqual(run?.totals, { processed: 10, licensed: 10, awaitingInvitation: 0, failed: 0 });
  });

  it('resumes after a restart half-way without associating anyone twice, reporting progress on the way', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Moby Dick', totalCount: 5_000 }]);
    const book = books[0]!;
    const students = env.members(DEMO_GROUPS.allStudents);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.allStudents)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    const first = env.executor({ reporter, progressEveryUsers: 200 });
    // Stop the first process as soon as it has done 300 users (three batches of 100).
    reporter.onProgress = (update) => {
      if (update.processed >= 300) void first.stop();
    };
    const approvals = env.approvals(first);
    const { request } = await approvals.request({ preview, requestedBy: alex });
    await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
    await first.idle();
    const half = await env.runs.get(token.id, runId(request.id));
    assert.equal(half?.state, 'running');
    assert.ok((half?.batchesCompleted ?? 0) >= 3 && (half?.batchesCompleted ?? 0) < 10, `stopped half-way (${half?.batchesCompleted} batches)`);
    assert.equal(reporter.outcomes.length, 0);

    const second = env.executor({ reporter, progressEveryUsers: 200 });
    assert.ok((await second.resumeAll()) >= 1);
    await second.idle();
    const outcome = reporter.outcomes[0]!;
    assert.equal(outcome.state, 'completed');
    assert.equal(outcome.totals.processed, students.length);
    const sent = env.log.associatedIds();
    assert.equal(sent.length, students.length, 'every student sent to Apple exactly once across both processes');
    assert.equal(new Set(sent).size, students.length);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, students.length);
    const processed = reporter.progressUpdates.map((p) => p.processed);
    assert.ok(processed.length >= 4, 'progress reported every 200 users');
    assert.ok(processed.every((n, i) => i === 0 || n > (processed[i - 1] ?? 0)));
    assert.ok(reporter.progressUpdates.every((p) => p.total === students.length));
  });

  it('lets one instance work on a run when two resume it at once (a lease per run)', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Walden', totalCount: 5_000 }]);
    const book = books[0]!;
    const students = env.members(DEMO_GROUPS.allStudents);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.allStudents)], installIntent: 'required' });
    // Approved while no executor runs it (this one is stopped): the run waits for whoever resumes it.
    const approvals = await env.approvalsOnly();
    const { request } = await approvals.request({ preview, requestedBy: alex });
    await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');

    const reporter = new RecordingReporter();
    const [a, b] = [env.executor({ reporter }), env.executor({ reporter })];
    await Promise.all([a.resumeAll(), b.resumeAll()]);
    await Promise.all([a.idle(), b.idle()]);
    assert.equal(reporter.outcomes.length, 1, 'one instance delivered it, the other stood aside');
    const sent = env.log.associatedIds();
    assert.equal(sent.length, students.length, 'every student sent to Apple exactly once');
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, students.length);
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.state, 'completed');
  });
});
