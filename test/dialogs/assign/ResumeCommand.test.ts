import { strict as assert } from 'node:assert';
import { ActivityTypes, TestAdapter, type Activity } from 'botbuilder';
import type { VppBooksBot } from '../../../bot/VppBooksBot';
import { assignResultCard } from '../../../cards/assignCards';
import { AccessGuard } from '../../../dialogs/AccessGuard';
import { MainDialog } from '../../../dialogs/MainDialog';
import { assignFlows } from '../../../dialogs/assign/assignFlows';
import { BookSearch } from '../../../services/assignments/bookSearch';
import { runId } from '../../../services/store/repositories/AssignmentRunRepository';
import { AdminPolicy } from '../../../services/auth/AdminPolicy';
import { DEMO_GROUPS } from '../../../local/directory';
import { ALEX, ASSIGN_TENANT, AssignEnvironment, MEGAN, RecordingReporter, unsentApprovalMessages } from '../../support/assignFixtures';
import { silentLogger } from '../../../services/logging/logger';
import { dialogBot } from '../../support/dialogBot';

const EVE = '00000000-0000-0000-0000-00000000e0e0';
const textOf = (a: Partial<Activity>): string => String(a.text ?? '');

/** The paused result card's Resume now button and the `resume` command, through the real dialog stack. */
describe('resume (test adapter, sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(60_000);
  const env = new AssignEnvironment({ studentCount: 200, appleRetryDeadlineMs: 300 });
  const reporter = new RecordingReporter();
  let bot: VppBooksBot;

  before(async () => {
    await env.start();
  });
  after(async () => {
    await env.stop();
  });

  function chat(user: string, name: string, options: { tenantId?: string; type?: 'personal' | 'groupChat' } = {}): TestAdapter {
    const type = options.type ?? 'personal';
    return new TestAdapter((context) => bot.run(context), {
      channelId: 'msteams',
      from: { id: `29:${user}`, name, aadObjectId: user },
      conversation: { id: `conv-${user}-${type}`, isGroup: type !== 'personal', conversationType: type, tenantId: options.tenantId ?? ASSIGN_TENANT, name: 'chat' },
    } as Partial<ConstructorParameters<typeof TestAdapter>[1]> as never);
  }

  it('resumes the paused run its card names, for admins of the tenant in a personal chat only, and audits it', async () => {
    const { org, token, books } = await env.seedToken([{ title: 'Emma', totalCount: 5_000 }]);
    const book = books[0]!;
    const executor = env.executor({ reporter });
    const approvals = env.approvals(executor);
    const policy = new AdminPolicy({ tenantId: ASSIGN_TENANT, adminUserIds: [ALEX, MEGAN] });
    const isAdmin = async (tenantId: string, aadObjectId: string): Promise<boolean> => (await policy.authorize({ tenantId, aadObjectId })).allowed;
    const flows = assignFlows({ books: new BookSearch(env.store), directory: env.directory, planner: env.planner, approvals, approverNotice: unsentApprovalMessages, executor, isAdmin });
    const isApprover = (tenantId: string, aadObjectId: string): Promise<boolean> => approvals.approvers.isApprover(tenantId, aadObjectId);
    bot = dialogBot(new MainDialog(flows, new AccessGuard(policy, env.store.audit, silentLogger(), isApprover)));

    const formB = env.members(DEMO_GROUPS.year9FormB);
    const preview = await env.planner.preview({ token, book, groups: [await env.directory.getGroup(DEMO_GROUPS.year9FormB)], installIntent: 'required' });
    env.sandbox.faults.add({ path: '/assets/associate', times: Infinity, fault: { kind: 'status', status: 429, errorNumber: 9646 } });
    const { request } = await approvals.request({ preview, requestedBy: { aadObjectId: ALEX, displayName: 'Alex Wilber' } });
    await approvals.decide(ASSIGN_TENANT, request.id, { aadObjectId: MEGAN, displayName: 'Megan Bowen' }, 'approved');
    await executor.idle();
    const paused = reporter.outcomes[0]!;
    assert.equal(paused.state, 'interrupted');
    const button = /"data":(\{"command":"resume"[^}]*\}\})/.exec(JSON.stringify(assignResultCard(paused, 'apple')))?.[1];
    assert.ok(button, 'the paused card has a Resume now button');
    const click = { type: ActivityTypes.Message, value: JSON.parse(button) as unknown };

    await chat(EVE, 'Eve').send(click).assertReply((r) => assert.match(textOf(r), /only VPP Books admins/));
    await chat(ALEX, 'Alex Wilber', { tenantId: 'another-tenant' }).send(click).assertReply((r) => assert.match(textOf(r), /another tenant/));
    await chat(ALEX, 'Alex Wilber', { type: 'groupChat' }).send(click).assertReply((r) => assert.match(textOf(r), /group chat I only answer read-only/));
    assert.equal((await env.runs.get(token.id, runId(request.id)))?.state, 'interrupted', 'none of those resumed it');

    env.sandbox.faults.clear();
    await chat(MEGAN, 'Megan Bowen').send(click).assertReply((r) => assert.equal(textOf(r), 'Resuming the assignment of "Emma". I will tell Alex Wilber when it is done.'));
    await executor.idle();
    assert.equal(reporter.outcomes[1]?.state, 'completed');
    assert.equal(env.sandbox.state.findBook(org, book.adamId, book.pricingParam)?.assignedCount, formB.length);
    await chat(MEGAN, 'Megan Bowen').send(click).assertReply((r) => assert.match(textOf(r), /is not paused \(it is completed\); nothing to resume/));
    await chat(MEGAN, 'Megan Bowen').send('resume').assertReply((r) => assert.equal(textOf(r), 'No assignment is paused; nothing to resume.'));

    const audit = await env.store.audit.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.action = @action', [{ name: '@action', value: 'assignment.resume' }]);
    assert.deepEqual(
      audit.map((a) => a.actor),
      [{ aadObjectId: MEGAN, displayName: 'Megan Bowen' }],
    );
  });
});
