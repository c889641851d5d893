import { strict as assert } from 'node:assert';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BotProcess } from '../support/BotProcess';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium';
import { freePort } from '../support/ports';

/** What both Playground e2e specs share: `npm start` with its three Playgrounds, Chromium, typing, and the card pictures. */

export const DEMO_TOKEN = readFileSync(path.resolve(__dirname, '../../local/appleSandbox/tokens/demo-valid.vpptoken'), 'utf8').trim();

/**
 * Where the pictures of the main cards go, for a person to look at after a run (the README names it).
 * Each spec writes its own afresh on every run: the Intune spec's start with `intune-`.
 */
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS_DIR ?? path.resolve(__dirname, '../../test-results/e2e-screenshots');
export const INTUNE_PREFIX = 'intune-';

/** Removes the pictures of an earlier run of one spec (those named with `prefix`; '' is the Apple spec's, the unprefixed ones), leaving the other spec's. */
export function freshScreenshots(prefix: string): void {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const file of readdirSync(SCREENSHOTS)) {
    const ours = prefix ? file.startsWith(prefix) : !file.startsWith(INTUNE_PREFIX);
    if (ours) rmSync(path.join(SCREENSHOTS, file), { recursive: true, force: true });
  }
}

/**
 * Photographs the newest card holding `marker` and checks that it rendered: on screen, of a card's size,
 * showing every `expected` text. With `chart`, the card must show a chart, drawn (an SVG or canvas, or for a
 * bar chart drawn in HTML its value labels, `drawnLabel`: the Playground draws Teams' Adaptive Card charts)
 * or as its fallback, the same numbers in words (`chart`).
 */
export async function shootCard(page: Page, name: string, marker: string, expected: ReadonlyArray<string | RegExp> = [], chart?: RegExp, drawnLabel?: RegExp): Promise<void> {
  const card = page.locator('.ac-adaptiveCard', { hasText: marker }).last();
  await card.waitFor({ timeout: 30_000 });
  await card.scrollIntoViewIfNeeded();
  // Taken first, so a card that fails a check below is there to look at.
  await card.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  const box = await card.boundingBox();
  assert.ok(box && box.width >= 200 && box.height >= 60, `the ${name} card is drawn (${JSON.stringify(box)})`);
  for (const text of expected) {
    assert.ok(await card.getByText(text).first().isVisible(), `the ${name} card shows ${String(text)}`);
  }
  if (chart) {
    const drawn = card.locator('svg, canvas').filter({ visible: true });
    const labels = drawnLabel ? await card.getByText(drawnLabel).filter({ visible: true }).count() : 0;
    const fallback = card.getByText(chart).filter({ visible: true });
    assert.ok((await drawn.count()) > 0 || labels > 0 || (await fallback.count()) > 0, `the ${name} card shows its chart, drawn or as ${String(chart)}`);
  }
}

/** Tall enough that the longest card (a book's status, with its charts) fits on screen whole for its picture. */
export const VIEWPORT = { width: 1280, height: 2000 };

/** The Playground's message box is a Lexical editor, not a textarea. */
const MESSAGE_BOX = '[data-lexical-editor="true"][role="textbox"]';

/**
 * Types `text` into the message box and sends it, key by key. `paste` puts it in at once, as pasting does: a
 * key a round trip to the browser costs seconds for a token file on a busy machine.
 */
export async function say(page: Page, text: string, options: { paste?: boolean } = {}): Promise<void> {
  const box = page.locator(MESSAGE_BOX);
  await box.click();
  if (options.paste) await page.keyboard.insertText(text);
  else await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/**
 * Answers the group question of `assign` with `group` and gets to the group's card: the bot may first ask
 * which of several groups is meant (a button per group), then shows the group with Continue.
 */
export async function chooseGroup(page: Page, group: string, options: { paste?: boolean } = {}): Promise<void> {
  // Not just "user group": the help card above says "user groups" too, and the next answer would race the bot.
  await page.getByText('should get the book', { exact: false }).last().waitFor({ timeout: 30_000 });
  await say(page, group, options);
  const continueButton = page.getByRole('button', { name: 'Continue' }).last();
  const whichGroup = page.getByRole('button', { name: group }).last();
  await continueButton.or(whichGroup).waitFor({ timeout: 30_000 });
  if (!(await continueButton.isVisible())) {
    await whichGroup.click();
    await continueButton.waitFor({ timeout: 30_000 });
  }
}

/** `npm start` in its own process, on free ports and a fresh data folder, with Alex's Playground open in Chromium. */
export interface RunningPlayground {
  bot: BotProcess;
  browser: Browser;
  /** Alex Wilber's chat, the admin. */
  page: Page;
  approverUrl: string;
  /** Adele Vance's chat, the member; '' when her Playground was left out. */
  memberUrl: string;
  /** Closes the browser, stops the bot and removes the data folder; safe after a failed start. */
  stop(): Promise<void>;
}

/** `env` adds to `npm start`'s environment (VPP_BACKEND); `member: false` leaves out Adele's Playground, a process fewer to start. */
export async function startPlayground(options: { env?: Record<string, string>; member?: boolean } = {}): Promise<RunningPlayground> {
  const member = options.member ?? true;
  const executablePath = ensureChromium();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-e2e-'));
  const bot = new BotProcess({
    PORT: String(await freePort()),
    PLAYGROUND_PORT: String(await freePort()),
    PLAYGROUND_APPROVER_PORT: String(await freePort()),
    PLAYGROUND_MEMBER_PORT: String(await freePort()),
    LOCAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    PLAYGROUND_MEMBER_ENABLED: String(member),
    ...options.env,
  }).start();
  // Chromium starts while the bot does: the two together take a good part of a spec's time.
  const launching = chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  // Handled here too, so a failed launch while the bot starts is no unhandled rejection; awaited below.
  launching.catch(() => undefined);
  const stop = async (): Promise<void> => {
    await (await launching.catch(() => undefined))?.close();
    await bot.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const chatUrl = (await bot.waitForOutput(/Open the chat: (http:\/\/localhost:\d+)/))[1] ?? '';
    const approverUrl = (await bot.waitForOutput(/Approve assignments as Megan Bowen: (http:\/\/localhost:\d+)/))[1] ?? '';
    const memberUrl = member ? ((await bot.waitForOutput(/Get books as Adele Vance, a member \(type "my books"\): (http:\/\/localhost:\d+)/))[1] ?? '') : '';
    const browser = await launching;
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(chatUrl);
    return { bot, browser, page, approverUrl, memberUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
