import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppManifestUtils, type AppManifest, type TeamsManifestV1D23 } from '@microsoft/app-manifest';
import { ZipFile } from 'yazl';
import { COMMANDS, type CommandInfo } from '../dialogs/commandCatalog';
import { ICONS, checkIcon } from './icons';

type Manifest = TeamsManifestV1D23.TeamsManifestV1D23;

const MANIFEST_DIR = __dirname;
const TEMPLATE_PATH = path.join(MANIFEST_DIR, 'manifest.template.json');
const ICONS_DIR = path.join(MANIFEST_DIR, 'icons');
const DEFAULT_ZIP_PATH = path.join(MANIFEST_DIR, 'build', 'vpp-books.zip');

/** Stands in for MicrosoftAppId in local mode, so the package can still be built and checked. */
export const PLACEHOLDER_APP_ID = '00000000-0000-4000-8000-000000000000';
const PLACEHOLDER_HOSTNAME = 'localhost';

/** Limits Teams enforces when it installs an app, stricter than the JSON schema's. */
export const TEAMS_LIMITS = {
  commandsPerList: 10,
  commandTitle: 32,
  commandDescription: 128,
  shortName: 30,
  fullName: 100,
  shortDescription: 80,
  fullDescription: 4000,
} as const;

/** The bot's scopes; each gets its own command list, as the schema recommends. */
export const BOT_SCOPES = ['personal', 'team', 'groupChat'] as const;

export class PackageError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The Teams app package is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PackageError';
  }
}

export interface PackageSettings {
  appId: string;
  hostname: string;
  /** Empty, or already rendered as " (dev)". */
  nameSuffix: string;
  version: string;
  developer: { name: string; websiteUrl: string; privacyUrl: string; termsUrl: string };
  /** Set when settings were made up because MicrosoftAppId is absent: the package will not install. */
  localMode: boolean;
}

const GUID = /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;
// A bare DNS name: validDomains and the SSO resource URI take no scheme, port or path.
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
// Teams refuses anything but major.minor.patch, so a pre-release version in package.json must fail here.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * Reads the package settings from the same environment variables the bot uses. Collects every
 * problem before failing, so one run tells the operator everything to fix.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv, packageVersion: string): PackageSettings {
  const problems: string[] = [];
  const appId = blankToUndefined(env.MicrosoftAppId);
  const localMode = appId === undefined;
  if (appId !== undefined && !GUID.test(appId)) {
    problems.push(`MicrosoftAppId must be the bot's Entra application (client) ID, a GUID; got "${appId}"`);
  }

  let hostname = blankToUndefined(env.BOT_HOSTNAME);
  if (hostname === undefined) {
    if (!localMode) {
      problems.push('BOT_HOSTNAME is required when MicrosoftAppId is set: the public host name of the bot, e.g. vppbooks.azurewebsites.net');
    }
    hostname = PLACEHOLDER_HOSTNAME;
  } else if (!HOSTNAME.test(hostname)) {
    problems.push(`BOT_HOSTNAME must be a bare host name such as vppbooks.azurewebsites.net (no https://, port or path); got "${hostname}"`);
  }

  const suffix = blankToUndefined(env.APP_NAME_SUFFIX);
  const nameSuffix = suffix === undefined ? '' : ` (${suffix})`;

  if (!SEMVER.test(packageVersion)) {
    problems.push(`package.json version must be major.minor.patch for Teams; got "${packageVersion}"`);
  }

  const site = blankToUndefined(env.DEVELOPER_WEBSITE_URL) ?? `https://${hostname}/`;
  const developer = {
    name: blankToUndefined(env.DEVELOPER_NAME) ?? 'VPP Books bot',
    websiteUrl: site,
    privacyUrl: blankToUndefined(env.DEVELOPER_PRIVACY_URL) ?? site,
    termsUrl: blankToUndefined(env.DEVELOPER_TERMS_URL) ?? site,
  };
  for (const [variable, url] of [
    ['DEVELOPER_WEBSITE_URL', developer.websiteUrl],
    ['DEVELOPER_PRIVACY_URL', developer.privacyUrl],
    ['DEVELOPER_TERMS_URL', developer.termsUrl],
  ] as const) {
    if (!/^https:\/\//i.test(url)) problems.push(`${variable} must be an https:// URL; got "${url}"`);
  }

  if (problems.length > 0) throw new PackageError(problems);
  return { appId: appId ?? PLACEHOLDER_APP_ID, hostname, nameSuffix, version: packageVersion, developer, localMode };
}

function substitute(value: unknown, variables: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{\{(\w+)\}\}/g, (match, name: string) => {
      const replacement = variables[name];
      if (replacement === undefined) throw new PackageError([`manifest.template.json uses unknown placeholder ${match}`]);
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, variables));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, variables)]));
  }
  return value;
}

/**
 * The catalog commands that belong in Teams' command menu. Teams shows at most 10, so a catalog that
 * grows past that can mark sub-commands (reachable from a card anyway) with `teamsMenu: false`; the
 * flag is optional so the catalog needs no change until then.
 */
export function menuCommands(commands: readonly CommandInfo[] = COMMANDS): CommandInfo[] {
  return commands.filter((c) => !('teamsMenu' in c && c.teamsMenu === false));
}

/** The bot's commands as Teams shows them in the compose box: the text to type, and what it does. */
function commandListCommands(): { title: string; description: string }[] {
  return menuCommands().map((c) => ({ title: c.command, description: c.description }));
}

/**
 * Fills the template. Placeholders are replaced inside parsed string values, not in the JSON text,
 * so a value with a quote in it cannot break the JSON.
 */
