import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { internalErrorClasses, RULES, scanCardTemplate, scanRepository, scanTypeScript, type Finding, type RuleId } from './styleScan';

const ROOT = path.resolve(__dirname, '..', '..');

/** "file:line rule": what a reader needs to find and fix each finding. */
const where = (findings: readonly Finding[]): string[] => findings.map((f) => `${f.file}:${f.line} ${f.rule}`);

/** Lines of a sample module, numbered from 1 as the scan numbers them. */
const lines = (...source: string[]): string => source.join('\n');

describe('style: every message and card follows docs/STYLE-GUIDE.md', () => {
  it('finds nothing in the card templates and the user-facing strings of cards/, dialogs/, services/ and bot/', function () {
    // Parsing a few hundred modules takes a second or two on a busy machine.
    this.timeout(60_000);
    const findings = scanRepository(ROOT);
    const report = findings.map((f) => `  ${f.file}:${f.line} [${f.rule}] ${f.text}\n      → ${RULES[f.rule]}`).join('\n');
    assert.equal(findings.length, 0, `${findings.length} places do not follow docs/STYLE-GUIDE.md:\n${report}`);
  });

  describe('the scan of code', () => {
    const FILE = 'cards/sample.ts';

    it('fails on each kind of planted violation, at its line', () => {
      const source = lines(
        /* 1 */ "export const a = { title: 'Organization', value: org };",
        /* 2 */ "export const b = 'The organization has no licence left for this book.';",
        /* 3 */ 'export const c = `The link works until ${expires.toISOString().slice(0, 10)}.`;',
        /* 4 */ "export const d = 'The token expired on 2025-12-31, so download a new one.';",
        /* 5 */ "export const e = 'Download it in Apple Business Manager (Settings → Payments and Billing).';",
        /* 6 */ "export const f = { stateColor: ok ? 'Good' : 'Warning' };",
        /* 7 */ 'export const g = `${books.length} books are running low on licenses.`;',
        /* 8 */ 'export const h = `Approve ${summary.licensesNeeded} more licenses?`;',
        /* 9 */ "export const i = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });",
        /* 10 */ "export const j = 'Nothing was changed. Type assign to start again.';",
        /* 11 */ "export const k = 'Check that you sent the content token and not another file.';",
        /* 12 */ "export const l = 'Which Apple ID administers this account?';",
        /* 13 */ 'export const m = count.toLocaleString();',
        /* 14 */ 'export const n = `Sync took ${Math.round(elapsedMs / 1000)} seconds in all.`;',
        /* 15 */ "export const o = 'The request was canceled by its requester.';",
      );
      assert.deepEqual(where(scanTypeScript(FILE, source)), [
        `${FILE}:1 american-spelling`,
        `${FILE}:2 american-spelling`,
        `${FILE}:2 licence`,
        `${FILE}:3 iso-date`,
        `${FILE}:4 iso-date`,
        `${FILE}:5 menu-path`,
        `${FILE}:6 text-colour`,
        `${FILE}:6 text-colour`,
        `${FILE}:7 unformatted-count`,
        `${FILE}:8 unformatted-count`,
        `${FILE}:9 hand-rolled-format`,
        `${FILE}:10 command-not-bold`,
        `${FILE}:11 content-token`,
        `${FILE}:12 apple-id`,
        `${FILE}:13 hand-rolled-format`,
        `${FILE}:14 unformatted-count`,
        `${FILE}:15 american-spelling`,
      ]);
    });

    it('leaves alone what follows the guide, and what is not text for a person', () => {
      const source = lines(
        "import { thing } from './Organization';",
        "import { formatCount, formatDate } from '../services/common/format';",
        "import { WHERE_TOKENS_ARE_DOWNLOADED } from '../services/common/appleTerms';",
        // Identifiers, Graph paths and keys.
        "const view = { organizationName: 'x', 'Organization-Id': 1 };",
        "const graph = '/v1.0/organization?$select=id';",
        "type Colour = 'Default' | 'Good' | 'Attention';",
        // Operators' text: log lines and errors nobody sees in chat.
        "logger.warn({ err }, 'the organization endpoint failed on 2025-12-31, Settings > broken');",
        "throw new Error('organization missing since 2025-12-31');",
        // A file name sorts by its ISO date; codes are not counts; Apple's API name keeps its z.
        'const file = `unreachable-members-${slug}-${date.toISOString().slice(0, 10)}.csv`;',
        "const apple = `Apple's Apps and Books for Organizations refused error ${details.errorNumber} (HTTP ${details.httpStatus}).`;",
        // Formatted counts and dates, a variable that holds formatted text, Apple's path from the constant.
        'const told = `${formatCount(books.length)} books; renew by ${formatDate(expiry)}; ${count.toLocaleString(\'en-GB\')} in all.`;',
        'const needed = formatCount(total);',
        'const line = `${needed} licenses needed, as you asked.`;',
        'const renew = `Download a new token ${WHERE_TOKENS_ARE_DOWNLOADED}, then type **renew**.`;',
        // Safe text colours, and chart colours (graphics, not text).
        "const title = { color: 'Default' }, link = { color: 'Accent' };",
        "const bar = { x: 'Available', y: 0, color: 'attention' };",
        // Time zones are validated with Intl, not formatted.
        "const zone = new Intl.DateTimeFormat('en', { timeZone: name });",
        "const reply = 'Nothing is waiting for a decision. Type **assign** to request an assignment.';",
      );
      assert.deepEqual(where(scanTypeScript(FILE, source)), []);
    });

    it("knows which errors' messages reach chat: UserFacing ones do, Error's own family does not", () => {
      const sources = [
        { file: 'services/errors.ts', source: 'export abstract class UserFacing extends Error {}\nexport class UserFacingError extends UserFacing {}\nexport class ConfigError extends Error {}' },
        { file: 'bot/reach.ts', source: 'class ReachFailure extends ConfigError {}' },
      ];
      const internal = internalErrorClasses(sources);
      assert.ok(internal.has('ConfigError') && internal.has('ReachFailure') && internal.has('Error'));
      assert.ok(!internal.has('UserFacingError') && !internal.has('UserFacing'));
      const source = lines("throw new ReachFailure('The organization could not be reached.');", "throw new UserFacingError('The organization could not be reached.');");
      assert.deepEqual(where(scanTypeScript(FILE, source, internal)), [`${FILE}:2 american-spelling`]);
    });

    it('lets only the modules that own them spell out formats and menu paths', () => {
      const path = "export const WHERE = 'in Apple School Manager (your name > Preferences > Payments & Billing > Content Tokens)';";
      assert.deepEqual(where(scanTypeScript('services/common/appleTerms.ts', path)), []);
      assert.deepEqual(where(scanTypeScript('services/other.ts', path)), ['services/other.ts:1 content-token', 'services/other.ts:1 menu-path']);
      const format = "const DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });";
      assert.deepEqual(where(scanTypeScript('services/common/format.ts', format)), []);
    });
  });

  describe('the scan of card templates', () => {
    const FILE = 'cards/sample.json';

    it('fails on unsafe text colours, American labels, ISO dates and hand-written menu paths', () => {
      const template = lines(
        '{ "type": "AdaptiveCard", "version": "1.5", "body": [',
        '  { "type": "TextBlock", "text": "Healthy", "color": "Good" },',
        '  { "type": "TextBlock", "text": "${note}", "color": "Accent", "isSubtle": true },',
        '  { "type": "FactSet", "facts": [{ "title": "Organization", "value": "${org}" }] },',
        '  { "type": "TextBlock", "text": "Expires 2036-06-30: renew it from Preferences > Payments and Billing." },',
        '  { "type": "RichTextBlock", "inlines": [{ "type": "TextRun", "text": "Late", "color": "warning" }] }',
        ']}',
      );
      assert.deepEqual(where(scanCardTemplate(FILE, template)), [
        `${FILE}:2 text-colour`,
        `${FILE}:3 text-colour`,
        `${FILE}:4 american-spelling`,
        `${FILE}:5 iso-date`,
        `${FILE}:5 menu-path`,
        `${FILE}:6 text-colour`,
      ]);
    });

    it('leaves alone bound colours, safe colours, tinted containers and chart colours', () => {
      const template = lines(
        '{ "type": "AdaptiveCard", "version": "1.5", "body": [',
        '  { "type": "TextBlock", "text": "${title}", "color": "${color}", "weight": "Bolder" },',
        '  { "type": "Container", "style": "attention", "items": [{ "type": "TextBlock", "text": "⚠️ Expires 30 Jun 2036", "color": "Default" }] },',
        '  { "type": "TextBlock", "text": "Open the organisation\'s list", "color": "Accent" },',
        '  { "type": "Chart.VerticalBar", "data": [{ "x": "Used", "y": 1, "color": "good" }] }',
        ']}',
      );
      assert.deepEqual(where(scanCardTemplate(FILE, template)), []);
    });
  });

  it('scans cards/, dialogs/, services/ and bot/, and nothing else', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'style-scan-'));
    try {
      const planted = "export const text = 'The organization has no licenses left.';";
      for (const dir of ['cards', 'dialogs/assign', 'services/sync', 'bot', 'local', 'test']) {
        await mkdir(path.join(root, dir), { recursive: true });
        await writeFile(path.join(root, dir, 'planted.ts'), planted);
      }
      await writeFile(path.join(root, 'cards', 'planted.json'), '{ "type": "AdaptiveCard", "body": [{ "type": "TextBlock", "text": "Hi", "color": "Attention" }] }');
      const found = scanRepository(root).map((f): [string, RuleId] => [f.file, f.rule]);
      assert.deepEqual(found, [
        ['bot/planted.ts', 'american-spelling'],
        ['cards/planted.json', 'text-colour'],
        ['cards/planted.ts', 'american-spelling'],
        ['dialogs/assign/planted.ts', 'american-spelling'],
        ['services/sync/planted.ts', 'american-spelling'],
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
