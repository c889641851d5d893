import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { AssignEnvironment, RecordingReporter } from '../../support/assignFixtures';

/*
 * An address the e-mail rule refuses (an internationalised local part) used to pass the executor's own
 * looser check, reach Apple, come back on the user read and then fail the store's check: the whole run
 * stopped. Now the one rule decides before anything is sent, and only that member goes without an address.
 */
describe('a member whose directory address the e-mail rule refuses', function () {
  this.timeout(30_000);
  const env = new AssignEnvironment({ studentCount: 40 });

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  it('is created at Apple without it and invited, and the run goes on for everyone', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Cien años de soledad', totalCount: 50 }], undefined, { membersJoined: false });
    const book = books[0]!;
    const members = env.members(DEMO_GROUPS.libraryStaff);
    assert.ok(members.length >= 2);
    const jose = env.directoryServer.state.users.get(members[0]!)!;
    jose.mail = 'josé@example.com';
    jose.managedAppleId = undefined;

    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.libraryStaff)], installIntent: 'required' });
    const reporter = new RecordingReporter();
    const { request } = await env.deliver(preview, { reporter });

    const [outcome] = reporter.outcomes;
    assert.equal(outcome?.state, 'completed');
    assert.equal(outcome.totals.processed, members.length);
    assert.equal(outcome.totals.failed, 0);
    assert.ok(outcome.invitedUsers.some((u) => u.clientUserId === jose.id), 'José is invited like anyone without a Managed Apple Account');
    const atApple = [...org.users.values()].find((u) => u.clientUserId === jose.id);
    assert.ok(atApple, 'José exists at Apple');
    assert.equal(atApple.email, undefined, 'the refused address was not sent');
    const [stored] = await env.store.vppUsers.getMany(token.id, [jose.id]);
    assert.ok(stored);
    assert.equal(stored.email, undefined);
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.state, 'completed');
  });
});
