import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { AsyncOperationResult } from '../../../services/apple/AppleBooksClient';
import {
  NOT_LICENSED,
  advance,
  batchMarker,
  creationFailures,
  earlierReservation,
  extendReservation,
  judgeAssociate,
  needingLicense,
  offerCounts,
  recordBatch,
  reserve,
  tallyBatch,
  toAssociate,
  toCreate,
  withinBudget,
  type BatchMember,
  type BatchTally,
  type KnownUser,
  type UserFailure,
} from '../../../services/assignments/batchTally';
import { ZERO_COUNTS, assignmentRunSchema, type AssignmentRun } from '../../../services/store/repositories/AssignmentRunRepository';

const T0 = '2026-01-01T00:00:00.000Z';

type FailureDetail = AsyncOperationResult['failures'][number];

function run(overrides: Partial<AssignmentRun> = {}): AssignmentRun {
  return {
    id: 'run-1',
    tokenId: 'tok-1',
    tenantId: 'tenant-1',
    approvalId: 'approval-1',
    adamId: '100',
    pricingParam: 'STDQ',
    bookTitle: 'A Book',
    installIntent: 'required',
    requestedBy: { aadObjectId: 'admin-1' },
    state: 'running',
    groups: [{ assignmentId: 'a-1', groupId: 'g-1', groupName: 'Year 7', done: false, counts: ZERO_COUNTS }],
    batchesCompleted: 0,
    totals: ZERO_COUNTS,
    failureReasons: [],
    failedUsers: [],
    invitedUsers: [],
    createdDateTime: T0,
    lastModifiedDateTime: T0,
    ...overrides,
  };
}

const member = (id: string, managed = false): BatchMember => ({ id, displayName: `Name ${id}`, ...(managed ? { managedAppleId: `${id}@contoso.appleaccount.com` } : {}) });
const known = (entries: Record<string, KnownUser['status']>): Map<string, KnownUser> =>
  new Map(Object.entries(entries).map(([id, status]) => [id, { status, ...(status === 'registered' ? { inviteCode: `code-${id}` } : {}) }]));
const failure = (errorNumber: number, clientUserIds: string[]): FailureDetail => ({ errorNumber, errorMessage: undefined, clientUserIds, assets: [], serialNumbers: [], message: `Apple ${errorNumber}` });
const answer = (overrides: Partial<AsyncOperationResult>): AsyncOperationResult => ({ eventIds: ['e1'], status: 'COMPLETE', numRequested: 0, numCompleted: 0, failures: [], ...overrides });
const codes = (failures: ReadonlyMap<string, UserFailure>): Record<string, string> => Object.fromEntries([...failures].map(([id, f]) => [id, f.code]));

