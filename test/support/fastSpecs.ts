/**
 * `npm run test:fast`: the specs that start nothing — no Cosmos-protocol server, Apple sandbox, local
 * directory, bot process or browser. A spec is slow when any module it reaches through relative imports
 * is one of local/'s servers, the application, a child process or the browser; everything else is a
 * unit test. Worked out from the imports, so a new unit test is picked up without a list to keep.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Reaching any of these means servers or processes get started (local/'s demo data alone starts nothing). */
const SLOW_MODULES = [/^local\/(?:appleSandbox\/AppleSandboxServer|directory\/LocalDirectoryServer|cosmos\/EmbeddedCosmos|startLocalServices|playground)\.ts$/, /^bot\/application\.ts$/, /^test\/support\/BotProcess\.ts$/, /^test\/support\/chromium\.ts$/, /^test\/support\/onNode\.ts$/];
/** Specs that start processes or servers by other means (a child node, a real HTTP server of their own). */
const SLOW_SOURCE = /from 'node:child_process'|\.listen\(|createServer\(/;

function specs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return specs(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const verdicts = new Map<string, boolean>();

function isSlow(file: string, visiting = new Set<string>()): boolean {
  const known = verdicts.get(file);
  if (known !== undefined) return known;
  if (visiting.has(file)) return false;
  visiting.add(file);
  const relative = path.relative(ROOT, file).split(path.sep).join('/');
  let slow = SLOW_MODULES.some((pattern) => pattern.test(relative));
  if (!slow && file.endsWith('.ts')) {
    const source = readFileSync(file, 'utf8');
    slow = relative.startsWith('test/') && SLOW_SOURCE.test(source);
    for (const match of source.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
      if (slow) break;
      const target = match[1] ? resolveImport(file, match[1]) : undefined;
      if (target) slow = isSlow(target, visiting);
    }
  }
  verdicts.set(file, slow);
  return slow;
}

export function fastSpecs(): string[] {
  return specs(path.join(ROOT, 'test')).filter((file) => !isSlow(file)).map((file) => path.relative(ROOT, file));
}

if (require.main === module) {
  const files = fastSpecs();
  if (process.argv.includes('--list')) {
    process.stdout.write(`${files.join('\n')}\n`);
  } else {
    const mocha = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
    const child = spawn(process.execPath, [mocha, '--parallel', ...process.argv.slice(2), ...files], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));
  }
}
