import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { DEMO_GROUPS } from '../../../local/directory';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { REQUEST_IN_FLIGHT_MS, type ApprovalService } from '../../../services/approvals/ApprovalService';
import type { AssignmentPreview } from '../../../services/assignments/assignmentPreview';
import { ASSIGN_TENANT, AssignEnvironment, RecordingReporter, alexActor, meganActor, type AssignTokenFixture } from '../../support/assignFixtures';

const alex = alexActor;
const megan = meganActor;
const injected = (): Error => Object.assign(new Error('injected store failure'), { code: 503 });

/**
 * Issue #16 point 6: a store write that fails at any step of asking or deciding never leaves a request
 * stuck. Asking is all or nothing; a decision that was written ends with its delivery running.
 */
describe('approval requests under failing store writes (sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(120_000);
  const env = new AssignEnvironment({ studentCount: 100 });
  let fixture: AssignTokenFixture;
  let nextBook = 0;

  before(async () => {
    await env.start();
    fixture = await env.seedToken(Array.from({ length: 24 }, (_, i) => ({ title: `Stuck-proof ${i + 1}`, totalCount: 500 })));
  });
  after(async () => {
    await env.stop();
  });
  afterEach(() => sinon.restore());

  async function previewOfNextBook(): Promise<AssignmentPreview> {
    const book = fixture.books[nextBook++]!;
    const groups = [await env.directory.getGroup(DEMO_GROUPS.libraryStaff), await env.directory.getGroup(DEMO_GROUPS.englishDepartment)];
    return env.planner.preview({ token: fixture.token, book, groups, installIntent: 'required' });
  }

  /**
   * Makes the store writes of one path fail from the `failAt`-th on (`once`: only that one, as a passing
   * outage; otherwise every later write too, as a process that died there, so no undo can run either).
   */
  function failWrites(failAt: number, once: boolean): () => number {
    let calls = 0;
    const targets: Array<[object, string]> = [
      [env.store.assignments, 'createOrGet'],
      [env.store.assignments, 'update'],
      [env.store.assignments, 'delete'],
      [env.runs, 'create'],
      [env.runs, 'update'],
      [env.runs, 'delete'],
      [env.store.approvals, 'create'],
      [env.store.approvals, 'decide'],
    ];
    for (const [target, method] of targets) {
      const original = (target as Record<string, (...args: unknown[]) => Promise<unknown>>)[method]!.bind(target);
      sinon.stub(target as Record<string, unknown>, method).callsFake(async (...args: unknown[]) => {
        calls++;
        if (calls === failAt || (!once && calls > failAt)) throw injected();
        return original(...args);
      });
    }
    return () => calls;
  }

  async function writesOf(action: () => Promise<unknown>): Promise<number> {
    const count = failWrites(Number.POSITIVE_INFINITY, true);
    await action();
    const writes = count();
    sinon.restore();
    return writes;
  }

  it('asking: two requests for the same book and group at once: exactly one is made, the other is refused', async () => {
    const approvals = env.approvals(env.executor());
    const preview = await previewOfNextBook();
    const results = await Promise.allSettled([approvals.request({ preview, requestedBy: alex }), approvals.request({ preview, requestedBy: megan })]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.find((r) => r.status === 'rejected');
    assert.match(String((refused as PromiseRejectedResult | undefined)?.reason), /already has a request or delivery in progress/);
    const pending = (await approvals.listOpen(ASSIGN_TENANT)).filter((p) => p.summary.bookTitle === preview.book.title);
    assert.equal(pending.length, 1);
  });

  it('asking: an expired request frees its book and groups at once, before any sweep marks it', async () => {
    let clock = Date.now();
    const approvals = env.approvals(env.executor(), { now: () => new Date(clock), expiryMs: 60_000 });
    const preview = await previewOfNextBook();
    await approvals.request({ preview, requestedBy: alex });
    await assert.rejects(approvals.request({ preview, requestedBy: alex }), /already has a request or delivery in progress/);
    clock += 61_000;
    const again = await approvals.request({ preview, requestedBy: alex });
    assert.equal(again.request.state, 'pending');
  });

  it('asking: a failure at any write refuses the request and leaves the book and groups free', async () => {
    let clock = Date.now();
    const approvals = env.approvals(env.executor(), { now: () => new Date(clock) });
    const writes = await writesOf(async () => approvals.request({ preview: await previewOfNextBook(), requestedBy: alex }));
    assert.ok(writes >= 4, `a request with two groups writes at least 4 documents (${writes})`);
    for (const once of [true, false]) {
      for (let failAt = 1; failAt <= writes; failAt++) {
        const preview = await previewOfNextBook();
        failWrites(failAt, once);
        await assert.rejects(approvals.request({ preview, requestedBy: alex }), /injected store failure/, `write ${failAt} failed`);
        sinon.restore();
        const pending = (await approvals.listOpen(ASSIGN_TENANT)).filter((p) => p.summary.bookTitle === preview.book.title);
        assert.deepEqual(pending, [], `no half-made request is offered to approvers (write ${failAt}, ${once ? 'undone' : 'crashed'})`);
        // After a crash nothing could be undone: what it left counts as in flight for two minutes, then frees itself.
        if (!once) clock += REQUEST_IN_FLIGHT_MS + 1000;
        const again = await approvals.request({ preview, requestedBy: alex });
        assert.equal(again.request.state, 'pending', `the same book and groups can be asked for again (write ${failAt}, ${once ? 'undone' : 'crashed'})`);
        await approvals.withdraw(ASSIGN_TENANT, again.request.id, alex);
      }
    }
  });

  it('deciding: a failure at any write ends decided-and-delivering (after the recovery sweep), or still pending and decidable', async () => {
    const reporter = new RecordingReporter();
    const executor = env.executor({ reporter });
    const approvals: ApprovalService = env.approvals(executor);
    const probe = await approvals.request({ preview: await previewOfNextBook(), requestedBy: alex });
    const writes = await writesOf(() => approvals.decide(ASSIGN_TENANT, probe.request.id, megan, 'approved'));
    await executor.idle();
    assert.ok(writes >= 3, `a decision writes the approval, the run and each assignment (${writes})`);

    for (let failAt = 1; failAt <= writes; failAt++) {
      const { request } = await approvals.request({ preview: await previewOfNextBook(), requestedBy: alex });
      failWrites(failAt, false);
      await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved').catch(() => undefined);
      sinon.restore();
      await executor.idle();
      let stored = await approvals.get(ASSIGN_TENANT, request.id);
      if (stored?.state === 'pending') {
        // The decision itself was not written: the approver's next click decides it.
        await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
        stored = await approvals.get(ASSIGN_TENANT, request.id);
      }
      assert.equal(stored?.state, 'approved');
      await approvals.recoverApproved();
      await executor.idle();
      const run = await env.runs.get(fixture.token.id, runId(request.id));
      assert.equal(run?.state, 'completed', `delivered in the end (write ${failAt} failed)`);
    }
  });
});