describe('assignment batch tally (pure)', () => {
  describe('who takes a license', () => {
    const slice = [member('a', true), member('b'), member('c'), member('d'), member('e')];
    const store = known({ b: 'associated', c: 'registered', d: 'retired' });

    it('only members Apple can license now and who lack the book need one', () => {
      assert.deepEqual(needingLicense(slice, new Set(['b']), store).map((u) => u.id), ['a']);
      assert.deepEqual(needingLicense(slice, new Set(), store).map((u) => u.id), ['a', 'b']);
    });

    it('within a budget: holders, the reserved and those to be invited are processed; the rest are over budget', () => {
      const { users, leftOut } = withinBudget(slice, new Set(['e']), new Set(['a']), store);
      assert.deepEqual(users.map((u) => u.id), ['a', 'c', 'd', 'e']);
      assert.equal(leftOut, 1);
    });

    it('creates members without a user Apple still knows', () => {
      assert.deepEqual(toCreate(slice, store).map((u) => u.id), ['a', 'd', 'e']);
    });

    it('"already exists" is no failure; any other refusal fails the members it names', () => {
      const failures = creationFailures({ failures: [failure(9716, ['a']), failure(9717, ['d', 'e'])] });
      assert.deepEqual(codes(failures), { d: '9717', e: '9717' });
    });

    it('sends holders and joined members, with a budget only those reserved for, never the refused or the invited', () => {
      const store2 = known({ a: 'associated', b: 'associated', c: 'registered', d: 'associated' });
      const refused = new Map([['d', { code: '9717', message: 'x' }]]);
      assert.deepEqual(toAssociate(['a', 'b', 'c', 'd', 'e'], refused, new Set(['e']), store2, undefined), ['a', 'b', 'e']);
      assert.deepEqual(toAssociate(['a', 'b', 'c', 'd', 'e'], refused, new Set(['e']), store2, new Set(['b'])), ['b', 'e']);
    });
  });

  describe('reserve', () => {
    const slice = [member('a'), member('b'), member('c')];
    const marker = batchMarker(0, slice);

    const cases: Array<{ name: string; stored: Partial<AssignmentRun>; cursor?: string; expected: 'stale' | { allowed: string[]; spent: number | undefined } }> = [
      { name: 'room for all', stored: { budget: 5, spent: 1 }, expected: { allowed: ['a', 'b', 'c'], spent: 4 } },
      { name: 'room for some: the first in id order', stored: { budget: 5, spent: 3 }, expected: { allowed: ['a', 'b'], spent: 5 } },
      { name: 'no room: nothing written', stored: { budget: 2, spent: 2 }, expected: { allowed: [], spent: undefined } },
      { name: 'overspent budget counts as no room', stored: { budget: 2, spent: 3 }, expected: { allowed: [], spent: undefined } },
      { name: 'another batch holds a reservation', stored: { budget: 5, reserved: { groupIndex: 0, firstUserId: 'x', lastUserId: 'y', userIds: ['x'] } }, expected: 'stale' },
      { name: 'the cursor moved since it was read', stored: { budget: 5, groups: [{ ...run().groups[0]!, cursor: 'c' }] }, expected: 'stale' },
      { name: 'the budget is gone', stored: {}, expected: 'stale' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const result = reserve(run(c.stored), marker, c.cursor, slice);
        if (c.expected === 'stale') {
          assert.equal(result.stale, true);
          return;
        }
        assert.ok(!result.stale);
        assert.deepEqual([...result.allowed], c.expected.allowed);
        assert.equal(result.run?.spent, c.expected.spent);
        if (result.run) assert.deepEqual(result.run.reserved, { groupIndex: 0, firstUserId: 'a', lastUserId: 'c', userIds: c.expected.allowed });
      });
    }

    it('a resumed batch keeps exactly the reservation it made, for those still needing it', () => {
      const stored = run({ budget: 5, spent: 2, reserved: { groupIndex: 0, firstUserId: 'a', lastUserId: 'c', userIds: ['a', 'b'] } });
      assert.deepEqual([...(earlierReservation(stored, marker, [member('b'), member('c')]) ?? [])], ['b']);
      assert.equal(earlierReservation(stored, batchMarker(0, [member('a'), member('d')]), slice), undefined, 'another batch');
      assert.equal(earlierReservation(run({ budget: 5 }), marker, slice), undefined, 'nothing reserved');
    });

    it('a resumed batch grows its reservation for newcomers only as far as the budget has room, and only while it holds it', () => {
      const reserved = { groupIndex: 0, firstUserId: 'a', lastUserId: 'c', userIds: ['a', 'c'] };
      const grown = extendReservation(run({ budget: 4, spent: 3, reserved }), marker, [member('b'), member('bb')]);
      assert.ok(!grown.stale);
      assert.deepEqual([...grown.allowed], ['b'], 'one license left: the first newcomer in id order');
      assert.equal(grown.run?.spent, 4);
      assert.deepEqual(grown.run?.reserved?.userIds, ['a', 'c', 'b']);
      const full = extendReservation(run({ budget: 3, spent: 3, reserved }), marker, [member('b')]);
      assert.ok(!full.stale);
      assert.deepEqual([...full.allowed], []);
      assert.equal(full.run, undefined, 'no room: nothing written');
      assert.equal(extendReservation(run({ budget: 4, spent: 3 }), marker, [member('b')]).stale, true, 'recorded meanwhile by another process');
      assert.equal(extendReservation(run({ budget: 4, spent: 3, reserved: { ...reserved, firstUserId: 'x' } }), marker, [member('b')]).stale, true, "another batch's reservation");
    });
  });

  describe("Apple's associate answer", () => {
    const sent = ['a', 'b', 'c'];
    const cases: Array<{ name: string; result: Partial<AsyncOperationResult>; holding?: string[]; needsHolders: boolean; failed: Record<string, string> }> = [
      { name: 'all completed', result: { numCompleted: 3 }, needsHolders: false, failed: {} },
      { name: 'a failure names its users; the others got the book', result: { status: 'FAILED', numCompleted: 2, failures: [failure(9610, ['b', 'zz'])] }, needsHolders: false, failed: { b: '9610' } },
      { name: 'a failure naming only the book: Apple is asked who holds it', result: { status: 'FAILED', numCompleted: 1, failures: [failure(9632, [])] }, needsHolders: true, failed: {} },
      { name: '…and those not holding it fail with that reason', result: { status: 'FAILED', numCompleted: 1, failures: [failure(9632, [])] }, holding: ['a'], needsHolders: false, failed: { b: '9632', c: '9632' } },
      { name: 'COMPLETE with fewer done than sent is read the same way', result: { numCompleted: 2 }, holding: ['a', 'c'], needsHolders: false, failed: { b: 'event_failed' } },
      { name: 'failed with nothing completed fails everyone', result: { status: 'FAILED', numCompleted: 0, failures: [failure(9610, ['a'])] }, needsHolders: false, failed: { a: '9610', b: 'event_failed', c: 'event_failed' } },
      { name: '…with the reason Apple gave for the book', result: { status: 'FAILED', numCompleted: 0, failures: [failure(9632, [])] }, needsHolders: false, failed: { a: '9632', b: '9632', c: '9632' } },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const verdict = judgeAssociate(sent, answer(c.result), c.holding ? new Set(c.holding) : undefined);
        assert.equal(verdict.needsHolders, c.needsHolders);
        assert.deepEqual(codes(verdict.failures), c.failed);
      });
    }

    it("a resumed request that also named a member who left: its counts prove nothing of these three, who holds the book decides", () => {
      const result = answer({ status: 'FAILED', numCompleted: 3, failures: [failure(9709, [])] });
      assert.equal(judgeAssociate(sent, result).needsHolders, false, 'read alone, the counts add up');
      assert.equal(judgeAssociate(sent, result, undefined, true).needsHolders, true);
      assert.deepEqual(codes(judgeAssociate(sent, result, new Set(['a', 'b']), true).failures), { c: '9709' });
    });
  });

  describe('tallyBatch', () => {
    it('puts every member in exactly one outcome, with samples and reasons', () => {
      const users = ['held', 'sent', 'refused', 'invited', 'unseen', 'sentFailed'].map((id) => member(id));
      const tally = tallyBatch({
        users,
        groupId: 'g-1',
        holders: new Set(['held']),
        known: known({ held: 'associated', sent: 'associated', invited: 'registered', sentFailed: 'associated' }),
        eligible: ['held', 'sent', 'sentFailed'],
        failures: new Map([
          ['refused', { code: '9717', message: 'bad address' }],
          ['sentFailed', { code: '9610', message: 'no license' }],
        ]),
        reserved: new Set(['sent', 'sentFailed']),
      });
      assert.deepEqual(tally.counts, { processed: 6, licensed: 2, awaitingInvitation: 1, failed: 3 });
      assert.deepEqual([...tally.newlyLicensed], ['sent']);
      assert.deepEqual([...tally.invited], ['invited']);
      assert.deepEqual(tally.invitedSamples, [{ clientUserId: 'invited', displayName: 'Name invited', inviteCode: 'code-invited' }]);
      assert.deepEqual(tally.failedSamples.map((f) => [f.clientUserId, f.code, f.groupId]), [
        ['refused', '9717', 'g-1'],
        ['unseen', NOT_LICENSED.code, 'g-1'],
        ['sentFailed', '9610', 'g-1'],
      ]);
      assert.deepEqual([...tally.reasons.keys()], ['9717', NOT_LICENSED.code, '9610']);
      assert.equal(tally.refunded, 1, 'the license Apple refused goes back');
    });

    it('cuts a long name to what the run stores', () => {
      const long = { id: 'x', displayName: 'n'.repeat(300) };
      const tally = tallyBatch({ users: [long], groupId: undefined, holders: new Set(), known: new Map(), eligible: [], failures: new Map(), reserved: new Set() });
      assert.equal(tally.failedSamples[0]?.displayName.length, 256);
    });
  });

  describe('recordBatch', () => {
    const slice = [member('a'), member('b')];
    const marker = batchMarker(0, slice);
    const tally = (overrides: Partial<BatchTally> = {}): BatchTally => ({
      counts: { processed: 2, licensed: 1, awaitingInvitation: 0, failed: 1 },
      newlyLicensed: new Set(['a']),
      invited: new Set(),
      failedSamples: [{ clientUserId: 'b', displayName: 'Name b', code: '9610', groupId: 'g-1' }],
      invitedSamples: [],
      reasons: new Map([['9610', { message: 'no license', count: 1 }]]),
      refunded: 1,
      ...overrides,
    });
    const reservedRun = run({ budget: 4, spent: 3, reserved: { ...marker, userIds: ['a', 'b'] }, failureReasons: [{ code: '9610', message: 'no license', count: 2 }], pending: { ...marker, eventIds: ['e1'] } });

    it('adds the counts, moves the cursor, settles the reservation and merges the reasons', () => {
      const saved = recordBatch(reservedRun, { batch: marker, tally: tally(), reserved: 2, leftOut: 3, usersVersionId: 'v2' });
      assert.ok(saved);
      assert.deepEqual(saved.totals, { processed: 2, licensed: 1, awaitingInvitation: 0, failed: 1 });
      assert.deepEqual([saved.groups[0]?.cursor, saved.groups[0]?.counts.processed, saved.batchesCompleted], ['b', 2, 1]);
      assert.deepEqual([saved.spent, saved.reserved, saved.overBudget, saved.pending, saved.usersVersionId], [2, undefined, 3, undefined, 'v2']);
      assert.deepEqual(saved.failureReasons, [{ code: '9610', message: 'no license', count: 3 }]);
      assert.ok(assignmentRunSchema.safeParse(saved).success);
    });

    it('writes nothing when another instance already settled this reservation', () => {
      assert.equal(recordBatch({ ...reservedRun, reserved: undefined }, { batch: marker, tally: tally(), reserved: 2, leftOut: 0, usersVersionId: undefined }), undefined);
      assert.equal(recordBatch({ ...reservedRun, reserved: { groupIndex: 0, firstUserId: 'c', lastUserId: 'd', userIds: ['c'] } }, { batch: marker, tally: tally(), reserved: 2, leftOut: 0, usersVersionId: undefined }), undefined);
    });

    it('without a budget leaves the budget fields alone', () => {
      const saved = recordBatch(run(), { batch: marker, tally: tally({ refunded: 0 }), reserved: 0, leftOut: 0, usersVersionId: undefined });
      assert.deepEqual([saved?.spent, saved?.overBudget, 'spent' in (saved ?? {})], [undefined, undefined, false]);
    });

    it('keeps the newest 50 samples', () => {
      const old = Array.from({ length: 50 }, (_, i) => ({ clientUserId: `old-${i}`, displayName: '', code: '9610' }));
      const saved = recordBatch(run({ failedUsers: old }), { batch: marker, tally: tally(), reserved: 0, leftOut: 0, usersVersionId: undefined });
      assert.equal(saved?.failedUsers.length, 50);
      assert.deepEqual([saved?.failedUsers[0]?.clientUserId, saved?.failedUsers[49]?.clientUserId], ['old-1', 'b']);
    });
  });

  it('offering: holders count as licensed, the others are offered, nothing fails', () => {
    const { offered, counts } = offerCounts([member('a'), member('b'), member('c')], new Set(['b']));
    assert.deepEqual(offered.map((u) => u.id), ['a', 'c']);
    assert.deepEqual(counts, { processed: 3, licensed: 1, awaitingInvitation: 0, failed: 0, offered: 2 });
    const saved = advance(run({ totals: { ...ZERO_COUNTS, processed: 2, licensed: 2, offered: 1 } }), batchMarker(0, [member('a'), member('c')]), counts);
    assert.deepEqual(saved.totals, { processed: 5, licensed: 3, awaitingInvitation: 0, failed: 0, offered: 3 });
    assert.equal(saved.groups[0]?.cursor, 'c');
  });

  describe('a whole batch, on generated members and answers', () => {
    type Stored = 'none' | 'registered' | 'associated' | 'retired';
    interface Spec {
      managed: boolean;
      stored: Stored;
      holder: boolean;
      /** What creating the user (if needed) gives: Apple's user read back, a refusal, "already exists", or no answer. */
      created: 'associated' | 'registered' | 'refused' | 'exists' | 'unseen';
      /** What associating the book (if sent) gives. */
      apple: 'ok' | 'named' | 'unnamed';
    }
    const specArbitrary: fc.Arbitrary<Spec> = fc.record({
      managed: fc.boolean(),
      stored: fc.constantFrom<Stored>('none', 'registered', 'associated', 'retired'),
      holder: fc.boolean(),
      created: fc.constantFrom<Spec['created']>('associated', 'registered', 'refused', 'exists', 'unseen'),
      apple: fc.constantFrom<Spec['apple']>('ok', 'ok', 'named', 'unnamed'),
    });
    const scenario = fc.record({
      specs: fc.array(specArbitrary, { minLength: 1, maxLength: 12 }),
      budget: fc.option(fc.record({ budget: fc.nat(12), spent: fc.nat(12) }), { nil: undefined }),
    });

    /** The executor's batch with Apple and the store simulated: the pure steps in the order it calls them. */
    function simulate({ specs, budget }: { specs: Spec[]; budget: { budget: number; spent: number } | undefined }) {
      const slice = specs.map((s, i) => member(`u${String(i).padStart(2, '0')}`, s.managed));
      const spec = new Map(slice.map((u, i) => [u.id, specs[i] as Spec]));
      const holders = new Set(slice.filter((u) => spec.get(u.id)?.holder).map((u) => u.id));
      const stored = new Map(slice.flatMap((u) => (spec.get(u.id)?.stored === 'none' ? [] : [[u.id, { status: spec.get(u.id)?.stored as KnownUser['status'] }] as const])));
      const marker = batchMarker(0, slice);
      let current = run(budget ? { budget: budget.budget, spent: Math.min(budget.spent, budget.budget) } : {});
      const before = current;
      let users = slice;
      let leftOut = 0;
      let reserved: Set<string> | undefined;
      if (current.budget !== undefined) {
        const reservation = reserve(current, marker, undefined, needingLicense(slice, holders, stored));
        assert.ok(!reservation.stale);
        current = reservation.run ?? current;
        ({ users, leftOut } = withinBudget(slice, holders, reservation.allowed, stored));
        reserved = reservation.allowed;
      }
      const known = new Map<string, KnownUser>([...stored].filter(([id]) => users.some((u) => u.id === id)));
      const creating = toCreate(users, known);
      const created = creationFailures({
        failures: creating.flatMap((u) => {
          const outcome = spec.get(u.id)?.created;
          return outcome === 'refused' ? [failure(9717, [u.id])] : outcome === 'exists' ? [failure(9716, [u.id])] : [];
        }),
      });
      for (const u of creating) {
        const outcome = spec.get(u.id)?.created;
        if (outcome === 'associated' || outcome === 'exists') known.set(u.id, { status: 'associated' });
        if (outcome === 'registered') known.set(u.id, { status: 'registered', inviteCode: `code-${u.id}` });
      }
      const failures = new Map(created);
      const eligible = toAssociate(users.map((u) => u.id), failures, holders, known, reserved);
      if (eligible.length > 0) {
        const done = eligible.filter((id) => spec.get(id)?.apple === 'ok');
        const named = eligible.filter((id) => spec.get(id)?.apple === 'named');
        const unnamed = eligible.filter((id) => spec.get(id)?.apple === 'unnamed');
        const result = answer({
          status: done.length < eligible.length ? 'FAILED' : 'COMPLETE',
          numRequested: eligible.length,
          numCompleted: done.length,
          failures: [...(named.length ? [failure(9610, named)] : []), ...(unnamed.length ? [failure(9632, [])] : [])],
        });
        let verdict = judgeAssociate(eligible, result);
        if (verdict.needsHolders) verdict = judgeAssociate(eligible, result, new Set([...holders, ...done]));
        for (const [id, f] of verdict.failures) failures.set(id, f);
      }
      const tally = tallyBatch({ users, groupId: 'g-1', holders, known, eligible, failures, reserved: reserved ?? new Set() });
      const saved = recordBatch(current, { batch: marker, tally, reserved: reserved?.size ?? 0, leftOut, usersVersionId: undefined });
      return { slice, spec, holders, before, users, leftOut, reserved, created, eligible, failures, tally, saved };
    }

    it('counts every member once, as licensed only when they hold the book, and the counts add up to the batch', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { slice, holders, users, leftOut, tally, saved } = simulate(s);
          const { counts } = tally;
          assert.equal(users.length + leftOut, slice.length);
          assert.equal(counts.processed, users.length);
          assert.equal(counts.licensed + counts.awaitingInvitation + counts.failed, counts.processed);
          assert.ok(counts.licensed <= users.filter((u) => holders.has(u.id)).length + tally.newlyLicensed.size, 'licensed: only who held the book or got it now');
          assert.equal(tally.failedSamples.length, counts.failed);
          assert.equal([...tally.reasons.values()].reduce((n, r) => n + r.count, 0), counts.failed);
          assert.ok(saved);
          assert.deepEqual(saved.totals, counts);
          assert.equal(saved.groups[0]?.cursor, slice[slice.length - 1]?.id);
        }),
      );
    });

    it('never sends more new licenses than reserved, nor anyone refused or invited, and never spends past the budget', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { spec, holders, before, reserved, created, eligible, tally, saved } = simulate(s);
          for (const id of eligible) {
            assert.ok(!created.has(id), 'a member Apple refused to create is not sent');
            if (!holders.has(id)) assert.ok(reserved === undefined || reserved.has(id), 'a new license is sent only when reserved');
          }
          assert.ok(!eligible.some((id) => spec.get(id)?.stored === 'registered' && !holders.has(id)), 'an invited member is not sent');
          for (const id of tally.newlyLicensed) assert.ok(eligible.includes(id) && !holders.has(id));
          for (const id of tally.invited) assert.ok(!tally.newlyLicensed.has(id));
          if (before.budget === undefined) {
            assert.equal(reserved, undefined);
            assert.equal(saved?.spent, undefined);
            return;
          }
          const room = Math.max(0, before.budget - (before.spent ?? 0));
          assert.ok((reserved?.size ?? 0) <= room, 'never reserved past the budget');
          assert.ok(tally.refunded <= (reserved?.size ?? 0));
          assert.equal(saved?.spent, (before.spent ?? 0) + (reserved?.size ?? 0) - tally.refunded, 'spent = reserved − refunded');
          assert.equal(saved?.spent, (before.spent ?? 0) + tally.newlyLicensed.size, 'what stays spent is who got the book now');
          assert.ok((saved?.spent ?? 0) <= before.budget);
          assert.equal(saved?.reserved, undefined);
        }),
      );
    });
  });
});
