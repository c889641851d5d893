import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Browser tests use Debian's Chromium (no test tool may download a browser of its own). Installs it
 * with apt-get when it is missing, so a fresh machine needs nothing but `npm ci && npm test`.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const result = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 15 * 60_000 });
    if (result.status !== 0) {
      throw new Error(`Could not install Chromium with apt-get ${args.join(' ')} (run as root, or set CHROMIUM_PATH): ${String(result.stderr).slice(-500)}`);
    }
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium but ${CHROMIUM_PATH} is missing`);
  return CHROMIUM_PATH;
}

/** Flags for a headless Chromium on a machine without network or a sandbox-capable kernel setup. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
