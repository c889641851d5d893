import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { assignResultCard } from '../../../cards/assignCards';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { BookStatusService } from '../../../services/assignments/BookStatusService';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { ASSIGN_TENANT, AssignEnvironment, RecordingReporter } from '../../support/assignFixtures';

const CONTOSO = { id: 'contoso-mdm', name: 'Contoso MDM', metadata: 'contoso' };

/**
 * What Apple's answers mean for a run (issue #13): per-user refusals from `errorInfo`, a takeover seen on
 * any answer, an outage that outlasts the retry deadline.
 */
describe('assignment runs read Apple the way Apple answers (sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(60_000);
  // Batches of 100 users: the thousand students take ten associate requests.
  // Apple outages outlast a 300 ms retry deadline here, as they would outlast minutes in production.
  const env = new AssignEnvironment({ studentCount: 1_000, sandbox: { limits: { maxClientUserIds: 100, maxUsers: 50 } }, appleRetryDeadlineMs: 300 });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });
  beforeEach(() => {
    env.log.reset();
    env.sandbox.faults.clear();
  });

  it('reports exactly the users Apple refused, with its reason, on the result card and in status <book>', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Middlemarch', totalCount: 500 }]);
    const book = books[0]!;
    const formA = env.members(DEMO_GROUPS.year9FormA);
    // Three members the bot created earlier whom Apple has since retired: Apple refuses them (9609) in a partly failed event.
    const refused = formA.slice(0, 3);
    const now = new Date().toISOString();
    for (const clientUserId of refused) {
      env.sandbox.state.createUser(org, { clientUserId, managedAppleId: `${clientUserId}@example.org` });
      env.sandbox.state.retireUser(org, clientUserId);
      await env.store.vppUsers.upsertIfChanged({ id: clientUserId, clientUserId, tokenId: token.id, tenantId: ASSIGN_TENANT, status: 'associated', createdDateTime: now, lastModifiedDateTime: now });
    }
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    await env.deliver(preview, { reporter });

    const outcome = reporter.outcomes[0]!;
    assert.equal(outcome.state, 'completed');
    assert.deepEqual(outcome.failedUsers.map((u) => u.clientUserId).sort(), [...refused].sort());
    assert.ok(outcome.failedUsers.every((u) => u.code === '9609' && /does not know this user/.test(u.reason)));
    assert.equal(outcome.totals.failed, 3);
    assert.equal(outcome.totals.licensed + outcome.totals.awaitingInvitation, formA.length - 3, 'everyone Apple did not name got the book');
    for (const id of formA) assert.equal(org.assignments.has(`${book.adamId}|${book.pricingParam}|${id}`), !refused.includes(id));

    const card = JSON.stringify(assignResultCard(outcome, 'apple'));
    for (const user of outcome.failedUsers) assert.ok(card.includes(`${user.displayName}: ${user.reason}`), `the card names ${user.displayName}`);

    const status = await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, book);
    const group = status.groups[0]!;
    assert.equal(group.counts.failed, 3);
    assert.deepEqual(group.failedUsers.map((u) => u.code), ['9609', '9609', '9609']);
    assert.equal(new Set(group.failedUsers.map((u) => u.displayName)).size, 3);
  });

  it('finds out itself who got the book when Apple names only the book in a partly failed event', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'A Tale of Two Cities', totalCount: 60 }]);
    const book = books[0]!;
    const formB = env.members(DEMO_GROUPS.year9FormB);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    env.sandbox.state.failureNaming = 'assetsOnly';
    try {
      // Approved into 60 free licenses; another MDM spends 35 of them before the run asks Apple.
      await env.deliver(preview, { reporter }, () => env.spendElsewhere(org, book, 35));
    } finally {
      env.sandbox.state.failureNaming = 'users';
    }
    const outcome = reporter.outcomes[0]!;
    const holders = new Set([...org.assignments.values()].filter((a) => a.adamId === book.adamId && formB.includes(a.clientUserId)).map((a) => a.clientUserId));
    assert.equal(holders.size, 25);
    assert.equal(outcome.totals.failed, formB.length - 25, 'every user without the book is failed, not counted as licensed');
    assert.equal(outcome.totals.licensed + outcome.totals.awaitingInvitation, 25);
    assert.ok(outcome.failedUsers.every((u) => !holders.has(u.clientUserId) && u.code === '9709'));
  });

  it('stops between batches when an answer says another MDM holds the token, and spends nothing more', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Walden', totalCount: 5_000 }]);
    const book = books[0]!;
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.allStudents)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    const takenOver: VppToken[] = [];
    // After the second batch, Contoso MDM claims the token at Apple.
    reporter.onProgress = (update) => {
      if (update.processed >= 200) org.mdmInfo = { ...CONTOSO };
    };
    const { request } = await env.deliver(preview, { reporter, progressEveryUsers: 100, onTokenTakenOver: async (t) => void takenOver.push(t) });

    const outcome = reporter.outcomes[0]!;
    assert.equal(outcome.state, 'failed');
    assert.match(outcome.error ?? '', /Contoso MDM now manages/);
    // The third batch's own answer is the first to name Contoso (its members had all joined, so nothing else was
    // asked of Apple in between): nothing is sent after it.
    assert.equal(env.log.associateCalls.length, 3, 'no associate request after the answer that named Contoso');
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 300);
    const stored = await env.store.tokens.get(ASSIGN_TENANT, token.id);
    assert.equal(stored?.state, 'assignedToExternalMDM');
    assert.equal(stored?.externalMdm?.name, 'Contoso MDM');
    assert.equal(takenOver.length, 1, 'admins are told');
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(run?.state, 'failed');
    assert.equal(run?.lastError?.code, 'external_mdm');
  });

  it('pauses on an Apple outage that outlasts the retry deadline, then resumes without licensing anyone twice', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Moby Dick', totalCount: 5_000 }]);
    const book = books[0]!;
    const students = env.members(DEMO_GROUPS.allStudents);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.allStudents)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    reporter.onProgress = (update) => {
      if (update.processed >= 300) env.sandbox.faults.add({ path: '/assets/associate', times: Infinity, fault: { kind: 'status', status: 503, errorNumber: 9729 } });
    };
    const { request } = await env.deliver(preview, { reporter, progressEveryUsers: 100 });

    const paused = reporter.outcomes[0]!;
    assert.equal(paused.state, 'interrupted');
    assert.ok(paused.resumeAfter && Date.parse(paused.resumeAfter) > Date.now(), 'it says when it goes on by itself');
    assert.match(paused.error ?? '', /paused.*type \*\*resume\*\*/);
    assert.ok(JSON.stringify(assignResultCard(paused, 'apple')).includes('"command":"resume"'), 'the card offers Resume now');
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(run?.state, 'interrupted');
    const licensedBefore = new Set([...org.assignments.values()].filter((a) => a.adamId === book.adamId).map((a) => a.clientUserId));
    assert.equal(licensedBefore.size, 300);

    // Not due yet: the sweep leaves it alone.
    env.sandbox.faults.clear();
    const sweep = env.executor({ reporter });
    await sweep.resumeAll();
    await sweep.idle();
    assert.equal(reporter.outcomes.length, 1);

    // The sweep after the pause resumes it.
    env.log.reset();
    const later = env.executor({ reporter, now: () => new Date(Date.now() + 16 * 60_000) });
    assert.ok((await later.resumeAll()) >= 1);
    await later.idle();
    const done = reporter.outcomes[1]!;
    assert.equal(done.state, 'completed');
    assert.equal(done.totals.processed, students.length);
    const sentAfter = env.log.associatedIds();
    assert.equal(sentAfter.filter((id) => licensedBefore.has(id)).length, 0, 'nobody licensed before the outage was sent again');
    assert.equal(new Set(sentAfter).size, sentAfter.length);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, students.length);
  });

  it('an admin resumes a paused run at once; a run that is not paused is left alone', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Emma', totalCount: 5_000 }]);
    const book = books[0]!;
    const formB = env.members(DEMO_GROUPS.year9FormB);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    // An outage with an errorNumber no list knows: the HTTP status (500) is what says it passes.
    env.sandbox.faults.add({ path: '/assets/associate', times: Infinity, fault: { kind: 'status', status: 500, errorNumber: 9612 } });
    const { request, executor } = await env.deliver(preview, { reporter });
    assert.equal(reporter.outcomes[0]?.state, 'interrupted');
    assert.match(reporter.outcomes[0]?.error ?? '', /^Apple's Apps and Books service is not answering \(vpp_9612\)/);
    const status = await new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user')).status(token, book);
    assert.equal(status.groups[0]?.status, 'paused');
    assert.match(status.groups[0]?.lastError ?? '', /goes on by itself after/);

    // The sweep meets the same outage again: the pause lasts longer, and the requester is not told twice.
    const first = await env.runs.get(token.id, runId(request.id));
    const sweep = env.executor({ reporter, now: () => new Date(Date.parse(first!.resumeAfterDateTime!) + 1000) });
    await sweep.resumeAll();
    await sweep.idle();
    assert.equal(reporter.outcomes.length, 1, 'told of the pause once');
    const second = await env.runs.get(token.id, runId(request.id));
    assert.equal(second?.interruptions, 2);
    const firstWait = Date.parse(first!.resumeAfterDateTime!) - Date.parse(first!.lastError!.occurredDateTime);
    const secondWait = Date.parse(second!.resumeAfterDateTime!) - Date.parse(second!.lastError!.occurredDateTime);
    assert.equal(secondWait, 2 * firstWait);

    env.sandbox.faults.clear();
    assert.equal(await executor.resume(token.id, runId(request.id)), true);
    await executor.idle();
    assert.equal(reporter.outcomes[1]?.state, 'completed');
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, formB.length);
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.interruptions, undefined, 'a finished run starts its backoff afresh');
    assert.equal(await executor.resume(token.id, runId(request.id)), false, 'a finished run is not run again');
  });
});
