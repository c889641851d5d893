import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { capturingLogger } from '../support/logCapture';
import { eventually } from '../support/eventually';
import { FakeConnector, cardText, type CapturedActivity } from '../support/FakeConnector';
import { ALEX, MEGAN, PlaygroundChats, click, refOf } from '../support/PlaygroundChats';

describe('assignment over HTTP: request, approval by Universal Action, delivery, status', function () {
  this.timeout(90_000);
  const connector = new FakeConnector();
  const { logger, lines } = capturingLogger('warn');
  let dataDir: string;
  let app: RunningApplication;

  const chats = new PlaygroundChats(connector, () => app.url);
  const alex = (text: string | Record<string, unknown>, until?: (a: CapturedActivity) => boolean) => chats.say(ALEX, text, until);

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-assign-http-'));
    await connector.start();
    app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, APPLE_STATUS_POLL_INTERVAL_MS: '20' }), logger);
  });
  after(async () => {
    if (process.env.DEBUG_ASSIGN) for (const l of lines) console.log(l.slice(0, 1500));
    if (process.env.DEBUG_ASSIGN) for (const a of connector.activities.slice(-3)) console.log(JSON.stringify(a).slice(0, 1500));
    await app?.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs end to end with the real bot, and each person hears what concerns them', async () => {
    await chats.setUpDemoToken();

    await alex('assign', (a) => /Which \*\*book\*\*/.test(String(a.text)));
    await alex('emma', (a) => /Which \*\*user group\*\*/.test(String(a.text)));
    let card = await alex('English Department', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await alex(click('90000000-0000-4000-8000-000000000002', refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await alex(click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    const preview = await alex(click('available', refOf(card)), (a) => cardText(a).includes('Request approval'));
    assert.ok(cardText(preview).includes('cannot be reclaimed'));

    const approverCard = connector.waitForNext((a) => a.conversation?.id === 'megan-chat' && cardText(a).includes('"verb":"approve"'), 20_000);
    await alex(click('request', refOf(preview)), (a) => /^Sent for approval/.test(String(a.text)));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(await approverCard))?.[1];
    assert.ok(approvalId, 'the approver got an actionable card in her chat');

    // A forged click from Alex (the requester) changes nothing.
    const selfApproval = await chats.approveAs(ALEX, approvalId);
    assert.equal(selfApproval.status, 200);
    assert.doesNotMatch(JSON.stringify(await selfApproval.json()), /Approved by/);

    const decided = connector.waitForNext((a) => a.conversation?.id === 'alex-chat' && /approved assigning/.test(String(a.text)), 20_000);
    const finished = connector.waitForNext((a) => a.conversation?.id === 'alex-chat' && /^Finished assigning "Emma"/.test(String(a.summary ?? a.text)), 60_000);
    const approval = await chats.approveAs(MEGAN, approvalId);
    assert.equal(approval.status, 200);
    const invokeBody = (await approval.json()) as { type: string; value: unknown };
    assert.equal(invokeBody.type, 'application/vnd.microsoft.card.adaptive');
    assert.match(JSON.stringify(invokeBody.value), /Approved by Megan Bowen/);
    // The click is answered first; the other copies are updated right after it.
    await eventually(() => connector.updates.some((u) => JSON.stringify(u).includes('Approved by Megan Bowen')));
    assert.ok(
      connector.updates.some((u) => JSON.stringify(u).includes('Approved by Megan Bowen')),
      "the request card in Alex's chat was updated in place",
    );
    assert.ok(!connector.activities.some((a) => /Something went wrong/.test(String(a.text))), 'no turn failed on the way');

    assert.match(String((await decided).text), /^Megan Bowen approved assigning "Emma" for English Department \(Available\)/);
    const result = await finished;
    assert.match(String(result.summary), /as Available: \d+ members were told it is there for them and get it with \*\*my books\*\*, up to \d+ licenses; nothing was spent yet/);
    assert.ok(cardText(result).includes('Told it is available to them'), 'an Available assignment tells members, spending nothing');

    // The requester also hears, in the background, how many members were told: the status card is the one naming the book's groups.
    const status = await alex('status emma', (a) => cardText(a).length > 0 && !/told in Teams/.test(String(a.summary ?? a.text)));
    assert.match(cardText(status), /English Department/);
    assert.match(cardText(status), /Available/);
  });
});
