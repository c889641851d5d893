import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { LOCAL_MANIFEST_ID } from '../../bot/ApproverReach';
import { UNREACHABLE_CSV_HEADER } from '../../bot/memberExports';
import type { MemberNoticeRun, NoticeMember } from '../../services/assignments/memberNotices';
import { loadConfig } from '../../services/config/config';
import { DEMO_USERS } from '../../local/directory';
import { startLocalDirectory, type RunningLocalDirectory } from '../../local/directory/LocalDirectoryServer';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, type CapturedActivity } from '../support/FakeConnector';
import { ALEX, PlaygroundChats, chatOf, type ChatUser } from '../support/PlaygroundChats';

const PATTI: ChatUser = { id: '29:patti', name: 'Patti Fernandez', aadObjectId: DEMO_USERS.pattiFernandez };
const LYNNE = { aadObjectId: DEMO_USERS.lynneRobbins, name: 'Lynne Robbins' };
const TENANT = '00000000-0000-0000-0000-0000000000001';

/** A run as the executor names it; only its identity matters to the messenger (no run document: nothing holds the summary). */
function runOf(bookTitle: string): MemberNoticeRun {
  return {
    runId: randomUUID(),
    tokenId: randomUUID(),
    tenantId: TENANT,
    approvalId: randomUUID(),
    requestedBy: { aadObjectId: ALEX.aadObjectId, displayName: ALEX.name },
    bookTitle,
    installIntent: 'required',
    groupNames: ['English Department'],
    adamId: '1234567',
    pricingParam: 'STDQ',
  };
}

const activityText = (a: CapturedActivity): string => String(a.summary ?? a.text ?? '');

/** The CSV's rows as fields (the test's own small RFC 4180 reader). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const body = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && body[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += c;
  }
  return rows;
}

/**
 * Issue #15, "reaching people", over HTTP: the real bot (restify, CloudAdapter, embedded Cosmos, the local
 * directory as Graph) tells members in their personal chats through the FakeConnector, once; installs itself
 * for members who never opened it; and gives the requester every member it could not reach as a CSV.
 */
