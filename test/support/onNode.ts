/**
 * Runs a command on another Node.js release, fetched from the npm registry (the `node-<os>-<cpu>`
 * packages carry the official binaries), so CI proves the bot on the production LTS as well as on the
 * machines' Node 20 without any network but the registry.
 *
 *   node --import tsx test/support/onNode.ts 24.22.3 node_modules/mocha/bin/mocha.js
 *
 * The binary is kept under node_modules/.cache, so a second run costs nothing and `npm ci` starts clean.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function binaryPackage(version: string): string {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  return `node-${os}-${process.arch}@${version}`;
}

/** The path of the Node.js binary for `version`, fetched once with `npm pack`. */
export function ensureNode(version: string): string {
  const home = path.join(ROOT, 'node_modules', '.cache', `node-${version}`);
  const binary = path.join(home, 'package', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (existsSync(binary)) return binary;
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  // npm checks the tarball against the registry's integrity hash; tar unpacks it (Windows 10+ has tar too).
  execFileSync('npm', ['pack', binaryPackage(version), '--pack-destination', home, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'], shell: process.platform === 'win32' });
  const tarball = readdirSync(home).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack ${binaryPackage(version)} left no tarball in ${home}`);
  execFileSync('tar', ['-xzf', tarball], { cwd: home, stdio: 'inherit' });
  rmSync(path.join(home, tarball));
  if (!existsSync(binary)) throw new Error(`${binaryPackage(version)} holds no ${path.relative(home, binary)}`);
  return binary;
}

function main(): void {
  const [version, ...command] = process.argv.slice(2);
  if (!version || !/^\d+\.\d+\.\d+$/.test(version) || command.length === 0) {
    process.stderr.write('usage: onNode.ts <exact version, e.g. 24.22.3> <script> [args...]\n');
    process.exit(2);
  }
  const node = ensureNode(version);
  process.stdout.write(`\n  Running on Node.js ${execFileSync(node, ['--version']).toString().trim()}: ${command.join(' ')}\n\n`);
  const child = spawn(node, command, { cwd: ROOT, stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (require.main === module) main();