export async function buildManifest(settings: PackageSettings): Promise<Manifest> {
  const template: unknown = JSON.parse(await readFile(TEMPLATE_PATH, 'utf8'));
  const manifest = substitute(template, {
    APP_VERSION: settings.version,
    BOT_ID: settings.appId,
    BOT_HOSTNAME: settings.hostname,
    APP_NAME_SUFFIX: settings.nameSuffix,
    DEVELOPER_NAME: settings.developer.name,
    DEVELOPER_WEBSITE_URL: settings.developer.websiteUrl,
    DEVELOPER_PRIVACY_URL: settings.developer.privacyUrl,
    DEVELOPER_TERMS_URL: settings.developer.termsUrl,
  }) as Manifest;
  const bot = manifest.bots?.[0];
  if (!bot) throw new PackageError(['manifest.template.json has no bot']);
  bot.commandLists = BOT_SCOPES.map((scope) => ({ scopes: [scope], commands: commandListCommands() }));
  return manifest;
}

/** Checks the limits Teams enforces at install time but the JSON schema does not. */
export function checkTeamsLimits(manifest: Manifest): string[] {
  const problems: string[] = [];
  const tooLong = (what: string, value: string | undefined, max: number) => {
    if (value !== undefined && [...value].length > max) {
      problems.push(`${what} is ${[...value].length} characters; Teams allows ${max}: "${value}"`);
    }
  };
  tooLong('name.short', manifest.name.short, TEAMS_LIMITS.shortName);
  tooLong('name.full', manifest.name.full, TEAMS_LIMITS.fullName);
  tooLong('description.short', manifest.description.short, TEAMS_LIMITS.shortDescription);
  tooLong('description.full', manifest.description.full, TEAMS_LIMITS.fullDescription);
  for (const bot of manifest.bots ?? []) {
    for (const list of bot.commandLists ?? []) {
      if (list.commands.length > TEAMS_LIMITS.commandsPerList) {
        problems.push(
          `the ${list.scopes.join('/')} command list has ${list.commands.length} commands; Teams shows at most ${TEAMS_LIMITS.commandsPerList} (dialogs/commandCatalog.ts)`,
        );
      }
      for (const command of list.commands) {
        tooLong(`command "${command.title}" title`, command.title, TEAMS_LIMITS.commandTitle);
        tooLong(`command "${command.title}" description`, command.description, TEAMS_LIMITS.commandDescription);
      }
    }
  }
  return problems;
}

/**
 * The v1.23 schema bundled in @microsoft/app-manifest. Passing it explicitly keeps validation
 * offline: without it the library would fall back to downloading the schema for unknown URLs.
 */
async function loadBundledSchema(): Promise<Parameters<typeof AppManifestUtils.validateAgainstSchema>[1]> {
  const packageDir = path.dirname(require.resolve('@microsoft/app-manifest/package.json'));
  const schemaPath = path.join(packageDir, 'build', 'json-schemas', 'teams', 'v1.23', 'MicrosoftTeams.schema.json');
  let text: string;
  try {
    text = await readFile(schemaPath, 'utf8');
  } catch {
    throw new PackageError([`the Teams v1.23 schema is missing at ${schemaPath}; run npm ci`]);
  }
  return JSON.parse(text) as Parameters<typeof AppManifestUtils.validateAgainstSchema>[1];
}

export async function validateAgainstSchema(manifest: Manifest): Promise<string[]> {
  const errors = await AppManifestUtils.validateAgainstSchema(manifest as AppManifest, await loadBundledSchema());
  return errors.map((e) => `schema: ${e}`);
}

async function readIcons(): Promise<{ name: string; data: Buffer }[]> {
  const problems: string[] = [];
  const icons: { name: string; data: Buffer }[] = [];
  for (const icon of Object.values(ICONS)) {
    const data = await readFile(path.join(ICONS_DIR, icon.file));
    const problem = checkIcon(icon, data);
    if (problem) problems.push(problem);
    icons.push({ name: icon.file, data });
  }
  if (problems.length > 0) throw new PackageError(problems);
  return icons;
}

function zipFlat(files: readonly { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new ZipFile();
  // A fixed date makes the same inputs give a byte-identical zip, so rebuilding changes nothing.
  const mtime = new Date('2024-01-01T00:00:00Z');
  for (const file of files) zip.addBuffer(file.data, file.name, { mtime });
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

export interface BuiltPackage {
  zipPath: string;
  manifest: Manifest;
  settings: PackageSettings;
}

/**
 * Builds, checks and writes the Teams app package: manifest.json and both icons at the root of the
 * zip (Teams rejects a zip whose files sit in a folder). Nothing is written unless every check passes.
 */
export async function buildPackage(options: {
  env: NodeJS.ProcessEnv;
  zipPath?: string;
  packageVersion: string;
}): Promise<BuiltPackage> {
  const settings = settingsFromEnv(options.env, options.packageVersion);
  const manifest = await buildManifest(settings);
  const problems = [...checkTeamsLimits(manifest), ...(await validateAgainstSchema(manifest))];
  if (problems.length > 0) throw new PackageError(problems);
  const icons = await readIcons();

  const manifestJson = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  const zip = await zipFlat([{ name: 'manifest.json', data: manifestJson }, ...icons]);
  const zipPath = options.zipPath ?? DEFAULT_ZIP_PATH;
  await mkdir(path.dirname(zipPath), { recursive: true });
  await writeFile(zipPath, zip);
  // Next to the zip for a quick look at what was packaged; Teams only ever sees the zip.
  await writeFile(path.join(path.dirname(zipPath), 'manifest.json'), manifestJson);
  return { zipPath, manifest, settings };
}
