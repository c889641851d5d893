import type { KnipConfig } from 'knip';

/**
 * Dead-code check (`npm run lint:dead`). Entries marked `!` are what production runs; `knip --production`
 * then shows code that only tests reach. .mocharc.json, eslint.config.mjs and .dependency-cruiser.cjs are
 * found by knip's own plugins.
 */
const config: KnipConfig = {
  entry: [
    // Loaded by a computed name from bot/backingServices.ts so the production build never follows it.
    'local/startLocalServices.ts',
    // Started as child processes or by hand, by path.
    'local/**/cli.ts',
    'local/loopbackOnly.cjs',
    'infra/toolkitParameters.ts',
    'manifest/renderIcons.ts',
    'bench/*.bench.ts',
    'bench/support/cosmosServer.ts',
    'bench/support/loadServer.ts',
    'test/support/*Probe.ts',
    'test/**/*.test.ts',
  ],
  // Not dead, only out of knip's sight: botbuilder-dialogs' postinstall runs `npx rimraf`, which must find it
  // installed rather than fetch it (docs/deploy.md).
  ignoreDependencies: ['rimraf'],
  // Debian's package manager (test/support/chromium.ts installs Chromium with it), not an npm binary.
  ignoreBinaries: ['apt-get'],
  project: [
    '{bot,cards,dialogs,services}/**/*.ts!',
    'local/**/*.{ts,cjs}',
    'test/**/*.ts',
    'bench/**/*.ts',
    'manifest/*.ts',
    'infra/*.ts',
  ],
};

export default config;
