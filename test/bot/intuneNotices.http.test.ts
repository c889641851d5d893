import { strict as assert } from 'node:assert';
import { startAppleSandbox, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import type { SandboxOrganisation } from '../../local/appleSandbox/SandboxState';
import { cardText, type CapturedActivity } from '../support/FakeConnector';
import { LibraryStaffApp, PATTI } from '../support/libraryStaffApp';

/**
 * Issue #20, point 4: in Intune mode the admins get the same notices as in Apple mode, from what Intune says of
 * its tokens. One bot over HTTP in Intune mode (the local Intune, Graph-shaped), its Apple the sandbox this test
 * holds, its sync and expiry check every second. Each token is added in Intune directly (the bot's mirror finds
 * it), and Apple's side is as it is in life: a token revoked after Intune took it, a location claimed by another
 * MDM, one token uploaded twice, one about to expire, a book with most of its licenses spent. Intune finds out at
 * the sync the bot's schedule asks of it, and the notices reach Patti, an admin.
 */

const EVERY_SECOND = '* * * * * *';
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * LibraryStaffApp with Apple at `sandbox` and the schedules every second: what its own start() does, plus those
 * four settings (an `env` option on LibraryStaffApp would make this class unnecessary).
 */
/** The app in Intune mode with Apple at the test's own sandbox, syncing and checking expiry every second. */
function scheduledIntuneApp(sandbox: RunningAppleSandbox): LibraryStaffApp {
  return new LibraryStaffApp({
    backend: 'intune',
    env: { APPLE_VPP_BASE_URL: sandbox.baseUrl, APPLE_METADATA_URL: sandbox.metadataUrl, SYNC_CRON: EVERY_SECOND, EXPIRY_CHECK_CRON: EVERY_SECOND },
  });
}

interface GraphToken {
  id: string;
  state: string;
  tokenActionResults?: Array<{ actionName: string; actionState: string }>;
}

/** An organisation at Apple with one book, and a token for it that expires in `expiresInDays`. */
function library(sandbox: RunningAppleSandbox, name: string, book: { adamId: string; title: string; totalCount: number }, expiresInDays = 365): { org: SandboxOrganisation; token: string } {
  const org = sandbox.state.addOrganisation({ orgName: name, locationName: name, books: [{ ...book, author: 'Jane Austen' }] });
  return { org, token: sandbox.state.mintToken(org, { expiresAt: new Date(Date.now() + expiresInDays * DAY_MS) }) };
}

/** A notice's text: proactive messages carry it as the summary of their card. */
const textOf = (a: CapturedActivity): string => String(a.summary ?? a.text ?? '');

describe('Intune mode over HTTP: the notices admins get from what Intune says of its tokens', function () {
  this.timeout(30_000);
  let sandbox: RunningAppleSandbox;
  let bot: LibraryStaffApp;
  let intune = '';
  /** Intune's tokens, as Intune answered their upload. */
  let tokens: Record<'failing' | 'taken' | 'low', GraphToken>;

  /** Someone adds a token in Intune itself (beta, as the admin center does); the bot's mirror finds it. */
  async function addInIntune(token: string, displayName: string): Promise<GraphToken> {
    const response = await fetch(`${intune}/beta/deviceAppManagement/vppTokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ '@odata.type': '#microsoft.graph.vppToken', token, appleId: 'vpp@library.example', vppTokenAccountType: 'education', displayName }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    return (await response.json()) as GraphToken;
  }

  async function graphGet<T>(route: string): Promise<T> {
    const response = await fetch(`${intune}${route}`);
    assert.equal(response.status, 200, route);
    return (await response.json()) as T;
  }

  /** The next notice in Patti's chat whose text matches. */
  const noticeToPatti = (pattern: RegExp): Promise<CapturedActivity> => bot.connector.waitFor((a) => bot.inChatOf(PATTI)(a) && pattern.test(textOf(a)), 10_000);

  before(async () => {
    sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    bot = scheduledIntuneApp(sandbox);
    await bot.start();
    intune = bot.app?.intuneGraphBaseUrl ?? '';
    assert.ok(intune, 'the local Intune runs in Intune mode');
    // Patti opens her chat, so notices can reach her.
    await bot.chats.say(PATTI, 'help');

    const failing = library(sandbox, 'Failing Library', { adamId: '1500000101', title: 'Persuasion', totalCount: 50 });
    const taken = library(sandbox, 'Taken Library', { adamId: '1500000201', title: 'Mansfield Park', totalCount: 50 });
    const twin = library(sandbox, 'Twin Library', { adamId: '1500000301', title: 'Northanger Abbey', totalCount: 50 });
    const expiring = library(sandbox, 'Expiring Library', { adamId: '1500000401', title: 'Lady Susan', totalCount: 50 }, 5.5);
    const low = library(sandbox, 'Low Library', { adamId: '1500000501', title: 'Sanditon', totalCount: 10 });
    // Eight of Sanditon's ten licenses are spent already (by the organisation's earlier MDM): the first sync finds it low.
    for (let i = 1; i <= 8; i++) {
      sandbox.state.putUser(low.org, { clientUserId: `earlier-mdm-user-${i}`, status: 'Associated' });
      assert.equal(sandbox.state.assign(low.org, '1500000501', 'STDQ', `earlier-mdm-user-${i}`), undefined);
    }
    const [failingInIntune, takenInIntune, lowInIntune] = await Promise.all([
      addInIntune(failing.token, 'Failing Library'),
      addInIntune(taken.token, 'Taken Library'),
      addInIntune(low.token, 'Low Library'),
      addInIntune(twin.token, 'Twin Library'),
      addInIntune(expiring.token, 'Expiring Library'),
    ]);
    tokens = { failing: failingInIntune, taken: takenInIntune, low: lowInIntune };
    // A second token for Twin Library's location, uploaded to Intune again.
    const twinCopy = await addInIntune(sandbox.state.mintToken(twin.org), 'Twin Library (copy)');
    assert.equal(twinCopy.state, 'duplicateLocationId');

    // Apple revokes one token, and another MDM claims another one's location: Intune finds out at its next sync.
    sandbox.state.revokeToken(failing.token);
    sandbox.state.claim(taken.org, { id: 'contoso-mdm', name: 'Contoso MDM', metadata: 'contoso' });
  });

  after(async () => {
    await bot?.stop();
    await sandbox?.close();
  });

  it("a sync that fails in Intune: the sync-failed notice names Intune's reason and what to do", async () => {
    const notice = await noticeToPatti(/"Failing Library"/);
    assert.equal(
      textOf(notice),
      'The sync of "Failing Library" through Intune failed. Intune could not sync "Failing Library" with Apple: Intune reports the token as invalid (revoked or replaced at Apple). ' +
        'Download the newest token from Apple and renew it: type **renew Failing Library** here, or upload the file to the token in the Intune admin center (Tenant administration › Connectors and tokens › Apple VPP tokens).',
    );
    const card = cardText(notice);
    assert.match(card, /⚠️ VPP sync failed/);
    assert.match(card, /intune_sync_failed/);
    assert.match(card, /"command":"renew"/, 'a revoked token is renewed');
    const inIntune = await graphGet<GraphToken>(`/beta/deviceAppManagement/vppTokens/${tokens.failing.id}`);
    assert.deepEqual(
      inIntune.tokenActionResults?.map((r) => [r.actionName, r.actionState]),
      [['syncLicenses', 'failed']],
      "Intune's own record of the failed sync",
    );
  });

  it('the token taken by another MDM in Intune (assignedToExternalMDM): the taken-over notice, in Intune\'s words', async () => {
    const notice = await noticeToPatti(/"Taken Library"/);
    assert.equal(textOf(notice), 'Intune reports that another MDM now manages the VPP token "Taken Library", so Intune can no longer license its books, and I stopped syncing it.');
    const card = cardText(notice);
    assert.match(card, /⚠️ Token taken over by another MDM/);
    assert.match(card, /give it back to Intune: download its newest token .+ and type \*\*renew Taken Library\*\*/);
    assert.doesNotMatch(card, /Apple says/);
    assert.equal((await graphGet<GraphToken>(`/beta/deviceAppManagement/vppTokens/${tokens.taken.id}`)).state, 'assignedToExternalMDM');
  });

  it('a second token for one Apple location (duplicateLocationId): the duplicate-location notice for the copy only', async () => {
    const notice = await noticeToPatti(/"Twin Library \(copy\)"/);
    assert.equal(textOf(notice), 'Intune reports that the VPP token "Twin Library (copy)" is for an Apple location ("Twin Library") another of its tokens already covers, so it is not synced.');
    assert.match(cardText(notice), /⚠️ Two tokens for one Apple location/);
    assert.match(cardText(notice), /assign the location's books from that one\. Removing \\"Twin Library \(copy\)\\" \(type \*\*remove Twin Library \(copy\)\*\*\) also deletes it in Intune/);
  });

  it('a token Intune says expires within 7 days: the expiry notice, renewed in Intune or here', async () => {
    const notice = await noticeToPatti(/"Expiring Library" expires/);
    assert.match(textOf(notice), /^The VPP token "Expiring Library" expires in 5 days \(\d{1,2} \w{3} \d{4}\)\. After that Intune can no longer sync it with Apple or license its books to anyone new\.$/);
    const card = cardText(notice);
    assert.match(card, /⚠️ VPP token expires in 5 days/);
    assert.match(card, /renew it in Intune \(upload the file to the token in the Intune admin center/);
  });

  it('books running low after a scheduled sync: the low-licenses notice, with what Intune cannot do once none are left', async () => {
    const notice = await noticeToPatti(/running low on licenses under "Low Library"/);
    assert.equal(textOf(notice), 'A book is running low on licenses under "Low Library": Sanditon: 2 of 10 left.');
    const card = cardText(notice);
    assert.match(card, /⚠️ Books running low on licenses/);
    assert.match(card, /seen by a scheduled sync\. Once none are left, Intune cannot license new members of the groups a book is assigned to\. Buy more licenses in Apple Business Manager/);
    const books = await graphGet<{ value: Array<{ displayName: string; totalLicenseCount: number; usedLicenseCount: number }> }>(
      `/v1.0/deviceAppManagement/managedEBooks?$filter=${encodeURIComponent(`vppTokenId eq ${tokens.low.id}`)}`,
    );
    assert.deepEqual(
      books.value.map((b) => [b.displayName, b.usedLicenseCount, b.totalLicenseCount]),
      [['Sanditon', 8, 10]],
      'the counts Intune reports',
    );
  });

  it('tells each of these once, and a takeover or a duplicate location not also as a failed sync', () => {
    const toPatti = bot.connector.activities.filter((a) => bot.inChatOf(PATTI)(a));
    const count = (pattern: RegExp) => toPatti.filter((a) => pattern.test(textOf(a))).length;
    assert.equal(count(/^The sync of "Failing Library"/), 1);
    assert.equal(count(/"Taken Library"/), 1);
    assert.equal(count(/"Twin Library \(copy\)"/), 1);
    assert.equal(count(/^The VPP token "Expiring Library" expires/), 1);
    assert.equal(count(/running low on licenses under "Low Library"/), 1);
    assert.equal(count(/^The sync of "(Taken Library|Twin Library)/), 0);
    assert.equal(count(/VPP token "Twin Library"|sync of "Twin Library"/), 0, 'the token that was there first keeps its location: no notice about it');
  });
});
