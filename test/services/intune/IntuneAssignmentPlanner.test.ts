import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../../local/directory';
import type { AssignmentPlanner } from '../../../services/assignments/AssignmentPlanner';
import type { StandingAssignmentReconciler } from '../../../services/assignments/StandingAssignmentReconciler';
import type { AssignmentPreviewer, StandingAssignments } from '../../../services/backend/ports';
import { UserFacingError } from '../../../services/errors';
import { ALL_USERS_FILTERED, EXCLUDED_GROUP, IntuneAssignEnvironment, alexActor, groupAssignment } from './IntuneAssignmentFixtures';

// The Apple adapters fit the same ports (checked here: an `implements` clause on them would make a cycle).
const appleFitsPorts: [AssignmentPlanner extends AssignmentPreviewer ? true : false, StandingAssignmentReconciler extends StandingAssignments ? true : false] = [true, true];

/**
 * The assign flow's preview in Intune mode: group sizes from the directory, who holds the book already through
 * its assignments in Intune (transitively), Intune's free licenses less what other requests hold back, and a
 * clear refusal for a group the book is assigned to in Intune already. Real parts: embedded Cosmos and the
 * local directory over HTTP; Intune is a Graph-like double.
 */
describe('IntuneAssignmentPlanner (local directory, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new IntuneAssignEnvironment();
  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  it('fits the ports like the Apple adapters', () => {
    assert.deepEqual(appleFitsPorts, [true, true]);
  });

  it('counts members of groups already assigned in Intune (transitively) as holding the book, and shows what is free after other requests', async () => {
    // Form 9A has the book already; Year 9 Students nests the three forms.
    const { token, book } = await env.seedBook({ total: 500, used: 120, assignments: [groupAssignment(DEMO_GROUPS.year9FormA, 'available')] });
    const year9 = env.members(DEMO_GROUPS.year9Students);
    const formA = env.members(DEMO_GROUPS.year9FormA);
    const preview = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9Students)], installIntent: 'required' });
    assert.equal(preview.distinctUsers, year9.length);
    assert.equal(preview.alreadyAssigned, formA.length);
    assert.equal(preview.licensesNeeded, year9.length - formA.length);
    assert.equal(preview.needInvitation, 0, 'Intune invites users itself');
    assert.deepEqual([preview.licensesAvailable, preview.licensesReserved, preview.enough], [380, 0, true]);

    // A pending request holds its licenses back from the next preview.
    const s = env.services();
    await s.approvals.request({ preview, requestedBy: alexActor });
    const next = await env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    assert.equal(next.licensesReserved, preview.licensesNeeded);
    assert.equal(next.licensesAvailable, 380 - preview.licensesNeeded);
  });

  it('counts each user once across groups, and everyone as holding the book when it goes to all licensed users', async () => {
    const { token, book } = await env.seedBook({ assignments: [ALL_USERS_FILTERED] });
    const preview = await env.planner.preview({
      token,
      book,
      groups: [await env.group(DEMO_GROUPS.year9Students), await env.group(DEMO_GROUPS.year9FormB)],
      installIntent: 'available',
    });
    assert.equal(preview.distinctUsers, env.members(DEMO_GROUPS.year9Students).length);
    assert.deepEqual(
      preview.groups.map((g) => g.userCount),
      [env.members(DEMO_GROUPS.year9Students).length, 0],
      'the second group adds nobody new',
    );
    assert.equal(preview.licensesNeeded, 0);
  });

  it('refuses a group the book is assigned to in Intune already: nothing to approve for the same intent, Intune for the other', async () => {
    const { token, book } = await env.seedBook({ assignments: [groupAssignment(DEMO_GROUPS.year9FormA, 'required'), groupAssignment(DEMO_GROUPS.year9FormB, 'available')] });
    await assert.rejects(
      env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' }),
      (err: unknown) => err instanceof UserFacingError && err.code === 'intune_already_assigned' && /assigned to "Year 9 Form 9A" as Required in Intune already, so there is nothing to approve/.test(err.message),
    );
    await assert.rejects(
      env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormC), await env.group(DEMO_GROUPS.year9FormB)], installIntent: 'required' }),
      (err: unknown) =>
        err instanceof UserFacingError && err.code === 'intune_intent_conflict' && /"Year 9 Form 9B" as Available with another intent in Intune\. Intune keeps one intent per group and book/.test(err.message) && /Nothing was changed/.test(err.message),
    );
  });

  it('refuses a group the book excludes in Intune: Intune would give nobody in it the book', async () => {
    const { token, book } = await env.seedBook({ assignments: [groupAssignment(DEMO_GROUPS.year9Students, 'required'), EXCLUDED_GROUP] });
    await assert.rejects(
      env.planner.preview({ token, book, groups: [await env.group(DEMO_GROUPS.year9FormA), await env.group(DEMO_GROUPS.bookClub)], installIntent: 'required' }),
      (err: unknown) =>
        err instanceof UserFacingError &&
        err.code === 'intune_group_excluded' &&
        /leaves out "Book Club" in Intune \(an exclusion\), so Intune would give nobody in it the book\. Remove the exclusion in the Intune admin center .* or type \*\*assign\*\* to start again without it\. Nothing was changed\./.test(err.message),
    );
  });

  it('refuses a book that was never read from Intune', async () => {
    const { token, book } = await env.seedBook();
    await assert.rejects(
      env.planner.preview({ token, book: { ...book, intuneBookId: undefined }, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' }),
      (err: unknown) => err instanceof UserFacingError && err.code === 'intune_book_unknown',
    );
  });
});
