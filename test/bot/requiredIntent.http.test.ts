import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { DEMO_GROUPS, DEMO_USERS } from '../../services/directory';
import { startLocalDirectory, type RunningLocalDirectory } from '../../services/directory/local/LocalDirectoryServer';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, type CapturedActivity } from '../support/FakeConnector';
import { PlaygroundChats, click, refOf, type ChatUser } from '../support/PlaygroundChats';

const PATTI: ChatUser = { id: '29:patti', name: 'Patti Fernandez', aadObjectId: DEMO_USERS.pattiFernandez };
const LYNNE: ChatUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: DEMO_USERS.lynneRobbins };

/**
 * Issue #15, Required, as members meet it in Teams: members with a Managed Apple Account get the license at
 * once and a message saying where the book is; the others get their own invitation link in Teams and no
 * license; one of them opens the link (the sandbox's invitation page), a sync runs, and only then is the
 * book theirs, with a message. Real activities over HTTP, the app's own Apple sandbox and Cosmos.
 */
describe('Required over HTTP: licensed now, invited in Teams, licensed once joined', function () {
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
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-required-http-'));
    app = await startApplication(
      loadConfig({
        PORT: '0',
        LOCAL_DATA_DIR: dataDir,
        APPLE_STATUS_POLL_INTERVAL_MS: '20',
        GRAPH_BASE_URL: directory.baseUrl,
        PLAYGROUND_ENABLED: 'false',
        BOT_ADMIN_GROUP_ID: DEMO_GROUPS.libraryStaff,
        GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: 'extensionAttribute1',
      }),
      logger,
    );
  });
  after(async () => {
    await app?.stop();
    await directory.close();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The chat the bot started with a member (it installed itself for them through Graph). */
  const chatWith = (aadObjectId: string): string | undefined => connector.created.find((c) => JSON.stringify(c.parameters.members).includes(aadObjectId))?.id;
  const textOf = (a: CapturedActivity): string => String(a.summary ?? a.text ?? '');
  const inPattisChat = (a: CapturedActivity): boolean => a.conversation?.id === `chat-${PATTI.aadObjectId}`;

  it('licenses Managed Apple Accounts at once, invites the others in Teams, and licenses an invited member only after they joined and a sync ran', async () => {
    await chats.setUpDemoToken({ admin: PATTI, opener: null });
    const department = directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment).filter((id) => directory.state.kindOf(id) === 'user');
    const managed = department.filter((id) => directory.state.users.get(id)?.managedAppleId);
    const invited = department.filter((id) => !managed.includes(id));
    assert.ok(managed.length > 0 && invited.length > 1, 'the department has both kinds of member');

    await chats.say(PATTI, 'assign', (a) => /Which \*\*book\*\*/.test(String(a.text)));
    await chats.say(PATTI, 'emma', (a) => /Which \*\*user group\*\*/.test(String(a.text)));
    let card = await chats.say(PATTI, 'English Department', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await chats.say(PATTI, click(DEMO_GROUPS.englishDepartment, refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await chats.say(PATTI, click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    assert.match(cardText(card), /installing it onto devices automatically needs an MDM such as Microsoft Intune/, 'the intents are explained honestly');
    const preview = await chats.say(PATTI, click('required', refOf(card)), (a) => cardText(a).includes('Request approval'));
    assert.match(cardText(preview), new RegExp(`Licensed now","value":"${managed.length}".*Licensed after they join \\(invited in Teams\\)","value":"${invited.length}"`));
    await chats.say(PATTI, click('request', refOf(preview)), (a) => /^Sent for approval/.test(String(a.text)));
    const lynneChat = chatWith(LYNNE.aadObjectId);
    const approvalCard = await connector.waitFor((a) => a.conversation?.id === lynneChat && cardText(a).includes('"verb":"approve"'));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(approvalCard))?.[1] ?? '';
    const finished = connector.waitForNext((a) => inPattisChat(a) && /^Finished assigning "Emma"/.test(textOf(a)), 60_000);
    await chats.approveAs(LYNNE, approvalId, String(lynneChat));
    assert.match(textOf(await finished), new RegExp(`${managed.length} licensed now, ${invited.length} invited \\(licensed once they join\\)`));

    // Each member hears in their own chat, which the bot started: the book is theirs, or their invitation.
    for (const id of managed) {
      const told = await connector.waitFor((a) => a.conversation?.id === chatWith(id) && /^The book "Emma" is yours\./.test(textOf(a)), 30_000);
      assert.match(cardText(told), /\*\*Books\*\* app.*under your purchases, on every device/);
    }
    const links = new Map<string, string>();
    for (const id of invited) {
      const told = await connector.waitFor((a) => a.conversation?.id === chatWith(id) && /^To get "Emma", join your organisation's Apple volume purchasing program first\./.test(textOf(a)), 30_000);
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
