import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { startAppleSandbox, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import { DEMO_ORG_NAME, DEMO_TOKENS } from '../../local/appleSandbox/demoData';
import { DEMO_GROUPS, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type RunningLocalDirectory } from '../../local/directory';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, type CapturedActivity } from '../support/FakeConnector';
import { ALEX, DEMO_TOKEN_FILE, PlaygroundChats, click, refOf } from '../support/PlaygroundChats';

/** A book title and a group name as someone hostile would choose them in Apple Business Manager and Entra. */
const EVIL_TITLE = '**Evil** [Atlas](https://evil.example) _of_ <b>Things</b>';
const EVIL_TITLE_SHOWN = '\\*\\*Evil\\*\\* \\[Atlas\\](https://evil.example) \\_of\\_ \\<b>Things\\</b>';
const EVIL_GROUP = '**Everyone** [click](https://evil.example)';
const EVIL_GROUP_SHOWN = '\\*\\*Everyone\\*\\* \\[click\\](https://evil.example)';
const EVIL_GROUP_ID = '90000000-0000-4000-8000-0000000e7e11';

/** Where an Adaptive Card puts text, by how Teams renders it: Markdown (TextBlock, FactSet) or plain (buttons, alt texts). */
function cardTexts(activity: CapturedActivity): { markdown: string[]; plain: string[] } {
  const markdown: string[] = [];
  const plain: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const element = node as Record<string, unknown>;
    if (element.type === 'TextBlock' && typeof element.text === 'string') markdown.push(element.text);
    if (element.type === 'FactSet' && Array.isArray(element.facts)) for (const f of element.facts as Array<{ title: string; value: string }>) markdown.push(f.title, f.value);
    if (typeof element.type === 'string' && element.type.startsWith('Action.') && typeof element.title === 'string') plain.push(element.title);
    if (element.type === 'Image' && typeof element.altText === 'string') plain.push(element.altText);
    for (const value of Object.values(element)) walk(value);
  };
  walk(activity.attachments?.map((a) => a.content));
  return { markdown, plain };
}

const hasCard = (a: CapturedActivity): boolean => (a.attachments?.length ?? 0) > 0;

describe('chat text over HTTP: arguments echoed safely, names from Apple and the directory shown as written', function () {
  this.timeout(90_000);
  const connector = new FakeConnector();
  const { logger } = capturingLogger('warn');
  let dataDir: string;
  let sandbox: RunningAppleSandbox;
  let directory: RunningLocalDirectory;
  let app: RunningApplication;
  const chats = new PlaygroundChats(connector, () => app.url);
  const alex = (text: string | Record<string, unknown>, until?: (a: CapturedActivity) => boolean) => chats.say(ALEX, text, until);

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-chat-text-'));
    await connector.start();
    sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    const northwind = [...sandbox.state.organisations.values()].find((o) => o.orgName === DEMO_ORG_NAME);
    assert.ok(northwind, 'the demo organisation');
    sandbox.state.addBook(northwind, { adamId: '1999000017', title: EVIL_TITLE, author: '_Anonymous_', totalCount: 500 });
    directory = await startLocalDirectory({ port: 0, studentCount: 50 });
    directory.state.addGroup({ id: EVIL_GROUP_ID, displayName: EVIL_GROUP, members: directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment) });
    app = await startApplication(
      loadConfig({
        PORT: '0',
        LOCAL_DATA_DIR: dataDir,
        APPLE_STATUS_POLL_INTERVAL_MS: '20',
        APPLE_VPP_BASE_URL: sandbox.baseUrl,
        APPLE_METADATA_URL: sandbox.metadataUrl,
        GRAPH_BASE_URL: directory.baseUrl,
        GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE,
      }),
      logger,
    );
    await chats.setUpDemoToken();
  });
  after(async () => {
    await app?.stop();
    await directory?.close();
    await sandbox?.close();
    await connector.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  for (const command of ['sync', 'status', 'assign']) {
    it(`${command} followed by a pasted token answers with a warning, never the token`, async () => {
      for (const pasted of [DEMO_TOKENS.valid.token, DEMO_TOKEN_FILE.trim()]) {
        const reply = await alex(`${command} ${pasted}`);
        // The failure message must not quote the reply: it would hold the token.
        assert.ok(!JSON.stringify(reply).includes(pasted.slice(0, 24)), `the answer to ${command} repeats the token`);
        assert.match(String(reply.text), /looks like a VPP token.*delete that message/);
      }
    });
  }

  const MARKDOWN_ARGUMENT = `${EVIL_GROUP} and then a long tail that nobody needs to read back`;
  const ECHOED = `"${EVIL_GROUP_SHOWN} and then a long…"`;
  for (const [command, answer] of [
    ['sync', 'No token matches'],
    ['status', 'No book matches'],
    ['assign', 'No book matches'],
  ] as const) {
    it(`${command} with a Markdown-laden argument echoes it escaped and cut short`, async () => {
      const reply = await alex(`${command} ${MARKDOWN_ARGUMENT}`, (a) => String(a.text).startsWith(answer));
      assert.equal(String(reply.text).slice(answer.length + 1, answer.length + 1 + ECHOED.length), ECHOED);
      assert.ok(!String(reply.text).includes('nobody needs'), 'cut short');
      assert.ok(!String(reply.text).includes(EVIL_GROUP), 'nothing left to render as bold or a link');
      if (command === 'assign') await alex('cancel', (a) => /^Cancelled/.test(String(a.text)));
    });
  }

  it('shows a hostile book title and group name literally in messages and cards; buttons and alt texts keep them plain', async () => {
    // Card: the books list, the title escaped in its TextBlock and plain in the cover's alt text.
    const list = await alex('books Atlas', hasCard);
    const books = cardTexts(list);
    assert.ok(books.markdown.includes(EVIL_TITLE_SHOWN), `the title as a TextBlock: ${JSON.stringify(books.markdown)}`);
    assert.ok(books.markdown.includes('\\_Anonymous\\_'), 'the author too');
    assert.ok(!books.markdown.some((t) => t.includes(EVIL_TITLE)), 'never raw in Markdown');
    assert.ok(books.plain.includes(`Cover of ${EVIL_TITLE}`), `alt text is plain: ${JSON.stringify(books.plain)}`);

    // Message: the book named in chat text.
    await alex('assign Atlas', (a) => String(a.text) === `Assigning **${EVIL_TITLE_SHOWN}**.`);
    await alex('Everyone', hasCard).then((card) => {
      // Card: the group picked so far, escaped inside the bold the bot adds.
      assert.ok(cardTexts(card).markdown.includes(`Groups so far: **${EVIL_GROUP_SHOWN}**.`), JSON.stringify(cardTexts(card).markdown));
      return alex(click('continue', refOf(card)), hasCard);
    }).then(async (intent) => {
      const preview = await alex(click('required', refOf(intent)), (a) => JSON.stringify(a).includes('Request approval'));
      const { markdown, plain } = cardTexts(preview);
      assert.ok(markdown.includes(`Assign ${EVIL_TITLE_SHOWN} as Required?`), JSON.stringify(markdown));
      assert.ok(markdown.includes(EVIL_GROUP_SHOWN), 'the group as a fact title');
      assert.ok(!markdown.some((t) => t.includes(EVIL_GROUP) || t.includes(EVIL_TITLE)), 'never raw in Markdown');
      assert.ok(plain.includes('Request approval'));
    });
    await alex('cancel', (a) => /^Cancelled/.test(String(a.text)));
  });
});
