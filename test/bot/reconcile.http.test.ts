import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { DEMO_GROUPS, DEMO_USERS, GraphDirectory } from '../../services/directory';
import { startLocalDirectory, type RunningLocalDirectory } from '../../services/directory/local/LocalDirectoryServer';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, type CapturedActivity } from '../support/FakeConnector';
import { PlaygroundChats, click, refOf, type ChatUser } from '../support/PlaygroundChats';

const PATTI: ChatUser = { id: '29:patti', name: 'Patti Fernandez', aadObjectId: DEMO_USERS.pattiFernandez };
const LYNNE: ChatUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: DEMO_USERS.lynneRobbins };

/**
 * Issue #14 as an admin meets it in Teams: a delivered assignment stands. Two people join the group in
 * Entra; `reconcile emma` answers at once and posts what it found; the approved licenses are used up, so
 * the approver gets a top-up card in their own chat; once approved the two get the book, and
 * `status emma` shows who joined.
 */
describe('reconcile over HTTP: newcomers, the top-up card and status', function () {
  this.timeout(120_000);
  const connector = new FakeConnector();
  const { logger } = capturingLogger('warn');
  let directory: RunningLocalDirectory;
  let dataDir: string;
  let app: RunningApplication | undefined;
  const chats = new PlaygroundChats(connector, () => app?.url ?? '');

  before(async () => {
    await connector.start();
    directory = await startLocalDirectory({ port: 0, studentCount: 200 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-reconcile-http-'));
    app = await startApplication(
      loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, APPLE_STATUS_POLL_INTERVAL_MS: '20', GRAPH_BASE_URL: directory.baseUrl, PLAYGROUND_ENABLED: 'false', BOT_ADMIN_GROUP_ID: DEMO_GROUPS.libraryStaff, GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: 'extensionAttribute1' }),
      logger,
    );
  });
  after(async () => {
    await app?.stop();
    await directory.close();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const inChat = (user: ChatUser) => (a: CapturedActivity) => a.conversation?.id === `chat-${user.aadObjectId}`;


  it('gives the book to people who joined, within what was approved, after a top-up approval', async () => {
    await chats.setUpDemoToken({ admin: PATTI, opener: null });
    await chats.say(PATTI, 'assign', (a) => /Which \*\*book\*\*/.test(String(a.text)));
    await chats.say(PATTI, 'emma', (a) => /Which \*\*user group\*\*/.test(String(a.text)));
    let card = await chats.say(PATTI, 'English Department', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await chats.say(PATTI, click(DEMO_GROUPS.englishDepartment, refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await chats.say(PATTI, click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    const preview = await chats.say(PATTI, click('required', refOf(card)), (a) => cardText(a).includes('Request approval'));
    await chats.say(PATTI, click('request', refOf(preview)), (a) => /^Sent for approval/.test(String(a.text)));
    const lynneChat = connector.created.find((c) => JSON.stringify(c.parameters.members).includes(LYNNE.aadObjectId));
    assert.ok(lynneChat, 'the bot started a chat with Lynne');
    const inLynnesChat = (a: CapturedActivity): boolean => a.conversation?.id === lynneChat.id;
    const lynneCard = await connector.waitFor((a) => inLynnesChat(a) && cardText(a).includes('"verb":"approve"'));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(lynneCard))?.[1] ?? '';
    const delivered = connector.waitForNext((a) => inChat(PATTI)(a) && /^Finished assigning "Emma"/.test(String(a.summary ?? a.text)), 60_000);
    await chats.approveAs(LYNNE, approvalId, String(lynneCard.conversation?.id));
    await delivered;
    // Right after the delivery the bot looks at the group once, so later joiners are told apart: status says when.
    for (let i = 0; i < 50; i++) {
      const status = await chats.say(PATTI, 'status emma', (a) => cardText(a).includes('Assignment status: Emma'));
      if (cardText(status).includes('Checked for newcomers')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // The department's members without a Managed Apple Account were invited, not licensed: their licenses are
    // still in the budget. As many people with Managed Apple Accounts as that, and two more, join the
    // department, as an Entra admin adds them (Graph's members/$ref).
    const graph = new GraphDirectory({ baseUrl: directory.baseUrl });
    const inside = directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment).filter((id) => directory.state.kindOf(id) === 'user');
    const room = inside.filter((id) => !directory.state.users.get(id)?.managedAppleId).length;
    const newcomers = directory.state
      .transitiveMembers(DEMO_GROUPS.allStudents)
      .filter((id) => directory.state.kindOf(id) === 'user' && !inside.includes(id) && directory.state.users.get(id)?.managedAppleId)
      .slice(0, room + 2);
    for (const id of newcomers) await graph.addGroupMember(DEMO_GROUPS.englishDepartment, id);

    const topUpCard = connector.waitForNext((a) => inLynnesChat(a) && cardText(a).includes('more licenses for'), 30_000);
    const answer = await chats.say(PATTI, 'reconcile emma', (a) => /^Checking the groups of "Emma"/.test(String(a.text)));
    assert.match(String(answer.text), /I will post what I find here\./, 'answered at once');
    const found = await connector.waitFor((a) => inChat(PATTI)(a) && /^Checked 1 assignment/.test(String(a.text)), 30_000);
    assert.match(String(found.text), new RegExp(`"Emma" → English Department: ${room} get the book now; 2 wait for more licenses\\.`));
    assert.match(String(found.text), /I asked the approvers for 2 more\./);
    // The approver gets the top-up in their own chat, with why, in the requester's name.
    const topUp = await topUpCard;
    assert.match(cardText(topUp), /Approval: 2 more licenses for \\"Emma\\"/);
    assert.match(cardText(topUp), /2 more people joined 'English Department' since the book was assigned/);
    const topUpId = /"approvalId":"([^"]+)"/.exec(cardText(topUp))?.[1] ?? '';
    assert.notEqual(topUpId, approvalId);

    // The first pass (those the budget still covered) reports on its own; the top-up's pass reports the two.
    const passDone = connector.waitFor((a) => inChat(PATTI)(a) && /^People who joined English Department since "Emma" was assigned: 2 assigned/.test(String(a.summary ?? a.text)), 60_000);
    const approved = await chats.approveAs(LYNNE, topUpId, String(topUp.conversation?.id));
    assert.match(JSON.stringify(await approved.json()), /Approved by Lynne Robbins/);
    const pass = await passDone;
    assert.match(String(pass.summary ?? pass.text), /: 2 assigned, 0 pending invitation, 0 failed/);

    const status = await chats.say(PATTI, 'status emma', (a) => cardText(a).includes('Assignment status: Emma'));
    assert.match(cardText(status), new RegExp(`Joined since the assignment","value":"${room + 2}"`));
    assert.match(cardText(status), new RegExp(`Licenses approved \\/ spent \\/ left","value":"${inside.length + 2} \\/ ${inside.length + 2} \\/ 0"`));
  });
});
