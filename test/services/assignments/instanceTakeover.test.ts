import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { DEMO_GROUPS } from '../../../local/directory';
import type { SandboxOrganisation } from '../../../local/appleSandbox/SandboxState';
import type { EBook } from '../../../services/store/entities/eBook';
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

/**
 * A batch a stopped process reserved or sent, while the group changed before the restart: the batch is
 * finished under its own record, members who left are never sent anything new, and what was spent stays exact.
 */
describe('a stopped batch resumed after the group changed (sandbox, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 200, sandbox: { limits: { maxClientUserIds: 100, maxUsers: 50 }, eventDelayMs: 0 } });
  let scenario = 0;

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  type Sent = 'nothing' | 'onItsWay' | 'events';

  /**
   * `groups` of members (joined, with Managed Apple Accounts), approved as one run; then a process "stops"
   * with the batch of `named` (group 0's) reserved and, per `sent`, its request not sent, on its way, or
   * sent with its events recorded.
   */
  async function stoppedRun(input: {
    groups: string[][];
    named: string[];
    sent: Sent;
    heldBefore?: string[];
    headroom?: number;
    reserve?: boolean;
    /** Sends the recorded request's events; `named` by default. */
    sendRecorded?: (send: (ids: string[]) => Promise<string[]>) => Promise<string[]>;
    afterApproval?: (org: SandboxOrganisation, book: EBook) => void;
  }) {
    scenario++;
    const { org, token, books } = await env.seedToken([{ title: `Changed Group ${scenario}`, totalCount: 500 }]);
    const book = books[0]!;
    const asset = { adamId: book.adamId, pricingParam: book.pricingParam };
    const everyone = [...new Set(input.groups.flat())];
    for (const id of everyone) env.sandbox.state.createUser(org, { clientUserId: id, managedAppleId: `${id}@example.org` });
    if (input.heldBefore) await env.clients(token).waitForEvents(await env.clients(token).associateAssets([asset], input.heldBefore));
    const groupIds = input.groups.map((members, i) => {
      const id = randomUUID();
      env.directoryServer.state.addGroup({ id, displayName: `Changed Group ${scenario}.${i}`, members });
      return id;
    });
    const groups = await Promise.all(groupIds.map((id) => env.directory.getGroup(id)));
    const preview = await env.planner.preview({ token, book, groups, installIntent: 'required' });
    const approvals = await env.approvalsOnly();
    const { request } = await approvals.request({ preview, requestedBy: alexActor, headroom: input.headroom ?? 0 });
    await approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    input.afterApproval?.(org, book);
    const named = [...input.named].sort();
    const marker = { groupIndex: 0, firstUserId: named[0]!, lastUserId: named.at(-1)! };
    env.log.reset();
    const send = (ids: string[]) => env.clients(token).associateAssets([asset], ids);
    const eventIds = input.sent === 'events' ? await (input.sendRecorded ?? ((post) => post(named)))(send) : [];
    const pendingIds = input.sendRecorded ? env.log.acceptedAssociateCalls.at(-1) ?? named : named;
    const id = runId(request.id);
    const reserve = input.reserve ?? true;
    await env.runs.update(token.id, id, (r) => ({
      ...r,
      state: 'running',
      ...(reserve ? { spent: named.length, reserved: { ...marker, userIds: named } } : {}),
      ...(input.sent === 'nothing' ? {} : { pending: { ...marker, eventIds, userIds: pendingIds } }),
    }));
    const holds = (user: string) => org.assignments.has(`${book.adamId}|${book.pricingParam}|${user}`);
    return { org, token, id, groupIds, holds, resume: () => env.executor({}).execute(token.id, id), run: () => env.runs.get(token.id, id) };
  }

  const sixMembers = () => [...env.members(DEMO_GROUPS.allStudents)].sort().slice(0, 6);
  const sentOnce = () => {
    const named = env.log.acceptedAssociateCalls.flat();
    assert.equal(new Set(named).size, named.length, `nobody associated twice: ${JSON.stringify(env.log.acceptedAssociateCalls)}`);
  };

  const leftEarly: Array<{ name: string; sent: Sent; spent: number; why: string }> = [
    { name: 'a member who left before the reserved batch was sent gets nothing, and the license reserved for them goes back', sent: 'nothing', spent: 5, why: 'nothing was sent for them' },
    { name: 'a member who left while the request was on its way is not sent it again; their license counts as spent', sent: 'onItsWay', spent: 6, why: 'Apple might still take the request: one too many, never one too few' },
  ];
  for (const c of leftEarly) {
    it(c.name, async () => {
      const members = sixMembers();
      const stopped = await stoppedRun({ groups: [members], named: members.slice(0, 3), sent: c.sent });
      env.directoryServer.state.removeMember(stopped.groupIds[0]!, members[0]!);
      await stopped.resume();
      const run = await stopped.run();
      assert.equal(run?.state, 'completed', JSON.stringify(run?.lastError));
      assert.equal(stopped.holds(members[0]!), false, 'nothing was sent to the member who left');
      for (const user of members.slice(1)) assert.ok(stopped.holds(user), `${user} holds the book`);
      assert.equal(run?.spent, c.spent, c.why);
      assert.equal(run?.overBudget ?? 0, 0);
      sentOnce();
    });
  }

  it('a member who held the book and left costs no license: the last member still gets one', async () => {
    const members = sixMembers();
    const stopped = await stoppedRun({ groups: [members], named: members.slice(0, 3), sent: 'events', heldBefore: members.slice(0, 3), reserve: false });
    env.directoryServer.state.removeMember(stopped.groupIds[0]!, members[0]!);
    await stopped.resume();
    const run = await stopped.run();
    assert.equal(run?.state, 'completed', JSON.stringify(run?.lastError));
    for (const user of members.slice(1)) assert.ok(stopped.holds(user), `${user} holds the book`);
    assert.equal(run?.budget, 3);
    assert.equal(run?.spent, 3, 'the three who lacked the book, not the one who left');
    assert.equal(run?.overBudget ?? 0, 0);
  });

  it('a member named in the batch of one group who left it for the run\'s other group is licensed once', async () => {
    const members = sixMembers();
    const moving = members[0]!;
    const stopped = await stoppedRun({ groups: [members.slice(0, 3), [moving, ...members.slice(3)]], named: members.slice(0, 3), sent: 'events' });
    env.directoryServer.state.removeMember(stopped.groupIds[0]!, moving);
    await stopped.resume();
    const run = await stopped.run();
    assert.equal(run?.state, 'completed', JSON.stringify(run?.lastError));
    for (const user of members) assert.ok(stopped.holds(user), `${user} holds the book`);
    assert.equal(run?.spent, 6);
    assert.equal(run?.overBudget ?? 0, 0);
    sentOnce();
  });

  it('a member who joined inside the stopped batch gets a license the budget still has', async () => {
    const pool = [...env.members(DEMO_GROUPS.allStudents)].sort();
    const members = [pool[0]!, pool[2]!, pool[4]!];
    const stopped = await stoppedRun({ groups: [members], named: members, sent: 'events', headroom: 1 });
    env.directoryServer.state.addMembers(stopped.groupIds[0]!, [pool[1]!]);
    env.sandbox.state.createUser(stopped.org, { clientUserId: pool[1]!, managedAppleId: `${pool[1]}@example.org` });
    await stopped.resume();
    const run = await stopped.run();
    assert.equal(run?.state, 'completed', JSON.stringify(run?.lastError));
    assert.ok(stopped.holds(pool[1]!), 'the newcomer holds the book');
    assert.equal(run?.spent, 4);
    assert.equal(run?.overBudget ?? 0, 0, 'nobody was left out while the budget had room');
    sentOnce();
  });

  it("a leaver whom an earlier request named, replaced before it was recorded, keeps their license counted: that request may grant it yet", async () => {
    const members = sixMembers();
    const leaver = members[0]!;
    const stopped = await stoppedRun({
      groups: [members],
      named: members.slice(0, 3),
      sent: 'events',
      // The first process's request for all three was on its way when it stopped, and Apple is slow with it; the
      // second sent the two it found without the book and stopped too, its events recorded.
      sendRecorded: async (send) => {
        env.sandbox.state.eventDelayMs = 60_000;
        await send(members.slice(0, 3));
        env.sandbox.state.eventDelayMs = 0;
        return send(members.slice(1, 3));
      },
    });
    env.directoryServer.state.removeMember(stopped.groupIds[0]!, leaver);
    await stopped.resume();
    const run = await stopped.run();
    assert.equal(run?.state, 'completed', JSON.stringify(run?.lastError));
    for (const user of members.slice(1)) assert.ok(stopped.holds(user), `${user} holds the book`);
    assert.equal(stopped.holds(leaver), false, 'not yet: the first request is still under way at Apple');
    assert.equal(run?.spent, 6, "the leaver's license stays counted: one too many, never one too few");
  });

  it("a member the stopped batch's request was refused for is counted failed, though Apple named only the book and a member it licensed has left", async () => {
    const members = sixMembers().slice(0, 3);
    env.sandbox.state.failureNaming = 'assetsOnly';
    try {
      // Only two licenses are left when the request reaches Apple: the last of the three is refused.
      const stopped = await stoppedRun({ groups: [members], named: members, sent: 'events', afterApproval: (org, book) => env.spendElsewhere(org, book, 498) });
      env.directoryServer.state.removeMember(stopped.groupIds[0]!, members[0]!);
      await stopped.resume();
      const run = await stopped.run();
      assert.equal(run?.state, 'completed', JSON.stringify(run?.lastError));
      assert.equal(stopped.holds(members[2]!), false);
      assert.equal(run?.totals.licensed, 1, 'the one who holds it and is still a member');
      assert.equal(run?.totals.failed, 1, 'the refused member, not counted licensed');
      assert.equal(run?.spent, 2, 'what Apple spent for the run: the leaver and the other member');
    } finally {
      env.sandbox.state.failureNaming = 'users';
    }
  });
});
