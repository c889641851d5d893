import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../local/directory';
import { cardText, type CapturedActivity } from '../support/FakeConnector';
import type { ChatUser } from '../support/PlaygroundChats';
import { LibraryStaffApp, LYNNE, PATTI } from '../support/libraryStaffApp';

/**
 * Issue #14 as an admin meets it in Teams: a delivered assignment stands. Two people join the group in
 * Entra; `reconcile emma` answers at once and posts what it found; the approved licenses are used up, so
 * the approver gets a top-up card in their own chat; once approved the two get the book, and
 * `status emma` shows who joined.
 */
describe('reconcile over HTTP: newcomers, the top-up card and status', function () {
  this.timeout(120_000);
  const bot = new LibraryStaffApp();
  const { connector, chats } = bot;
  const inChat = (user: ChatUser) => bot.inChatOf(user);

  before(() => bot.start());
  after(() => bot.stop());

  it('gives the book to people who joined, within what was approved, after a top-up approval', async () => {
    await chats.setUpDemoToken({ admin: PATTI, opener: null });
    await bot.assignEmmaToEnglish('required');
    const lynneChat = bot.chatWith(LYNNE.aadObjectId);
    const inLynnesChat = (a: CapturedActivity): boolean => a.conversation?.id === lynneChat;
    // Right after the delivery the bot looks at the group once, so later joiners are told apart: status says when.
    for (let i = 0; i < 50; i++) {
      const status = await chats.say(PATTI, 'status emma', (a) => cardText(a).includes('Assignment status: Emma'));
      if (cardText(status).includes('Checked for newcomers')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // The department's members without a Managed Apple Account were invited, not licensed: their licenses are
    // still in the budget. As many people with Managed Apple Accounts as that, and two more, join the
    // department, as an Entra admin adds them.
    const inside = bot.directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment).filter((id) => bot.directory.state.kindOf(id) === 'user');
    const room = inside.filter((id) => !bot.directory.state.users.get(id)?.managedAppleId).length;
    const newcomers = bot.directory.state
      .transitiveMembers(DEMO_GROUPS.allStudents)
      .filter((id) => bot.directory.state.kindOf(id) === 'user' && !inside.includes(id) && bot.directory.state.users.get(id)?.managedAppleId)
      .slice(0, room + 2);
    for (const id of newcomers) bot.directory.state.addMembers(DEMO_GROUPS.englishDepartment, [id]);

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
