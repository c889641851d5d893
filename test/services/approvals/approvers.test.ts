import { strict as assert } from 'node:assert';
import { ApprovalService } from '../../../services/approvals/ApprovalService';
import { ApproverDirectory } from '../../../services/approvals/ApproverDirectory';
import { DEMO_GROUPS, DEMO_USERS } from '../../../local/directory';
import { assignmentId } from '../../../services/store/entities/assignment';
import { ALEX, ASSIGN_TENANT, AssignEnvironment, type AssignTokenFixture } from '../../support/assignFixtures';
import { storeTeamsChat } from '../../support/storedChat';

/** Who approves, and what happens when they cannot be reached (issue #16 points 1, 2, 4). */
describe('approvers (local directory over HTTP, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 100 });
  let fixture: AssignTokenFixture;

  before(async () => {
    await env.start();
    fixture = await env.seedToken([{ title: 'Unreachable', totalCount: 100 }]);
  });
  after(async () => {
    await env.stop();
  });

  it('are the configured list, or else the admin group transitively with the listed admins, re-read after at most 5 minutes', async () => {
    let clock = 0;
    const fromGroup = new ApproverDirectory({ approverUserIds: [], adminGroupId: DEMO_GROUPS.libraryStaff, adminUserIds: [ALEX], groups: env.directory, ttlMs: 60 * 60_000, now: () => clock });
    const ids = await fromGroup.approverIds();
    const volunteers = env.members(DEMO_GROUPS.libraryVolunteers);
    assert.ok(ids.includes(DEMO_USERS.pattiFernandez) && ids.includes(DEMO_USERS.lynneRobbins), 'direct members');
    assert.ok(volunteers.every((v) => ids.includes(v)), 'members of the nested group');
    assert.ok(ids.includes(ALEX), 'listed admins too');
    assert.equal(await fromGroup.isApprover(ASSIGN_TENANT, DEMO_USERS.adeleVance), false);

    // Adele joins the admin group: within 5 minutes the cached list may still say no; after, it says yes.
    env.directoryServer.state.addMembers(DEMO_GROUPS.libraryStaff, [DEMO_USERS.adeleVance]);
    clock += 4 * 60_000;
    assert.equal(await fromGroup.isApprover(ASSIGN_TENANT, DEMO_USERS.adeleVance), false);
    clock += 2 * 60_000;
    assert.equal(await fromGroup.isApprover(ASSIGN_TENANT, DEMO_USERS.adeleVance), true, 'the one-hour setting is capped at 5 minutes');

    const configured = new ApproverDirectory({ approverUserIds: [DEMO_USERS.adeleVance], adminGroupId: DEMO_GROUPS.libraryStaff, groups: env.directory });
    assert.deepEqual(await configured.approverIds(), [DEMO_USERS.adeleVance]);
  });

  it('refuses a request at once, writing nothing, when no approver can be reached', async () => {
    const unreachable = new ApprovalService({
      store: env.store,
      runs: env.runs,
      executor: env.executor(),
      approvers: new ApproverDirectory({ approverUserIds: [ALEX, DEMO_USERS.lynneRobbins] }),
      // Lynne never opened the bot, and the bot may not install itself: nobody can be sent the card.
      reach: { ensureReachable: async (_tenant, ids) => ({ reachable: [], unreachable: [...ids] }) },
    });
    const book = fixture.books[0]!;
    const preview = await env.planner.preview({ token: fixture.token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.libraryStaff)], installIntent: 'required' });
    await assert.rejects(unreachable.request({ preview, requestedBy: { aadObjectId: ALEX, displayName: 'Alex Wilber' } }), /None of the approvers can be reached in Teams \(00000000-0000-0000-0000-0000000000025\).*Nothing was changed/);
    assert.equal(await env.store.assignments.get(fixture.token.id, assignmentId(book.adamId, book.pricingParam, DEMO_GROUPS.libraryStaff)), undefined, 'no assignment written');
    assert.deepEqual((await unreachable.listOpen(ASSIGN_TENANT)), []);
  });

  it('refreshes the card for at most 60 approvers, by the Teams ids their chats left', async () => {
    const many = Array.from({ length: 65 }, (_, i) => `00000000-0000-0000-0000-0000000a${String(i).padStart(4, '0')}`);
    for (const [i, id] of many.entries()) if (i !== 3) await storeTeamsChat(env.store, { tenantId: ASSIGN_TENANT, aadObjectId: id, mri: `29:mri-${i}` });
    const approvals = env.approvals(env.executor(), { approvers: many });
    const mris = await approvals.refreshUserIds(ASSIGN_TENANT);
    assert.equal(mris.length, 60);
    assert.ok(mris.every((m) => m.startsWith('29:mri-')) && !mris.includes('29:mri-3'), 'only MRIs, and only of approvers who have a chat');
  });
});
