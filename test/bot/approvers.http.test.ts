import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { LOCAL_MANIFEST_ID } from '../../bot/ApproverReach';
import { loadConfig } from '../../services/config/config';
import { DEMO_GROUPS, DEMO_USERS } from '../../local/directory';
import { startLocalDirectory, type RunningLocalDirectory } from '../../local/directory/LocalDirectoryServer';
import { capturingLogger } from '../support/logCapture';
import { eventually } from '../support/eventually';
import { FakeConnector, cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { PlaygroundChats, click, conversationOf, refOf, type ChatUser } from '../support/PlaygroundChats';

const PATTI: ChatUser = { id: '29:patti', name: 'Patti Fernandez', aadObjectId: DEMO_USERS.pattiFernandez };
const LYNNE: ChatUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: DEMO_USERS.lynneRobbins };

/**
 * Issue #16, as the documented Azure setup runs it: only BOT_ADMIN_GROUP_ID is set. Approvers are the
 * admin group's members (through Graph), and one who never opened the bot still gets the card.
 */
describe('approvers over HTTP: the admin group approves, and every approver is reached', function () {
  this.timeout(120_000);
  const connector = new FakeConnector();
  const { logger } = capturingLogger('warn');
  let directory: RunningLocalDirectory;
  let dataDir: string;
  let app: RunningApplication | undefined;
  const chats = new PlaygroundChats(connector, () => app?.url ?? '');

  async function start(env: Record<string, string>): Promise<void> {
    await app?.stop();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-approvers-http-'));
    app = await startApplication(
      loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, APPLE_STATUS_POLL_INTERVAL_MS: '20', GRAPH_BASE_URL: directory.baseUrl, PLAYGROUND_ENABLED: 'false', ...env }),
      logger,
    );
  }

  before(async () => {
    await connector.start();
    directory = await startLocalDirectory({ port: 0, studentCount: 200 });
  });
  after(async () => {
    await app?.stop();
    await directory.close();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Patti picks Emma for the English Department as Available and confirms; resolves with the chat's answer. */
  async function requestEmma(user: ChatUser, until: (a: CapturedActivity) => boolean): Promise<CapturedActivity> {
    await chats.say(user, 'assign', (a) => /Which \*\*book\*\*/.test(String(a.text)));
    await chats.say(user, 'emma', (a) => /Which \*\*user group\*\*/.test(String(a.text)));
    let card = await chats.say(user, 'English Department', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await chats.say(user, click(DEMO_GROUPS.englishDepartment, refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await chats.say(user, click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    const preview = await chats.say(user, click('available', refOf(card)), (a) => cardText(a).includes('Request approval'));
    return chats.say(user, click('request', refOf(preview)), until);
  }

  it('approvers come from the admin group alone; one who never chatted gets the card in a chat the bot starts, and approves', async () => {
    await start({ BOT_ADMIN_GROUP_ID: DEMO_GROUPS.libraryStaff });
    await chats.setUpDemoToken({ admin: PATTI, opener: null });
    assert.equal(connector.created.length, 0);

    const sent = await requestEmma(PATTI, (a) => /^Sent for approval/.test(String(a.text)));
    assert.match(String(sent.text), /^Sent for approval to (?=.*Lynne Robbins)/, 'names who got it');
    assert.ok(!String(sent.text).includes('Patti Fernandez'), 'never the requester');
    // Lynne is in the admin group and never wrote to the bot: it installed itself for her and started a chat.
    const lynneChat = connector.created.find((c) => JSON.stringify(c.parameters.members).includes(LYNNE.aadObjectId));
    assert.ok(lynneChat, 'the connector saw a conversation created with Lynne');
    assert.ok(directory.installedApps.get(LYNNE.aadObjectId)?.has(`catalog-${LOCAL_MANIFEST_ID}`), 'installed for Lynne through Graph');
    assert.ok(!connector.created.some((c) => JSON.stringify(c.parameters.members).includes(PATTI.aadObjectId)), 'the requester gets no approver card');
    assert.equal((lynneChat.parameters as { tenantId?: string }).tenantId, '00000000-0000-0000-0000-0000000000001', 'in the tenant');
    // Chats started so far are the approvers'; once the book is assigned, its members get chats of their own.
    const approverChats = connector.created.length;
    const lynneCard = await connector.waitFor((a) => a.conversation?.id === lynneChat.id && cardText(a).includes('"verb":"approve"'));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(lynneCard))?.[1];
    assert.ok(approvalId);
    const refreshFor = (JSON.parse(cardText(lynneCard)) as { refresh?: { userIds?: string[] } }).refresh?.userIds ?? [];
    assert.ok(refreshFor.includes(`29:${LYNNE.aadObjectId}`), `refreshed for Lynne by her Teams id: ${refreshFor.join(', ')}`);
    assert.ok(refreshFor.every((id) => id.startsWith('29:')), 'only Teams ids, never Entra ids');

    // Teams' automatic refresh (trigger on the activity's value) only ever shows the card, even with a decision verb.
    const automatic = await chats.post({
      ...teamsMessage(connector.url, ''),
      type: 'invoke',
      name: 'adaptiveCard/action',
      from: LYNNE,
      conversation: conversationOf(lynneChat.id),
      value: { action: { type: 'Action.Execute', verb: 'approve', data: { approvalId } }, trigger: 'automatic' },
    });
    assert.match(JSON.stringify(await automatic.json()), /Waiting for approval/);

    const done = connector.waitForNext((a) => a.conversation?.id === `chat-${PATTI.aadObjectId}` && /^Finished assigning "Emma"/.test(String(a.summary ?? a.text)), 60_000);
    const approval = await chats.approveAs(LYNNE, approvalId, lynneChat.id);
    assert.equal(approval.status, 200);
    assert.match(JSON.stringify(await approval.json()), /Approved by Lynne Robbins/);
    await done;
    // Every copy (the requester's and each approver's) now shows the decision, without buttons.
    const decidedCopies = (): number => connector.updates.filter((u) => JSON.stringify(u).includes('Approved by Lynne Robbins')).length;
    await eventually(() => decidedCopies() >= approverChats + 1);
    // A copy recorded while the decision went out may be replaced twice (the same content): at least every copy once.
    assert.ok(decidedCopies() >= approverChats + 1, `${approverChats} approvers' copies and the requester's (${decidedCopies()} updates)`);
  });

  it('refuses at once, naming what to do, when the requester is the only approver', async () => {
    await start({ BOT_ADMIN_GROUP_ID: DEMO_GROUPS.vppBooksAdmins });
    const alex: ChatUser = { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: DEMO_USERS.alexWilber };
    await chats.setUpDemoToken({ admin: alex, opener: null });
    const answer = await requestEmma(alex, (a) => /Nobody but you can approve/.test(String(a.text)));
    assert.match(String(answer.text), /\(the approvers: Alex Wilber\)/, 'names the approvers');
    assert.match(String(answer.text), /APPROVER_USER_IDS, or members of the bot admin group\. Nothing was changed\./);
    assert.ok(!connector.activities.some((a) => /^Sent for approval/.test(String(a.text)) && a.conversation?.id === 'alex-chat'), 'no "Sent for approval"');
    await chats.say(alex, 'approvals', (a) => /Nothing is waiting for a decision/.test(String(a.text)));
  });

  it('an approver who is not an admin may see and decide requests with approvals, and nothing else', async () => {
    await start({ BOT_ADMIN_GROUP_ID: DEMO_GROUPS.vppBooksAdmins, APPROVER_USER_IDS: LYNNE.aadObjectId });
    const alex: ChatUser = { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: DEMO_USERS.alexWilber };
    await chats.setUpDemoToken({ admin: alex, opener: null });
    await requestEmma(alex, (a) => /^Sent for approval/.test(String(a.text)));
    await chats.say(LYNNE, 'approvals', (a) => /1 request waiting for a decision/.test(String(a.text)));
    const card = await connector.waitFor((a) => a.conversation?.id === `chat-${LYNNE.aadObjectId}` && cardText(a).includes('"verb":"approve"'));
    assert.ok(!cardText(card).includes('"verb":"resend"'), 'Resend is for admins');
    await chats.say(LYNNE, 'tokens', (a) => /only VPP Books admins/.test(String(a.text)));
  });

  it('refuses the next step of an open flow once its admin was removed (after the restart that removed them), changing nothing', async () => {
    const megan: ChatUser = { id: 'user-id-1', name: 'Megan Bowen', aadObjectId: DEMO_USERS.meganBowen };
    const alex: ChatUser = { id: 'user-id-0', name: 'Alex Wilber', aadObjectId: DEMO_USERS.alexWilber };
    await start({ BOT_ADMIN_USER_IDS: `${alex.aadObjectId},${megan.aadObjectId}` });
    await chats.setUpDemoToken({ admin: megan, opener: null });
    const confirm = await chats.say(alex, 'remove Northwind', (a) => cardText(a).includes('"ref"'));
    const keepDir = dataDir;
    await app?.stop();
    app = await startApplication(
      loadConfig({ PORT: '0', LOCAL_DATA_DIR: keepDir, GRAPH_BASE_URL: directory.baseUrl, PLAYGROUND_ENABLED: 'false', BOT_ADMIN_USER_IDS: megan.aadObjectId }),
      logger,
    );
    const refused = await chats.say(alex, click('remove', refOf(confirm)));
    assert.match(String(refused.text), /only VPP Books admins/);
    await chats.say(megan, 'tokens', (a) => cardText(a).includes('VPP tokens (1)'));
  });
});
