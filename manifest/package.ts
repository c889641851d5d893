/**
 * `npm run package [-- --out <file.zip>]`: builds the Teams app package from manifest.template.json,
 * dialogs/commandCatalog.ts and the icons, validates it offline, and writes manifest/build/vpp-books.zip.
 *
 * Reads MicrosoftAppId, BOT_HOSTNAME, APP_NAME_SUFFIX (optional) and DEVELOPER_* (optional) from the
 * environment or .env, like the bot itself.
 */
import 'dotenv/config';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { version } from '../package.json';
import { PLACEHOLDER_APP_ID, PackageError, buildPackage } from './teamsPackage';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const built = await buildPackage({
    env: process.env,
    packageVersion: version,
    zipPath: values.out === undefined ? undefined : path.resolve(values.out),
  });
  const { settings, manifest } = built;
  const out = process.stdout;
  if (settings.localMode) {
    out.write(
      `Local mode: MicrosoftAppId is not set, so the package uses the placeholder app id ${PLACEHOLDER_APP_ID}` +
        `${process.env.BOT_HOSTNAME ? '' : ' and host name localhost'}.\n` +
        '  It validates, but Teams will not install it. Set MicrosoftAppId and BOT_HOSTNAME for a real package.\n',
    );
  }
  out.write(
    `Teams app package: ${path.relative(process.cwd(), built.zipPath)}\n` +
      `  ${manifest.name.short} ${manifest.version}, app id ${manifest.id}, host ${settings.hostname}\n` +
      `  ${manifest.bots?.[0]?.commandLists?.[0]?.commands.length ?? 0} commands, manifest schema v${manifest.manifestVersion}: valid\n`,
  );
}

main().catch((err: unknown) => {
  if (err instanceof PackageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Packaging failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
