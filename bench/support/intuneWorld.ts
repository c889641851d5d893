import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import { startLocalIntune } from '../../local/intune/LocalIntuneServer';
import { announceAndServe, runMain } from '../../local/announceAndServe';

/**
 * The outside world of the Intune sync benchmark (intune-sync.bench.ts) in a process of its own, so its
 * memory and CPU are not the bot's: the Apple sandbox and the local Intune (Graph's deviceAppManagement)
 * standing on it, as local mode runs them. Seeded directly in memory, as if an admin had uploaded every token
 * to Intune: `--tokens T --books B` makes T sandbox organisations of B books each and T Intune tokens holding
 * their `.vpptoken` (valid, never synced, so Intune's first syncLicenses claims the location at Apple and
 * brings the books in). Every organisation owns the same B adamIds, as schools buying the same titles do:
 * only `vppTokenId` tells the tenant's ebooks apart.
 *
 * `--page-size` is Intune's page for collections (Graph documents none for managedEBooks), `--sync-delay-ms`
 * how long a syncLicenses stays `inProgress` before Intune talks to Apple. Control: `GET /stats` (this
 * process's peak RSS, Intune's token and book counts).
 */

export interface IntuneWorldInfo {
  /** The local Intune's Graph origin. */
  intuneBaseUrl: string;
  controlUrl: string;
  seedMs: number;
}

export interface IntuneWorldStats {
  maxRssBytes: number;
  tokens: number;
  books: number;
}

/** The tenant the local Intune serves (names Intune at Apple when it claims a location). */
const TENANT = '00000000-0000-4000-8000-00000000b020';
const YEAR_MS = 365 * 86_400_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tokens: { type: 'string', default: '256' },
      books: { type: 'string', default: '50' },
      'page-size': { type: 'string', default: '100' },
      'sync-delay-ms': { type: 'string', default: '250' },
    },
  });
  const tokens = Number(values.tokens);
  const books = Number(values.books);
  const started = Date.now();
  // Intune reads a location's assets in one page and names them through one lookup per 50 ids.
  const sandbox = await startAppleSandbox({ port: 0, seedDemoData: false, pageSize: 1_000, eventDelayMs: 0 });
  const intune = await startLocalIntune({
    appleBaseUrl: sandbox.baseUrl,
    // No assignment is made, so Intune never asks the directory for a group's members.
    directoryBaseUrl: 'http://127.0.0.1:9',
    tenantId: TENANT,
    pageSize: Number(values['page-size']),
    syncDelayMs: Number(values['sync-delay-ms']),
    fetchCovers: false,
  });
  const titles = Array.from({ length: books }, (_, b) => ({ adamId: String(1_900_000_000 + b), title: `Bench Title ${b}`, author: `Author ${b % 17}`, totalCount: 30 + (b % 7) * 10 }));
  for (let t = 0; t < tokens; t++) {
    const org = sandbox.state.addOrganisation({ orgName: `Bench School ${t}`, locationName: `Campus ${t}`, countryISO2ACode: 'GB', books: titles });
    const bearer = sandbox.state.mintToken(org, { expiresAt: new Date(Date.now() + YEAR_MS) });
    intune.state.addToken({
      token: bearer,
      organizationName: org.orgName,
      appleId: `vpp${t}@bench.example`,
      vppTokenAccountType: 'education',
      expirationDateTime: new Date(Date.now() + YEAR_MS),
      state: 'valid',
      countryOrRegion: 'gb',
      locationName: org.locationName,
      locationId: org.uId,
      displayName: `Bench School ${t}`,
    });
  }

  const stats = (): IntuneWorldStats => ({ maxRssBytes: process.resourceUsage().maxRSS * 1024, tokens: intune.state.tokens.size, books: intune.state.books.size });
  const control = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const found = req.method === 'GET' && req.url === '/stats';
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found ? stats() : { error: 'unknown route' }));
    });
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const { port } = control.address() as AddressInfo;
  const info: IntuneWorldInfo = { intuneBaseUrl: intune.baseUrl, controlUrl: `http://127.0.0.1:${port}`, seedMs: Date.now() - started };
  announceAndServe(info, async () => {
    control.close();
    await intune.stop();
    await sandbox.close();
  });
}

if (require.main === module) runMain(main);
