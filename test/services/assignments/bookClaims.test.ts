import { approvalCard } from '../../../cards/approvalCards';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { DEMO_GROUPS } from '../../../local/directory';
import { BookClaimService } from '../../../services/assignments/BookClaimService';
import { bookClaimId } from '../../../services/store/entities/bookClaim';
import { ALEX, ASSIGN_TENANT, AssignEnvironment, meganActor } from '../../support/assignFixtures';
import { claimServices, createAvailableRun } from '../../support/claimFixtures';
import { silentLogger } from '../../../services/logging/logger';

/**
 * Issue #15: members get the book of an Available assignment themselves, within its approved budget.
 * Real parts: embedded Cosmos, the Apple sandbox over HTTP, the local directory through Graph's calls.
 */
describe('BookClaimService: members get Available books within the budget (sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 300 });
  const FORM = { groupId: DEMO_GROUPS.year9FormA, groupName: 'Year 9 Form 9A' };

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  /** Members of Form 9A with and without a Managed Apple Account (the latter join VPP by invitation). */
  function members(withManagedId: boolean, count: number): Array<{ aadObjectId: string; displayName: string }> {
    return env
      .members(FORM.groupId)
      .map((id) => env.directoryServer.state.users.get(id))
      .filter((u) => u !== undefined && (u.managedAppleId !== undefined) === withManagedId)
      .slice(0, count)
      .map((u) => ({ aadObjectId: u?.id ?? '', displayName: u?.displayName ?? '' }));
  }

  const outsider = () => {
    const inside = new Set(env.members(FORM.groupId));
    const id = env.members(DEMO_GROUPS.allStudents).find((m) => !inside.has(m)) ?? '';
    return { aadObjectId: id, displayName: 'Someone Else' };
  };

  it('lists the book for members of its groups only, licenses a Get once (a double click spends one license), and says it is theirs', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Claimable Reader', totalCount: 100 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const run = await createAvailableRun(env, { token, book, groups: [FORM], budget: 5 });
    const { claims } = claimServices(env);
    const [adele] = members(true, 1);
    assert.ok(adele);

    // The first test: the only Available assignment of the tenant so far.
    const before = await claims.booksFor(ASSIGN_TENANT, adele);
    assert.deepEqual(before.offered.map((b) => [b.title, b.status, b.runId]), [['Claimable Reader', 'offered', run.id]]);
    assert.equal(before.yours.length, 0);
    assert.equal((await claims.booksFor(ASSIGN_TENANT, outsider())).offered.length, 0, 'not offered outside its groups');

    const [first, second] = await Promise.all([claims.claim(ASSIGN_TENANT, adele, { tokenId: token.id, runId: run.id }), claims.claim(ASSIGN_TENANT, adele, { tokenId: token.id, runId: run.id })]);
    assert.deepEqual([first.outcome, second.outcome].sort(), ['alreadyYours', 'licensed'], 'one click licenses, the other is told it is theirs');
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 1, 'one license at Apple');
    assert.equal((await env.runs.get(token.id, run.id))?.spent, 1, 'one license taken from the budget');
    assert.equal((await claims.claim(ASSIGN_TENANT, adele, { tokenId: token.id, runId: run.id })).outcome, 'alreadyYours');

    const after = await claims.booksFor(ASSIGN_TENANT, adele);
    assert.equal(after.offered.length, 0);
    assert.deepEqual(after.yours.map((b) => [b.title, b.status]), [['Claimable Reader', 'yours']]);
    const audit = await env.store.audit.listForTarget(ASSIGN_TENANT, 'book', `${book.adamId}|${book.pricingParam}`);
    assert.equal(audit.filter((a) => a.action === 'book.claim' && a.outcome === 'success').length, 1);
  });

  it('creates the VPP user with an invitation for a member without a Managed Apple Account and gives them the link', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Invited Reader', totalCount: 100 }], undefined, { membersJoined: false });
    const run = await createAvailableRun(env, { token, book: books[0]!, groups: [FORM], budget: 2 });
    const { claims } = claimServices(env);
    const [henry] = members(false, 1);
    assert.ok(henry);
    const result = await claims.claim(ASSIGN_TENANT, henry, { tokenId: token.id, runId: run.id });
    assert.equal(result.outcome, 'licensed');
    assert.ok(result.outcome === 'licensed' && result.invitationUrl && /^https?:\/\//.test(result.invitationUrl), 'their own invitation link');
    assert.equal(env.sandbox.state.activeUser(org, henry.aadObjectId)?.status, 'Registered');
    assert.equal((await env.store.vppUsers.get(token.id, henry.aadObjectId))?.status, 'registered');
    const again = await claims.claim(ASSIGN_TENANT, henry, { tokenId: token.id, runId: run.id });
    assert.ok(again.outcome === 'alreadyYours' && again.invitationUrl, 'asked again, the link again');
    assert.equal((await claims.booksFor(ASSIGN_TENANT, henry)).yours.find((y) => y.title === 'Invited Reader')?.status, 'joinVpp');
  });

  it('changes nothing for a forged or stale Get: not in the groups, another tenant, a Required run, an unknown run', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Guarded Reader', totalCount: 100 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const run = await createAvailableRun(env, { token, book, groups: [FORM], budget: 3 });
    const { claims } = claimServices(env);
    const [member] = members(true, 1);
    assert.ok(member);
    assert.equal((await claims.claim(ASSIGN_TENANT, outsider(), { tokenId: token.id, runId: run.id })).outcome, 'notInGroup');
    assert.equal((await claims.claim('another-tenant', member, { tokenId: token.id, runId: run.id })).outcome, 'notAvailable');
    assert.equal((await claims.claim(ASSIGN_TENANT, member, { tokenId: token.id, runId: 'run|nope' })).outcome, 'notAvailable');
    await env.runs.update(token.id, run.id, (r) => ({ ...r, installIntent: 'required' }));
    assert.equal((await claims.claim(ASSIGN_TENANT, member, { tokenId: token.id, runId: run.id })).outcome, 'notAvailable');
    assert.equal((await env.runs.get(token.id, run.id))?.spent, 0);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 0);
    assert.equal(await env.store.claims.get(token.id, bookClaimId(run.id, outsider().aadObjectId)), undefined, 'no claim written');
  });

  it('beyond the budget: the member waits, one top-up asks for the number waiting, and its approval licenses them and tells them', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Popular Reader', totalCount: 100 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const run = await createAvailableRun(env, { token, book, groups: [FORM], budget: 2 });
    const { claims, approvals, notices, topUpsAsked } = claimServices(env);
    const [a, b, c, d] = members(true, 4);
    for (const m of [a!, b!]) assert.equal((await claims.claim(ASSIGN_TENANT, m, { tokenId: token.id, runId: run.id })).outcome, 'licensed');
    const third = await claims.claim(ASSIGN_TENANT, c!, { tokenId: token.id, runId: run.id });
    assert.deepEqual(third, { outcome: 'budgetUsedUp', book: { tokenId: token.id, runId: run.id, adamId: book.adamId, pricingParam: book.pricingParam, title: 'Popular Reader' }, topUp: 'asked' });
    assert.equal((await claims.claim(ASSIGN_TENANT, c!, { tokenId: token.id, runId: run.id })).outcome, 'budgetUsedUp', 'asked again: still waiting');
    assert.deepEqual(topUpsAsked, [1], 'the same number is not asked twice');
    assert.equal((await claims.claim(ASSIGN_TENANT, d!, { tokenId: token.id, runId: run.id })).outcome, 'budgetUsedUp');
    assert.deepEqual(topUpsAsked, [1, 2], 'a second member waiting: the request is for two');
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 2, 'never more than the budget');
    assert.equal((await claims.booksFor(ASSIGN_TENANT, c!)).offered.find((o) => o.runId === run.id)?.status, 'waiting');

    const pending = (await env.store.approvals.listPending(ASSIGN_TENANT)).filter((r) => r.kind === 'topUp' && r.runId === run.id);
    assert.equal(pending.length, 1, 'the request for one was replaced by the request for two');
    assert.equal(pending[0]?.summary.licensesNeeded, 2);
    assert.equal(pending[0]?.requestedBy.aadObjectId, ALEX, "in the original requester's name");
    assert.match(JSON.stringify(approvalCard(pending[0]!, { actionable: true })), /2 members of .* asked for the book \(my books\), and the licenses approved for it are used up\. Approve 2 more licenses\?/);
    assert.equal((await approvals.decide(ASSIGN_TENANT, pending[0]!.id, meganActor, 'approved')).outcome, 'decided');
    await claims.idle();
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 4);
    const after = await env.runs.get(token.id, run.id);
    assert.deepEqual([after?.budget, after?.spent, after?.topUp], [4, 4, undefined], 'the approved top-up is handed out');
    assert.deepEqual(notices.told.filter((t) => t.kind === 'licensed').map((t) => t.member).sort(), [c!.aadObjectId, d!.aadObjectId].sort(), 'the waiting are told');
  });

  it('gives the license back, once, when Apple refuses (no licenses left at Apple)', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Scarce Reader', totalCount: 1 }], undefined, { membersJoined: false });
    const book = books[0]!;
    env.spendElsewhere(org, book, 1);
    const run = await createAvailableRun(env, { token, book, groups: [FORM], budget: 3 });
    const { claims } = claimServices(env);
    const [m] = members(true, 1);
    const result = await claims.claim(ASSIGN_TENANT, m!, { tokenId: token.id, runId: run.id });
    assert.equal(result.outcome, 'refused');
    assert.match(result.outcome === 'refused' ? result.reason : '', /no licenses of this book left/);
    assert.equal((await env.runs.get(token.id, run.id))?.spent, 0, 'the license went back to the budget');
    assert.equal((await env.store.claims.get(token.id, bookClaimId(run.id, m!.aadObjectId)))?.state, 'refused');
  });

  it('finishes claims a crash cut off, at start-up: a reserved one is delivered, a reserving one reserved first; members are told', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Recovered Reader', totalCount: 100 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const run = await createAvailableRun(env, { token, book, groups: [FORM], budget: 5 });
    const [reserved, reserving] = members(true, 2);
    const long = new Date(Date.now() - 60 * 60_000).toISOString();
    const base = { tokenId: token.id, tenantId: ASSIGN_TENANT, runId: run.id, adamId: book.adamId, pricingParam: book.pricingParam, bookTitle: book.title, attempt: 'dead-attempt', createdDateTime: long, lastModifiedDateTime: long };
    // What a crash leaves: one claim reserved (the run counts it), one cut off before its reservation.
    await env.runs.update(token.id, run.id, (r) => ({ ...r, spent: 1 }));
    for (const [m, state] of [[reserved!, 'reserved'], [reserving!, 'reserving']] as const) {
      await env.store.claims.store.container.items.create({ ...base, id: bookClaimId(run.id, m.aadObjectId), member: { aadObjectId: m.aadObjectId, displayName: m.displayName }, state, type: 'bookClaim' });
    }
    const { claims, notices } = claimServices(env);
    assert.equal(await claims.resumeClaims(), 2);
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, 2);
    assert.equal((await env.runs.get(token.id, run.id))?.spent, 2);
    assert.deepEqual(notices.told.map((t) => t.kind), ['licensed', 'licensed']);
    assert.equal(await claims.resumeClaims(), 0, 'nothing left to do');
  });

  it('never spends more than the budget: concurrent Gets (double clicks included) on two instances', async () => {
    const pool = members(true, 12);
    const { org, token, books } = await env.seedToken(Array.from({ length: 8 }, (_, i) => ({ title: `Race Reader ${i}`, totalCount: 1_000 })));
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.array(fc.tuple(fc.integer({ min: 0, max: pool.length - 1 }), fc.boolean()), { minLength: 1, maxLength: 16 }), async (budget, clicks) => {
        const book = books[round++ % books.length]!;
        const run = await createAvailableRun(env, { token, book, groups: [FORM], budget });
        const one = claimServices(env).claims;
        const two = new BookClaimService({ store: env.store, runs: env.runs, directory: env.directory, clients: env.clients, topUps: { requestTopUp: async () => ({ outcome: 'unchanged' }) }, logger: silentLogger(), wait: { intervalMs: 5 } });
        const results = await Promise.all(clicks.map(([i, onTwo]) => (onTwo ? two : one).claim(ASSIGN_TENANT, pool[i]!, { tokenId: token.id, runId: run.id })));
        await Promise.all([one.idle(), two.idle()]);
        const people = new Set(clicks.map(([i]) => i));
        const assigned = env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount ?? -1;
        const spent = (await env.runs.get(token.id, run.id))?.spent ?? -1;
        assert.ok(assigned <= budget, `Apple holds ${assigned} > budget ${budget}`);
        assert.equal(spent, assigned, 'the budget counts exactly what Apple holds');
        assert.equal(assigned, Math.min(budget, people.size), 'every license the budget allows went to someone who asked');
        assert.ok(results.every((r) => ['licensed', 'alreadyYours', 'budgetUsedUp', 'onItsWay'].includes(r.outcome)), JSON.stringify(results.map((r) => r.outcome)));
      }),
      { numRuns: 8 },
    );
  });
});
