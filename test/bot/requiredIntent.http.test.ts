import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../local/directory';
import { cardText, type CapturedActivity } from '../support/FakeConnector';
import { LibraryStaffApp, PATTI } from '../support/libraryStaffApp';

/**
 * Issue #15, Required, as members meet it in Teams: members with a Managed Apple Account get the license at
 * once and a message saying where the book is; the others get their own invitation link in Teams and no
 * license; one of them opens the link (the sandbox's invitation page), a sync runs, and only then is the
 * book theirs, with a message. Real activities over HTTP, the app's own Apple sandbox and Cosmos.
 */
describe('Required over HTTP: licensed now, invited in Teams, licensed once joined', function () {
  this.timeout(120_000);
  const bot = new LibraryStaffApp();
  const { connector, chats } = bot;
  const chatWith = (aadObjectId: string): string | undefined => bot.chatWith(aadObjectId);
  const textOf = (a: CapturedActivity): string => String(a.summary ?? a.text ?? '');
  let directory: LibraryStaffApp['directory'];

  before(async () => {
    await bot.start();
    directory = bot.directory;
  });
  after(() => bot.stop());

  it('licenses Managed Apple Accounts at once, invites the others in Teams, and licenses an invited member only after they joined and a sync ran', async () => {
    await chats.setUpDemoToken({ admin: PATTI, opener: null });
    const department = directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment).filter((id) => directory.state.kindOf(id) === 'user');
    const managed = department.filter((id) => directory.state.users.get(id)?.managedAppleId);
    const invited = department.filter((id) => !managed.includes(id));
    assert.ok(managed.length > 0 && invited.length > 1, 'the department has both kinds of member');

    const finished = await bot.assignEmmaToEnglish('required', {
      onIntentCard: (card) => assert.match(cardText(card), /installing it onto devices automatically needs an MDM such as Microsoft Intune/, 'the intents are explained honestly'),
      onPreview: (preview) =>
        assert.match(cardText(preview), new RegExp(`Licensed now","value":"${managed.length}".*Licensed after they join \\(invited in Teams\\)","value":"${invited.length}"`)),
    });
    assert.match(textOf(finished), new RegExp(`${managed.length} licensed now, ${invited.length} invited \\(licensed once they join\\)`));

    // Each member hears in their own chat, which the bot started: the book is theirs, or their invitation.
    for (const id of managed) {
      const told = await connector.waitFor((a) => a.conversation?.id === chatWith(id) && /^The book "Emma" is yours\./.test(textOf(a)), 30_000);
      assert.match(cardText(told), /\*\*Books\*\* app.*under your purchases, on every device/);
    }
    const links = new Map<string, string>();
    for (const id of invited) {
      const told = await connector.waitFor((a) => a.conversation?.id === chatWith(id) && /^To get "Emma", join your organisation's Apple volume purchasing programme first\./.test(textOf(a)), 30_000);
      const link = /"url":"([^"]+inviteCode[^"]+)"/.exec(cardText(told))?.[1];
      assert.ok(link, 'their own invitation link on the card');
      links.set(id, link);
    }
    assert.equal(new Set(links.values()).size, invited.length, 'each their own link');

    // One of them joins (opens their link); nothing happens until a sync has seen it.
    const joiner = invited[0]!;
    assert.equal((await fetch(links.get(joiner)!)).status, 200);
    const licensedLater = connector.waitForNext((a) => a.conversation?.id === chatWith(joiner) && /^The book "Emma" is yours\./.test(textOf(a)), 60_000);
    await chats.say(PATTI, 'sync', (a) => /^Sync started/.test(String(a.text)) || /is syncing/.test(String(a.text)));
    await licensedLater;
    const status = await chats.say(PATTI, 'status emma', (a) => cardText(a).includes('Assignment status: Emma'));
    assert.match(cardText(status), new RegExp(`Licensed","value":"${managed.length + 1}".*Invited, not joined yet \\(no license yet\\)","value":"${invited.length - 1}".*Of the licensed: after joining","value":"1"`));
  });
});
