import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TeamsManifestV1D23 } from '@microsoft/app-manifest';
import { PNG } from 'pngjs';
import * as yauzl from 'yauzl';
import { COMMANDS } from '../../dialogs/commandCatalog';
import { version } from '../../package.json';
import { ICONS, checkIcon } from '../../manifest/icons';
import {
  BOT_SCOPES,
  PLACEHOLDER_APP_ID,
  PackageError,
  TEAMS_LIMITS,
  buildManifest,
  buildPackage,
  menuCommands,
  checkTeamsLimits,
  settingsFromEnv,
  validateAgainstSchema,
} from '../../manifest/teamsPackage';

const APP_ID = '3f2b8c1e-5a47-4d2e-9b6f-0c1d2e3f4a5b';
const HOST = 'vppbooks.azurewebsites.net';
const PRODUCTION_ENV = { MicrosoftAppId: APP_ID, BOT_HOSTNAME: HOST, APP_NAME_SUFFIX: 'test' };

async function unzip(zipPath: string): Promise<Map<string, Buffer>> {
  const zip = await yauzl.openPromise(zipPath);
  const files = new Map<string, Buffer>();
  try {
    for await (const entry of zip.eachEntry()) {
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      files.set(entry.fileName, Buffer.concat(chunks));
    }
  } finally {
    zip.close();
  }
  return files;
}

function pngSize(data: Buffer): { width: number; height: number } {
  const image = PNG.sync.read(data);
  return { width: image.width, height: image.height };
}

describe('Teams app package (npm run package)', () => {
  let dir: string;
  let files: Map<string, Buffer>;
  let manifest: TeamsManifestV1D23.TeamsManifestV1D23;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vpp-manifest-'));
    const built = await buildPackage({ env: PRODUCTION_ENV, packageVersion: version, zipPath: path.join(dir, 'app.zip') });
    files = await unzip(built.zipPath);
    const manifestJson = files.get('manifest.json');
    assert.ok(manifestJson, 'manifest.json is in the zip');
    manifest = JSON.parse(manifestJson.toString('utf8')) as TeamsManifestV1D23.TeamsManifestV1D23;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is a flat zip with exactly manifest.json and the two icons', () => {
    assert.deepEqual([...files.keys()].sort(), ['color.png', 'manifest.json', 'outline.png']);
  });

  it('ships icons of the sizes Teams requires, the outline white on transparent', () => {
    assert.deepEqual(pngSize(files.get('color.png') ?? Buffer.alloc(0)), { width: 192, height: 192 });
    assert.deepEqual(pngSize(files.get('outline.png') ?? Buffer.alloc(0)), { width: 32, height: 32 });
    assert.equal(checkIcon(ICONS.outline, files.get('outline.png') ?? Buffer.alloc(0)), undefined);
    assert.deepEqual(manifest.icons, { color: 'color.png', outline: 'outline.png' });
  });

  it('validates against the bundled Teams manifest schema v1.23', async () => {
    assert.equal(manifest.manifestVersion, '1.23');
    assert.equal(
      manifest.$schema,
      'https://developer.microsoft.com/en-us/json-schemas/teams/v1.23/MicrosoftTeams.schema.json',
    );
    assert.deepEqual(await validateAgainstSchema(manifest), []);
  });

  it('lists the bot commands from dialogs/commandCatalog.ts, in every scope', () => {
    const bot = manifest.bots?.[0];
    assert.ok(bot?.commandLists);
    const expected = menuCommands(COMMANDS).map((c) => ({ title: c.command, description: c.description }));
    assert.deepEqual(bot.commandLists.map((l) => l.scopes).flat().sort(), [...BOT_SCOPES].sort());
    for (const list of bot.commandLists) assert.deepEqual(list.commands, expected);
    assert.ok(expected.length <= TEAMS_LIMITS.commandsPerList);
  });

  it('leaves out of the menu only the commands the catalog marks teamsMenu: false', () => {
    const catalog = [
      { command: 'tokens', title: 'VPP tokens', description: 'List tokens.' },
      { command: 'renew', title: 'Renew', description: 'Renew a token.', teamsMenu: false },
      { command: 'sync', title: 'Sync', description: 'Sync now.', teamsMenu: true },
    ];
    assert.deepEqual(menuCommands(catalog).map((c) => c.command), ['tokens', 'sync']);
  });

  it('declares the bot with files, its scopes, and the configured ids, host, name and version', () => {
    const bot = manifest.bots?.[0];
    assert.ok(bot);
    assert.equal(bot.supportsFiles, true);
    assert.deepEqual([...bot.scopes].sort(), ['groupChat', 'personal', 'team']);
    assert.equal(bot.botId, APP_ID);
    assert.equal(manifest.id, APP_ID);
    assert.equal(manifest.version, version);
    assert.deepEqual(manifest.webApplicationInfo, { id: APP_ID, resource: `api://${HOST}/${APP_ID}` });
    assert.ok(manifest.validDomains?.includes(HOST));
    assert.equal(manifest.name.short, 'VPP Books (test)');
  });

  it('uses a placeholder app id in local mode', async () => {
    const settings = settingsFromEnv({}, version);
    assert.equal(settings.localMode, true);
    assert.equal(settings.appId, PLACEHOLDER_APP_ID);
    assert.deepEqual(await validateAgainstSchema(await buildManifest(settings)), []);
  });

  it('refuses bad configuration with messages naming the variable', () => {
    assert.throws(
      () => settingsFromEnv({ MicrosoftAppId: 'not-a-guid', BOT_HOSTNAME: 'https://host/api' }, version),
      (err: unknown) =>
        err instanceof PackageError &&
        err.problems.some((p) => p.startsWith('MicrosoftAppId')) &&
        err.problems.some((p) => p.startsWith('BOT_HOSTNAME')),
    );
    assert.throws(() => settingsFromEnv({ MicrosoftAppId: APP_ID }, version), /BOT_HOSTNAME is required/);
    assert.throws(() => settingsFromEnv(PRODUCTION_ENV, '1.0.0-beta.1'), /major\.minor\.patch/);
  });

  it('refuses a name suffix that makes the short name too long for Teams', async () => {
    const settings = settingsFromEnv({ ...PRODUCTION_ENV, APP_NAME_SUFFIX: 'a very long environment name' }, version);
    const problems = checkTeamsLimits(await buildManifest(settings));
    assert.ok(problems.some((p) => p.startsWith('name.short')), problems.join('\n'));
  });

  it('reports schema errors instead of packaging an invalid manifest', async () => {
    const broken = await buildManifest(settingsFromEnv(PRODUCTION_ENV, version));
    broken.accentColor = 'blue';
    const errors = await validateAgainstSchema(broken);
    assert.ok(errors.some((e) => e.includes('/accentColor')), errors.join('\n'));
  });

  it('writes the same bytes for the same inputs', async () => {
    const again = path.join(dir, 'again.zip');
    await buildPackage({ env: PRODUCTION_ENV, packageVersion: version, zipPath: again });
    assert.deepEqual(await readFile(again), await readFile(path.join(dir, 'app.zip')));
  });
});