describe('member notices over HTTP: told once, reached through Graph, the unreachable listed as a CSV', function () {
  this.timeout(120_000);
  const connector = new FakeConnector();
  const { logger, lines } = capturingLogger('info');
  let directory: RunningLocalDirectory;
  let dataDir: string;
  let app: RunningApplication | undefined;
  const chats = new PlaygroundChats(connector, () => app?.url ?? '');

  async function start(): Promise<RunningApplication> {
    await app?.stop();
    app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, GRAPH_BASE_URL: directory.baseUrl, PLAYGROUND_ENABLED: 'false' }), logger);
    return app;
  }

  before(async () => {
    await connector.start();
    directory = await startLocalDirectory({ port: 0, studentCount: 20 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-member-notices-http-'));
    await start();
    // Alex asks for assignments; Patti has chatted with the bot before.
    await chats.say(ALEX, 'help');
    await chats.say(PATTI, 'help');
  });
  after(async () => {
    await app?.stop();
    await directory.close();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const patti: NoticeMember = { clientUserId: PATTI.aadObjectId, displayName: PATTI.name, mail: 'patti@northwind.example' };

  it('a member with a stored chat is told once, however often (and by however many processes) the notice is recorded', async () => {
    const run = runOf('Emma');
    const running = await start();
    const summary = connector.waitForNext((a) => a.conversation?.id === chatOf(ALEX) && activityText(a).startsWith('"Emma"'), 20_000);
    await Promise.all([running.memberNotices.licensed(run, [patti]), running.memberNotices.licensed(run, [patti])]);
    await running.memberNotices.licensed(run, [patti]);
    await running.memberNotices.idle();
    // A restarted bot (same store) is told the same again, as a resumed batch would: nothing more is sent.
    const restarted = await start();
    await restarted.memberNotices.licensed(run, [patti]);
    await restarted.memberNotices.idle();

    const toPatti = connector.activities.filter((a) => a.conversation?.id === chatOf(PATTI) && activityText(a).includes('"Emma"'));
    assert.equal(toPatti.length, 1, 'told once');
    const [message] = toPatti;
    assert.ok(message);
    assert.match(activityText(message), /The book "Emma" is yours/);
    assert.match(cardText(message), /Books\*\* app on an iPhone, iPad or Mac signed in with your Apple Account/);
    assert.match(cardText(message), /under your purchases, on every device signed in with that account/);
    assert.equal(activityText(await summary), '"Emma": 1 member was told in Teams; 0 could not be reached.');
    await restarted.memberNotices.idle();
    assert.equal(connector.activities.filter((a) => a.conversation?.id === chatOf(ALEX) && activityText(a).startsWith('"Emma"')).length, 1, 'one summary');
  });

  it('a member who never opened the bot gets it installed through Graph, a new chat, and their invitation link', async () => {
    const running = app as RunningApplication;
    const run = runOf('Persuasion');
    const before = connector.created.length;
    await running.memberNotices.invited(run, [{ clientUserId: LYNNE.aadObjectId, displayName: LYNNE.name, invitationUrl: 'https://vpp.example/invite/lynne-123' }]);
    await running.memberNotices.idle();

    assert.ok(directory.installedApps.get(LYNNE.aadObjectId)?.has(`catalog-${LOCAL_MANIFEST_ID}`), 'installed for Lynne through Graph');
    const chat = connector.created.slice(before).find((c) => JSON.stringify(c.parameters.members).includes(LYNNE.aadObjectId));
    assert.ok(chat, 'a conversation created with Lynne');
    const message = connector.activities.find((a) => a.conversation?.id === chat.id);
    assert.ok(message, 'the message went to the new chat');
    assert.match(activityText(message), /To get "Persuasion", join your organisation's Apple volume purchasing/);
    const card = JSON.parse(cardText(message)) as { actions?: Array<{ type: string; url?: string }> };
    assert.deepEqual(card.actions?.map((a) => [a.type, a.url]), [['Action.OpenUrl', 'https://vpp.example/invite/lynne-123']]);
    assert.match(cardText(message), /arrives by itself after the next sync with Apple \(at most twice a day\)/);
  });

  it('an Available book: the member is told to type my books, with a button that sends it', async () => {
    const running = app as RunningApplication;
    await running.memberNotices.offered(runOf('Middlemarch'), [patti]);
    await running.memberNotices.idle();
    const message = connector.activities.find((a) => a.conversation?.id === chatOf(PATTI) && activityText(a).includes('"Middlemarch"'));
    assert.ok(message);
    assert.match(cardText(message), /type \*\*my books\*\*/);
    const card = JSON.parse(cardText(message)) as { actions?: Array<{ data?: { msteams?: { type?: string; value?: string } } }> };
    assert.deepEqual(card.actions?.[0]?.data?.msteams, { type: 'imBack', value: 'my books' });
  });

  it('members whose install Teams refuses are listed for the requester, and every one of them is in the CSV download', async () => {
    const running = app as RunningApplication;
    const run = runOf('North and South');
    const users = [...directory.state.users.values()].filter((u) => /^(Diego|Johanna|Lidia|Miriam|Henrietta|Lee|Grady|Joni|Nestor|Pradeep|Allan|Christie) /.test(u.displayName));
    assert.equal(users.length, 12);
    const members = users.map((u, i) => ({ clientUserId: u.id, displayName: u.displayName, mail: u.mail, invitationUrl: `https://vpp.example/invite/${i}?code=a,b` }));
    directory.fail({ status: 403, pathIncludes: 'installedApps', times: members.length });
    const summary = connector.waitForNext((a) => a.conversation?.id === chatOf(ALEX) && activityText(a).startsWith('"North and South"'), 20_000);
    await running.memberNotices.invited(run, members);
    await running.memberNotices.licensed(run, [patti]);
    await running.memberNotices.idle();

    const told = await summary;
    assert.equal(activityText(told), '"North and South": 1 member was told in Teams; 12 could not be reached.');
    assert.match(cardText(told), /Could not be reached \(the first 10 of 12\)/);
    const card = JSON.parse(cardText(told)) as { actions?: Array<{ type: string; title: string; url: string }> };
    const download = card.actions?.find((a) => a.type === 'Action.OpenUrl');
    assert.ok(download, 'a download button');
    assert.equal(download.title, 'Download the full list (CSV)');
    assert.ok(download.url.startsWith(`${running.url}/api/exports/`), download.url);
    const secret = download.url.slice(`${running.url}/api/exports/`.length);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/, '256 random bits');

    const response = await fetch(download.url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(response.headers.get('content-disposition') ?? '', /^attachment; filename="unreachable-members-north-and-south-\d{4}-\d{2}-\d{2}\.csv"$/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const rows = parseCsv(await response.text());
    assert.deepEqual(rows[0], [...UNREACHABLE_CSV_HEADER]);
    assert.equal(rows.length, 13, 'all 12, not the first 10');
    const byName = new Map(rows.slice(1).map((r) => [r[0], r]));
    for (const member of members) {
      const row = byName.get(member.displayName);
      assert.ok(row, member.displayName);
      assert.equal(row[1], member.mail ?? '');
      assert.equal(row[2], member.invitationUrl, 'the link, quoted because of its comma');
      assert.match(row[3] ?? '', /Teams would not let the bot install itself for them/);
    }
    assert.ok(!byName.has(PATTI.name), 'Patti was told');
    assert.equal(connector.activities.filter((a) => activityText(a).includes('North and South') && a.conversation?.id !== chatOf(ALEX) && a.conversation?.id !== chatOf(PATTI)).length, 0, 'nobody unreachable got anything');

    // A link that is not one, or was changed, is a plain 404; the secret never reaches the log.
    const other = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    assert.equal((await fetch(`${running.url}/api/exports/${other}`)).status, 404);
    assert.equal((await fetch(`${running.url}/api/exports/not-a-link/at-all`)).status, 404);
    assert.ok(!lines.some((line) => line.includes(secret)), 'the link is never logged');
  });
});
