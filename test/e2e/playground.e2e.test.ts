import { strict as assert } from 'node:assert';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { BotProcess } from '../support/BotProcess';
import { DEMO_TOKEN, SCREENSHOTS, VIEWPORT, chooseGroup, freshScreenshots, say, shootCard, startPlayground, type RunningPlayground } from './playgroundPage';

describe('end to end: the Agents Playground in Chromium', function () {
  this.timeout(180_000);
  let running: RunningPlayground | undefined;
  let bot: BotProcess;
  let browser: Browser;
  let page: Page;
  let approverUrl: string;
  let memberUrl: string;
  let megan: Page | undefined;

  before(async function () {
    this.timeout(16 * 60_000); // a first run may install Chromium from Debian's packages
    freshScreenshots('');
    running = await startPlayground();
    ({ bot, browser, page, approverUrl, memberUrl } = running);
  });

  after(async () => {
    await running?.stop();
  });

  it('shows the welcome card when the Playground installs the bot', async () => {
    await page.getByText('Welcome to VPP Books').waitFor({ timeout: 30_000 });
  });

  it('answers "help" with the command card', async () => {
    await say(page, 'help');
    await page.getByText('VPP Books: commands').waitFor({ timeout: 30_000 });
    for (const command of ['upload token', 'tokens', 'approvals']) {
      assert.ok(await page.getByText(command, { exact: true }).first().isVisible(), `card lists ${command}`);
    }
    await shootCard(page, '1-help', 'VPP Books: commands');
  });

  it('runs an Action.Submit button on the card', async () => {
    await page.getByRole('button', { name: 'List commands' }).first().click();
    const cards = page.getByText('VPP Books: commands');
    const deadline = Date.now() + 30_000;
    while ((await cards.count()) < 2) {
      assert.ok(Date.now() < deadline, 'a second help card arrives after the click');
      await page.waitForTimeout(200);
    }
  });

  it('shows Markdown typed into an argument as written, in a message and in a card, with no stray backslashes', async () => {
    const typed = '**Everyone** [click](https://evil.example) Year 7 - Group A';
    // No token yet: `status` answers that no book matches, quoting what was typed; `books` puts it in the card's heading.
    await say(page, `status ${typed}`);
    const message = page.locator('p', { hasText: 'No book matches' }).last();
    await message.waitFor({ timeout: 30_000 });
    assert.ok((await message.innerText()).includes(`"${typed}"`), await message.innerText());
    assert.equal(await message.locator('strong', { hasText: 'Everyone' }).count(), 0, 'not bold');
    assert.equal(await message.locator('a', { hasText: 'click' }).count(), 0, 'not a link named "click"');
    await say(page, `books ${typed}`);
    const heading = page.locator('.ac-textBlock', { hasText: 'Books matching' }).last();
    await heading.waitFor({ timeout: 30_000 });
    assert.equal(await heading.innerText(), `Books matching "${typed}"`);
  });

  it('uploads the demo token through the cards and lists it', async () => {
    await say(page, 'upload token');
    await page.getByText('Send me the', { exact: false }).last().waitFor({ timeout: 30_000 });
    // Pasted, as an admin pastes a token file's contents; typed key by key it costs seconds of re-rendering.
    await say(page, DEMO_TOKEN, { paste: true });
    await page.getByText('Which Apple Account', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, 'vpp-admin@northwind.example');
    await page.getByRole('button', { name: 'Education' }).last().click();
    await page.getByText('Confirm the VPP token').last().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Save token' }).last().click();
    await page.getByText('Saved', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, 'tokens');
    await page.getByText('VPP tokens (1)').waitFor({ timeout: 30_000 });
    // The expiry gauge: days left of the year a token is valid.
    await shootCard(page, '2-tokens', 'VPP tokens (1)', [/days left/], /Expiry: [\d,]+ (of [\d,]+ )?days left/, /^[\d,]+ \([\d.]+%\)$/);
  });

  it("reaches Megan's Playground with Alex's approval request, though she never wrote to the bot", async () => {
    await say(page, 'sync');
    await page.getByText('Main Campus finished', { exact: false }).last().waitFor({ timeout: 60_000 });
    await shootCard(page, '3-sync-result', 'Main Campus finished', [], /Licenses: [\d,]+ of [\d,]+ used/);
    await say(page, 'books');
    await shootCard(page, '4-books', 'Showing 1–', ['Emma'], /[\d,]+ of [\d,]+ used/, /^[\d,]+ \([\d.]+%\)$/);
    await say(page, 'assign');
    await page.getByText('Which book', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, 'emma');
    await chooseGroup(page, 'English Department');
    await say(page, 'continue');
    await page.getByRole('button', { name: 'Available' }).last().waitFor({ timeout: 30_000 });
    await say(page, 'available');
    await page.getByRole('button', { name: 'Request approval' }).last().waitFor({ timeout: 30_000 });
    await shootCard(page, '5-assign-preview', 'Book licenses cannot be reclaimed', ['Request approval']);
    // The Playground answers UserNotFound for a user whose window is not open (Teams itself delivers
    // regardless), and the outbox gives up after its retries: her window is open, but she has never
    // written to the bot, so the bot must start the conversation itself.
    megan = await browser.newPage({ viewport: VIEWPORT });
    await megan.goto(approverUrl);
    await say(page, 'request');
    await page.getByText('Sent for approval', { exact: false }).last().waitFor({ timeout: 30_000 });
    await megan.getByText('Approval: assign "Emma"', { exact: false }).first().waitFor({ timeout: 30_000 });
    assert.ok(await megan.getByRole('button', { name: 'Approve' }).first().isVisible(), 'Megan can approve it');
    await shootCard(megan, '6-approval', 'Approval: assign "Emma"', ['Approve', 'Reject']);
  });

  it('Adele, a member, is told Emma is available once Megan approves, types "my books" and gets it with Get', async () => {
    assert.ok(megan, "Megan's window from the previous step");
    // Her window is open before the approval, for the same reason as Megan's: the Playground refuses a
    // proactive send to a closed window, where Teams would deliver it.
    const adele = await browser.newPage({ viewport: VIEWPORT });
    await adele.goto(memberUrl);
    const memberHelp = adele.getByText('Your organisation makes ebooks available', { exact: false });
    await memberHelp.first().waitFor({ timeout: 30_000 }); // her install card: the Playground has installed the bot
    await megan.getByRole('button', { name: 'Approve' }).first().click();
    await megan.getByText('Approved by Megan Bowen', { exact: false }).first().waitFor({ timeout: 30_000 });
    // The delivery tells her in her own chat (nothing is spent up front for an Available book).
    await adele.getByText('"Emma" is available to you', { exact: false }).first().waitFor({ timeout: 30_000 });
    await say(adele, 'help');
    await memberHelp.nth(1).waitFor({ timeout: 30_000 });
    assert.equal(await adele.getByText('VPP Books: commands').count(), 0, 'the member help, not the admin commands');
    await say(adele, 'my books');
    const get = adele.getByRole('button', { name: 'Get' }).last();
    await get.waitFor({ timeout: 30_000 });
    await get.click();
    await adele.getByText('"Emma" is yours', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(adele, 'my books');
    await adele.getByText('Yours: open the Books app to read it.', { exact: false }).last().waitFor({ timeout: 30_000 });
    await shootCard(adele, '9-my-books', 'Yours: open the Books app to read it.');
  });

  it("shows Alex the tokens' health and Emma's assignment, each with its chart's numbers", async () => {
    await say(page, 'status');
    await shootCard(page, '7-status', 'Token health (1)', [], /[\d,]+ of [\d,]+ used/);
    await say(page, 'status emma');
    await shootCard(page, '8-book-status', 'Assignment status: Emma', ['English Department'], /[\d,]+ of [\d,]+ used/);
  });

  afterEach(async function () {
    // A failed step leaves a picture of what Alex saw, for a person to look at.
    if (this.currentTest?.state === 'failed') {
      await page?.screenshot({ path: path.join(SCREENSHOTS, 'failed.png'), fullPage: true });
      // What the bot logged (warnings and errors) explains most failures of the later steps.
      console.log(`bot output:\n${bot?.stdout.slice(-4000) ?? ''}\n${bot?.stderr.slice(-2000) ?? ''}`);
    }
  });
});
