import { strict as assert } from 'node:assert';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { DEMO_TOKEN, INTUNE_PREFIX, SCREENSHOTS, VIEWPORT, chooseGroup, freshScreenshots, say as sayKeyByKey, shootCard, startPlayground, type RunningPlayground } from './playgroundPage';

/**
 * Issue #20: `npm start` in Intune mode (VPP_BACKEND=intune), as a developer runs it, with its local Graph-shaped
 * Intune: Alex uploads the demo token to Intune, syncs, assigns Emma as Required to the English Department,
 * Megan approves in her own Playground, and after Intune's next sync `status emma` shows the devices Intune
 * reports. The pictures go next to the Apple spec's, named `intune-…`.
 */
const shot = (name: string): string => `${INTUNE_PREFIX}${name}`;
const SYNC_FINISHED = 'Sync of Northwind Academy – Main Campus finished';
/** Each message goes in at once, as if pasted: the Apple spec types key by key, which costs seconds here. */
const say = (page: Page, text: string): Promise<void> => sayKeyByKey(page, text, { paste: true });

describe('end to end: the Agents Playground in Chromium, Intune mode', function () {
  this.timeout(60_000);
  let running: RunningPlayground | undefined;
  let page: Page;
  /** Megan's window, loading while Alex works: the Playground installs the bot for her in the meantime. */
  let megan: Page;
  let meganOpened: Promise<unknown>;

  before(async function () {
    this.timeout(16 * 60_000); // a first run may install Chromium from Debian's packages
    freshScreenshots(INTUNE_PREFIX);
    running = await startPlayground({ env: { VPP_BACKEND: 'intune' }, member: false });
    page = running.page;
    megan = await running.browser.newPage({ viewport: VIEWPORT });
    // Awaited where her window is needed; a failed load fails that step, not this hook.
    meganOpened = megan.goto(running.approverUrl).catch((err: unknown) => err);
  });

  after(async () => {
    await running?.stop();
  });

  it('says in "help" that Microsoft Intune holds the tokens, in bold', async () => {
    await page.getByText('Welcome to VPP Books').waitFor({ timeout: 30_000 });
    await say(page, 'help');
    const help = page.locator('.ac-adaptiveCard', { hasText: 'VPP Books: commands' }).last();
    await help.waitFor({ timeout: 30_000 });
    const mode = help.locator('p', { hasText: 'holds the VPP tokens' });
    assert.match(await mode.innerText(), /^Mode: Microsoft Intune holds the VPP tokens\./, 'written without Markdown marks');
    assert.equal(await mode.locator('strong', { hasText: /^Microsoft Intune$/ }).count(), 1, '"Microsoft Intune" in bold');
    await shootCard(page, shot('1-help'), 'VPP Books: commands', ['Have Intune sync licenses with Apple']);
  });

  it('uploads the demo token to Intune through the cards and syncs it', async () => {
    await say(page, 'upload token');
    await page.getByText('Send me the', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, DEMO_TOKEN);
    await page.getByText('Which Apple Account', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, 'vpp-admin@northwind.example');
    await page.getByRole('button', { name: 'Business' }).last().click();
    await page.getByRole('button', { name: 'Save token' }).last().waitFor({ timeout: 30_000 });
    await shootCard(page, shot('2-token-preview'), 'Confirm the VPP token', ['Business (Apple Business Manager)']);
    await page.getByRole('button', { name: 'Save token' }).last().click();
    await page.getByText('Saved', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, 'sync');
    await shootCard(page, shot('3-sync-result'), SYNC_FINISHED, [], /Licenses: [\d,]+ of [\d,]+ used/);
  });

  it('assigns Emma as Required to the English Department in Intune once Megan approves in her Playground', async () => {
    await say(page, 'assign');
    await page.getByText('Which book', { exact: false }).last().waitFor({ timeout: 30_000 });
    await say(page, 'emma');
    await chooseGroup(page, 'English Department', { paste: true });
    await say(page, 'continue');
    await page.getByRole('button', { name: 'Required' }).last().waitFor({ timeout: 30_000 });
    await say(page, 'required');
    await page.getByRole('button', { name: 'Request approval' }).last().waitFor({ timeout: 30_000 });
    await shootCard(page, shot('4-assign-preview'), 'Request approval', ['Request approval']);
    // Her window shows the bot's welcome before the request: the Playground refuses a proactive send to a
    // window it has not installed the bot in, where Teams would deliver it.
    const opened = await meganOpened;
    assert.ok(!(opened instanceof Error), `Megan's Playground opens: ${String(opened)}`);
    await megan.getByText('Welcome to VPP Books').first().waitFor({ timeout: 30_000 });
    await say(page, 'request');
    await page.getByText('Sent for approval', { exact: false }).last().waitFor({ timeout: 30_000 });
    await megan.getByText('Approval: assign "Emma"', { exact: false }).first().waitFor({ timeout: 30_000 });
    await shootCard(megan, shot('5-approval'), 'Approval: assign "Emma"', ['Approve', 'Reject']);
    await megan.getByRole('button', { name: 'Approve' }).first().click();
    await megan.getByText('Approved by Megan Bowen', { exact: false }).first().waitFor({ timeout: 30_000 });
    // The result card: its summary (Teams' feed, not shown in the Playground) says Intune installs it.
    await shootCard(page, shot('6-assign-result'), 'Assigned "Emma" (Required)', ['English Department']);
  });

  it("shows in `status emma`, after Intune's next sync, the devices Intune reports", async () => {
    // Devices check in after every Intune sync.
    await say(page, 'sync');
    await page.locator('.ac-adaptiveCard', { hasText: SYNC_FINISHED }).nth(1).waitFor({ timeout: 30_000 });
    await say(page, 'status emma');
    await shootCard(page, shot('7-book-status'), 'Assignment status: Emma', ['In Intune', 'Assignments in Intune', 'English Department: Required']);
    // The devices donut, drawn (a second chart, with its legend) or as its numbers in words; some device
    // either way ("0 of 0" would mean Intune put the book on none).
    const status = page.locator('.ac-adaptiveCard', { hasText: 'Assignment status: Emma' }).last();
    const charts = await status.locator('svg, canvas').filter({ visible: true }).count();
    const legend = await status.getByText(/^(Installed|Failed|Not installed)$/).filter({ visible: true }).count();
    const inWords = await status.getByText(/Devices: [\d,]+ of [1-9][\d,]* installed/).filter({ visible: true }).count();
    assert.ok((charts >= 2 && legend > 0) || inWords > 0, `the card shows the devices, drawn (${charts} charts, ${legend} device legend entries) or as "Devices: N of M installed"`);
  });

  afterEach(async function () {
    // A failed step leaves a picture of what Alex saw, for a person to look at.
    if (this.currentTest?.state === 'failed') {
      await page?.screenshot({ path: path.join(SCREENSHOTS, shot('failed.png')), fullPage: true });
      // What the bot logged (warnings and errors) explains most failures of the later steps.
      console.log(`bot output:\n${running?.bot.stdout.slice(-4000) ?? ''}\n${running?.bot.stderr.slice(-2000) ?? ''}`);
    }
  });
});
