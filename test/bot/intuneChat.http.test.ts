import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO_GROUPS } from '../../local/directory';
import { cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { DEMO_TOKEN_FILE, click, conversationOf, refOf } from '../support/PlaygroundChats';
import { LibraryStaffApp, LYNNE, PATTI } from '../support/libraryStaffApp';

/**
 * Issue #20, Intune mode over HTTP: the token's lifecycle in Intune's words. A token another MDM took goes back
 * to Intune through **renew**, after the same explicit Take control an upload asks for (Graph's PATCH with
 * claimTokenManagementFromExternalMdm); assigning explains the intents as Intune delivers them, and a refused
 * top-up says the group comes off the book in Intune; **remove** says that it deletes the token in Intune with
 * its books and their assignments, and asks for the token's name before it does; an upload of a token another
 * MDM holds says that Intune takes control.
 */
const textOf = (a: CapturedActivity): string => String(a.summary ?? a.text ?? '');
const NAME = 'Northwind Academy – Main Campus';
const OTHER_MDM_FILE = readFileSync(path.resolve(__dirname, '../../local/appleSandbox/tokens/demo-other-mdm.vpptoken'), 'utf8');

interface GraphToken {
  id: string;
  state: string;
}

describe("Intune mode over HTTP: take control on renewal and upload, assign and top-ups, and remove, in Intune's words", function () {
  this.timeout(120_000);
  const bot = new LibraryStaffApp({ backend: 'intune' });
  const { chats } = bot;
  const says = (pattern: RegExp) => (a: CapturedActivity) => pattern.test(textOf(a));

  async function intuneTokens(): Promise<GraphToken[]> {
    const response = await fetch(`${bot.app?.intuneGraphBaseUrl ?? ''}/beta/deviceAppManagement/vppTokens`);
    assert.equal(response.status, 200);
    return ((await response.json()) as { value: GraphToken[] }).value;
  }

  before(async () => {
    await bot.start();
    await chats.setUpDemoToken({ admin: PATTI, opener: null });
  });
  after(() => bot.stop());

  it('/readyz asks Microsoft Graph, which spends the licenses in Intune mode, under the same `vpp` key as Apple mode', async () => {
    const ready = await fetch(`${bot.app?.url ?? ''}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', store: 'up', vpp: 'up' });
  });

  it('another MDM takes the token: the sync says to renew it, and renew gives it back to Intune only on Take control', async () => {
    // Another MDM claims the location at Apple, as any holder of the token file can.
    const claimed = await fetch(`${bot.app?.appleBaseUrl ?? ''}/client/config`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_TOKEN_FILE.trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mdmInfo: { id: 'contoso-mdm', name: 'Contoso MDM', metadata: 'test' } }),
    });
    assert.equal(claimed.status, 200);

    const synced = await chats.say(PATTI, 'sync', (a) => /^Sync of .+ failed/.test(textOf(a)), 30_000);
    const advice = cardText(synced);
    assert.match(advice, /another MDM now manages the token/);
    assert.match(advice, new RegExp(`type \\*\\*renew ${NAME}\\*\\*: I show what taking control means`));
    assert.doesNotMatch(advice, /\*\*remove/, 'no advice to delete the token in Intune');
    assert.equal((await intuneTokens())[0]?.state, 'assignedToExternalMDM');

    await chats.say(PATTI, 'renew', says(/^Send me the new \*\*\.vpptoken\*\* file for/));
    const notice = chats.say(PATTI, DEMO_TOKEN_FILE, says(/^This token is in use by \*\*Contoso MDM\*\*/));
    assert.match(textOf(await notice), /lets Intune take control from Contoso MDM.+confirm \*\*Let Intune take control\*\*/);
    const card = await bot.connector.waitFor((a) => cardText(a).includes('Renew the VPP token'));
    const text = cardText(card);
    assert.match(text, /This token is managed by Contoso MDM/);
    assert.match(text, /If Intune takes control, Contoso MDM stops managing it/);
    assert.match(text, /"title":"Let Intune take control"/);
    assert.doesNotMatch(text, /VPP Books takes control/);
    assert.equal((await intuneTokens())[0]?.state, 'assignedToExternalMDM', 'nothing sent to Intune before the confirmation');

    const renewed = await chats.say(PATTI, click('takeover', refOf(card)), says(/^Renewed /));
    assert.match(textOf(renewed), new RegExp(`^Renewed \\*\\*${NAME}\\*\\*, and Intune took control of it from \\*\\*Contoso MDM\\*\\*, which no longer manages it\\.`));
    assert.equal((await intuneTokens())[0]?.state, 'valid', "Intune claimed the token back (PATCH with claimTokenManagementFromExternalMdm)");
  });

  it("assigning explains Intune's intents, and a refused top-up tells the requester the group comes off the book in Intune", async () => {
    const { connector } = bot;
    let hint = '';
    let preview = '';
    await bot.assignEmmaToEnglish('required', { onIntentCard: (card) => (hint = cardText(card)), onPreview: (card) => (preview = cardText(card)) });
    assert.match(hint, /Required: Intune licenses every member of the groups and installs the book on their managed iPads and iPhones by itself\. Available: Intune offers the book in Company Portal and licenses each member who installs it/);
    assert.doesNotMatch(hint, /invitation in Teams|my books|needs an MDM/);
    assert.match(preview, /Licensed by Intune and installed on their managed devices/);
    assert.match(preview, /once Intune assigns this book to a user/);
    assert.doesNotMatch(preview, /invited in Teams|licensed when they ask/);

    // Three people join the English Department: beyond the approved licenses, Lynne is asked for a top-up.
    const state = bot.directory.state;
    const inEnglish = new Set(state.transitiveMembers(DEMO_GROUPS.englishDepartment));
    state.addMembers(DEMO_GROUPS.englishDepartment, [...state.users.keys()].filter((id) => !inEnglish.has(id)).slice(0, 3));
    const lynneChat = bot.chatWith(LYNNE.aadObjectId);
    const topUpCard = connector.waitForNext((a) => a.conversation?.id === lynneChat && cardText(a).includes('"verb":"reject"'), 60_000);
    await chats.say(PATTI, 'reconcile emma', (a) => /Emma/.test(textOf(a) + cardText(a)), 60_000);
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(await topUpCard))?.[1] ?? '';
    const told = connector.waitForNext((a) => bot.inChatOf(PATTI)(a) && /rejected/.test(textOf(a)), 60_000);
    const rejected = await chats.post({
      ...teamsMessage(connector.url, ''),
      type: 'invoke',
      name: 'adaptiveCard/action',
      from: LYNNE,
      conversation: conversationOf(String(lynneChat)),
      value: { action: { type: 'Action.Execute', verb: 'reject', data: { approvalId, comment: 'no' } }, trigger: 'manual' },
    });
    assert.equal(rejected.status, 200);
    const text = textOf(await told);
    assert.match(text, /rejected 3 more licenses of "Emma" for 'English Department': "no" I am removing 'English Department' from "Emma" in Intune, so Intune licenses nobody else who joins; licenses already spent stay with their users\./);
    assert.doesNotMatch(text, /The people waiting get no license/);
  });

  it('remove says what Intune deletes and wants the token name typed before it deletes anything', async () => {
    const card = await chats.say(PATTI, 'remove', (a) => cardText(a).includes('from Intune?'));
    const text = cardText(card);
    assert.match(text, new RegExp(`Delete ${NAME} from Intune\\?`));
    assert.match(text, /deletes the token in Intune, not only here, and Intune then deletes its \d+ books and every assignment of them/);
    assert.match(text, /Required books stop installing/);
    assert.match(text, /"title":"Delete from Intune"/);
    assert.doesNotMatch(text, /from VPP Books|upload the token again later/);

    await chats.say(PATTI, 'yes', says(/^Type \*\*delete from intune\*\* to go on/));
    await chats.say(PATTI, click('remove', refOf(card)), says(/type the token's name/));
    await chats.say(PATTI, 'Northwind', says(/^That is not the token's name, so nothing was deleted\./));
    assert.equal((await intuneTokens()).length, 1, 'still in Intune');

    const done = await chats.say(PATTI, 'northwind academy - main campus', says(/^Deleted /));
    assert.match(textOf(done), new RegExp(`^Deleted \\*\\*${NAME}\\*\\* from Intune, and Intune deletes its \\d+ books and their assignments with it\\.`));
    assert.deepEqual(await intuneTokens(), []);
  });

  it('an upload of a token another MDM holds says Intune takes control, and does so only on the button', async () => {
    await chats.say(PATTI, 'upload token', says(/^Send me the/));
    const notice = chats.say(PATTI, OTHER_MDM_FILE, says(/^This token is in use by/));
    assert.match(textOf(await notice), /^This token is in use by \*\*Contoso MDM\*\*\. Apple lets only one MDM manage a token: saving it here lets Intune take control from Contoso MDM.+confirm \*\*Let Intune take control\*\* on the last step\.$/);
    await chats.say(PATTI, 'admin@fabrikam.example', (a) => cardText(a).includes('Apple Business Manager'));
    const card = await chats.say(PATTI, 'business', (a) => cardText(a).includes('Confirm the VPP token'));
    assert.match(cardText(card), /If Intune takes control, Contoso MDM stops managing it/);
    assert.match(cardText(card), /"title":"Let Intune take control"/);
    await chats.say(PATTI, 'yes', says(/^Type \*\*take control\*\* to let Intune take the token from Contoso MDM, or \*\*cancel\*\*\./));
    assert.deepEqual(await intuneTokens(), [], 'nothing in Intune before the confirmation');
    const saved = await chats.say(PATTI, 'take control', says(/^Saved /));
    assert.match(textOf(saved), /Intune took control of it from \*\*Contoso MDM\*\*, which no longer manages it\./);
    assert.deepEqual((await intuneTokens()).map((t) => t.state), ['valid']);
  });
});
