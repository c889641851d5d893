import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { DEMO_GROUPS } from '../../../local/directory';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { ASSIGN_TENANT, AssignEnvironment, alexActor, meganActor } from '../../support/assignFixtures';

/**
 * A second instance takes a run over while the first still waits for Apple (its lease ran out): the
 * batch is counted once, so the licenses Apple refused are given back once and no later batch may spend
 * them twice.
 */
describe('a run taken over mid-batch by another instance (sandbox with slow events, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 1_000, sandbox: { limits: { maxClientUserIds: 100, maxUsers: 50 }, eventDelayMs: 1_500 } });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  it('gives refused licenses back once, and records the batch once', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Double Refund', totalCount: 60 }]);
    const book = books[0]!;
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const approvals = await env.approvalsOnly();
    const { request } = await approvals.request({ preview, requestedBy: alexActor });
    await approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    env.spendElsewhere(org, book, 30);
    const id = runId(request.id);
    const first = env.executor({ instanceId: 'A' });
    const running = first.execute(token.id, id);
    for (let i = 0; i < 300 && !(await env.runs.get(token.id, id))?.pending; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok((await env.runs.get(token.id, id))?.pending, 'A reserved and sent its batch');
    // A's lease runs out while it waits for Apple's events: B takes the run over.
    await env.store.leases.store.delete(`assignment|${id}`, `assignment|${id}`);
    await Promise.all([running, env.executor({ instanceId: 'B' }).execute(token.id, id)]);

    const run = await env.runs.get(token.id, id);
    const ours = (env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount ?? 0) - 30;
    assert.equal(ours, 30);
    assert.equal(run?.spent, ours, 'spent matches what Apple spent for us: the 30 refused were given back once');
    assert.equal(run?.totals.processed, 60, 'the batch counted once');
    assert.equal(run?.batchesCompleted, 1);
  });

  it('a resumed batch sends the users its earlier request did not name, and counts them by what Apple did', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Half Sent', totalCount: 500 }]);
    const book = books[0]!;
    const formB = [...env.members(DEMO_GROUPS.year9FormB)].sort();
    for (const id of formB) env.sandbox.state.createUser(org, { clientUserId: id, managedAppleId: `${id}@example.org` });
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    const approvals = await env.approvalsOnly();
    const { request } = await approvals.request({ preview, requestedBy: alexActor });
    await approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    // A process died after sending the batch's request, which named only half of it (the rest had failed to be created then).
    const half = formB.slice(0, 30);
    const eventIds = await env.clients(token).associateAssets([{ adamId: book.adamId, pricingParam: book.pricingParam }], half);
    const id = runId(request.id);
    await env.runs.update(token.id, id, (r) => ({ ...r, state: 'running', pending: { groupIndex: 0, firstUserId: formB[0]!, lastUserId: formB.at(-1)!, eventIds, userIds: half } }));

    await env.executor({}).execute(token.id, id);
    const run = await env.runs.get(token.id, id);
    for (const user of formB) assert.ok(org.assignments.has(`${book.adamId}|${book.pricingParam}|${user}`), `${user} got the book`);
    assert.equal(run?.totals.licensed, formB.length);
    assert.equal(run?.state, 'completed');
  });

  it('a batch stopped on its way to Apple whose first member then left the group: the next process finishes that batch, then the rest', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Left Mid-Batch', totalCount: 500 }]);
    const book = books[0]!;
    const members = [...env.members(DEMO_GROUPS.allStudents)].sort().slice(0, 6);
    for (const id of members) env.sandbox.state.createUser(org, { clientUserId: id, managedAppleId: `${id}@example.org` });
    const groupId = randomUUID();
    env.directoryServer.state.addGroup({ id: groupId, displayName: 'Left Mid-Batch Readers', members });
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(groupId)], installIntent: 'required' });
    const approvals = await env.approvalsOnly();
    const { request } = await approvals.request({ preview, requestedBy: alexActor });
    await approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    // A process reserved three licenses for its first batch, sent it and died before recording it (its
    // batches were of three then); the first of the three has left the group since.
    const sent = members.slice(0, 3);
    env.log.reset();
    const eventIds = await env.clients(token).associateAssets([{ adamId: book.adamId, pricingParam: book.pricingParam }], sent);
    const marker = { groupIndex: 0, firstUserId: sent[0]!, lastUserId: sent[2]! };
    const id = runId(request.id);
    await env.runs.update(token.id, id, (r) => ({ ...r, state: 'running', spent: 3, reserved: { ...marker, userIds: sent }, pending: { ...marker, eventIds, userIds: sent } }));
    env.directoryServer.state.removeMember(groupId, sent[0]!);

    await env.executor({}).execute(token.id, id);
    const run = await env.runs.get(token.id, id);
    assert.equal(run?.state, 'completed', `the run finished: ${JSON.stringify(run?.lastError)}`);
    for (const user of members) assert.ok(org.assignments.has(`${book.adamId}|${book.pricingParam}|${user}`), `${user} holds the book`);
    assert.equal(run?.spent, 6, "the leaver's license, spent before they left, counts");
    const named = env.log.acceptedAssociateCalls.flat();
    assert.deepEqual([...named].sort(), [...members].sort(), 'everyone associated once: the stopped batch was awaited, not sent again');
  });
});
