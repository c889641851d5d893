import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../local/directory';
import { runId } from '../../services/store/repositories/AssignmentRunRepository';
import { ASSIGN_TENANT, AssignEnvironment, RecordingReporter, alexActor, meganActor } from '../support/assignFixtures';

const alex = alexActor;
const megan = meganActor;
const BATCH = 50;

describe('Apple faults in the middle of an assignment (real executor, sandbox, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new AssignEnvironment({ studentCount: 300, sandbox: { limits: { maxClientUserIds: BATCH, maxUsers: BATCH } } });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  it('429 with Retry-After, 500, 503 and dropped connections on users/create, associate and status: the run completes, each student licensed once', async () => {
    // Every student has a Managed Apple Account and none is a VPP user yet: the bot creates them all, and a
    // Required assignment licenses them at once, so faults meet both user creation and association.
    for (const user of env.directoryServer.state.users.values()) user.managedAppleId ??= `${user.id}@appleid.example`;
    const { org, token, books } = await env.seedToken([{ title: 'Persuasion', totalCount: 400 }], undefined, { membersJoined: false });
    const book = books[0];
    assert.ok(book);
    const students = env.members(DEMO_GROUPS.allStudents);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.allStudents)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    const executor = env.executor({ reporter });
    const approvals = env.approvals(executor);
    const { request } = await approvals.request({ preview, requestedBy: alex });

    // Apple misbehaves once the run is under way: the first batch goes through, later ones meet each fault.
    let associates = 0;
    const faults = env.sandbox.faults;
    // Armed from inside the sandbox at the second associate, so the faults land mid-run and not on its first batch.
    const originalTake = faults.take.bind(faults);
    let armed = false;
    faults.take = (method, path) => {
      if (method === 'POST' && path === '/assets/associate' && ++associates === 2 && !armed) {
        armed = true;
        faults
          .failNext('/assets/associate', 1, { kind: 'status', status: 429, errorNumber: 9646, retryAfter: 1 })
          .failNext('/users/create', 1, { kind: 'status', status: 503, errorNumber: 9729, retryAfter: 0 })
          .add({ path: '/assets/associate', times: 1, fault: { kind: 'drop' } })
          .add({ path: '/status', times: 2, fault: { kind: 'status', status: 500 } })
          .add({ path: '/users/create', times: 1, fault: { kind: 'drop' } });
      }
      return originalTake(method, path);
    };
    try {
      await approvals.decide(ASSIGN_TENANT, request.id, megan, 'approved');
      await executor.idle();
    } finally {
      faults.take = originalTake;
    }
    assert.equal(faults.pendingRules, 0, 'every injected fault was met');

    const outcome = reporter.outcomes[0];
    assert.equal(reporter.outcomes.length, 1, 'the requester is told once');
    assert.equal(outcome?.state, 'completed');
    assert.equal(outcome?.totals.processed, students.length);
    assert.equal(outcome?.totals.failed, 0);
    const run = await env.runs.get(token.id, runId(request.id));
    assert.equal(run?.state, 'completed');
    assert.equal(run?.batchesCompleted, Math.ceil(students.length / BATCH));

    // Apple applied each student once: faulted requests were refused before Apple touched them.
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, students.length, 'licenses spent = students');
    const sent = env.log.associatedIds();
    assert.deepEqual([...new Set(sent)].sort(), [...students].sort());
    assert.equal(sent.length, students.length + 2 * BATCH, 'only the two refused associate requests were sent again');
    assert.equal(env.log.createUserCalls, Math.ceil(students.length / BATCH) + 2, 'only the two refused user creations were sent again');
  });
});
