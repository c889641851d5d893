import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import { assignmentKey } from '../../local/appleSandbox/SandboxState';
import { announceAndServe, runMain } from '../../local/announceAndServe';
import { startLocalDirectory, type LocalGroup, type LocalUser } from '../../local/directory';

/**
 * The outside world of the standing-assignment benchmark (reconcile.bench.ts) in a process of its own:
 * the Apple sandbox (events complete at once) and the local directory (Graph v1.0 with groups/delta),
 * seeded as if every standing assignment had been delivered, plus a small control server for the bench.
 *
 * Shape (`--tokens T --books B --members M --joiners J`): T sandbox organisations with B books each; per
 * organisation and book one directory group of M users whose members all hold that book at Apple. Users
 * are shared across organisations (Apple keeps users per organisation, so that costs nothing in realism):
 * group b of every organisation holds users [b·M, (b+1)·M) of one pool of B·M users, so the directory has
 * B·M users and T·B groups, while Apple holds T·B·M users and licenses. `POST /join` adds J users to every
 * group, from a pool of B·J users no organisation knows yet (group b gets [b·J, (b+1)·J)): the 1% who join
 * between two syncs, logged as membership changes so groups/delta reports them.
 *
 * Control (JSON): `GET /orgs` what the bot needs to store its tokens and runs; `POST /join`; `GET /stats`
 * (`POST` resets the sandbox's request counts); `GET /verify` who holds what at Apple now.
 */

const MDM = { id: 'vpp-books-bot:bench', name: 'VPP Books bot (bench)' };

export interface WorldOrg {
  index: number;
  bearer: string;
  orgName: string;
  uId: string;
  locationName: string;
  books: Array<{ adamId: string; title: string; totalCount: number; groupId: string; groupName: string }>;
}

export interface WorldInfo {
  appleBaseUrl: string;
  graphBaseUrl: string;
  controlUrl: string;
  seedMs: number;
}

export interface WorldStats {
  maxRssBytes: number;
  rssBytes: number;
  apple: { requests: number; maxRequestsPerSecond: number; byPath: Record<string, number> };
}

export interface WorldVerify {
  /** Licenses assigned at Apple, all organisations and books. */
  assigned: number;
  /** (group, joiner) pairs: joiners who hold the group's book, and those who do not. */
  joinersHolding: number;
  joinersWithout: number;
  /** Licenses of a book held by users who are not members of its group (never expected). */
  strangers: number;
}

const worldUserId = (n: number): string => `96000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const worldGroupId = (n: number): string => `95000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tokens: { type: 'string' },
      books: { type: 'string' },
      members: { type: 'string' },
      joiners: { type: 'string' },
      'page-size': { type: 'string', default: '200' },
      'graph-page-size': { type: 'string', default: '999' },
    },
  });
  const int = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got "${value}"`);
    return n;
  };
  const tokens = int('tokens', values.tokens);
  const books = int('books', values.books);
  const members = int('members', values.members);
  const joiners = int('joiners', values.joiners);
  const started = Date.now();

  // The directory: B·M members and B·J joiners, one group per organisation and book.
  const memberIds = Array.from({ length: books * members }, (_, n) => worldUserId(n));
  const joinerIds = Array.from({ length: books * joiners }, (_, n) => worldUserId(books * members + n));
  const users: LocalUser[] = [...memberIds, ...joinerIds].map((id, n) => ({
    id,
    displayName: `Student ${n}`,
    userPrincipalName: `student${n}@bench.example`,
    mail: `student${n}@bench.example`,
    // A third have a Managed Apple Account (created Associated), the rest are invited by e-mail.
    managedAppleId: n % 3 === 0 ? `student${n}@appleid.bench.example` : undefined,
  }));
  const groups: LocalGroup[] = [];
  for (let t = 0; t < tokens; t++) {
    for (let b = 0; b < books; b++) {
      groups.push({ id: worldGroupId(t * books + b), displayName: `Bench ${t} Year ${b}`, members: memberIds.slice(b * members, (b + 1) * members) });
    }
  }
  const directory = await startLocalDirectory({ port: 0, seedDemoData: false, pageSize: int('graph-page-size', values['graph-page-size']), users, groups });
  groups.length = 0;

  // Apple: per organisation, every member a user (Associated) holding the book of their group.
  const sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0, pageSize: int('page-size', values['page-size']), seedDemoData: false });
  const { state } = sandbox;
  const orgs: WorldOrg[] = [];
  const adamIdOf = (t: number, b: number): string => String(1_900_000_000 + t * books + b);
  for (let t = 0; t < tokens; t++) {
    const bookList = Array.from({ length: books }, (_, b) => ({
      adamId: adamIdOf(t, b),
      title: `Bench Reader ${t}.${b}`,
      author: 'Bench',
      // Room for the budget (members + 2% of them) and more: Apple never runs out in this scenario.
      totalCount: members + 4 * joiners + 100,
    }));
    const org = state.addOrganisation({ orgName: `Bench ${t}`, mdmInfo: MDM, books: bookList });
    for (const [n, id] of memberIds.entries()) {
      state.putUser(org, { clientUserId: id, entryId: id, userId: String(100_000_000 + n), status: 'Associated' });
    }
    for (let b = 0; b < books; b++) {
      for (const id of memberIds.slice(b * members, (b + 1) * members)) {
        const failure = state.assign(org, adamIdOf(t, b), 'STDQ', id);
        if (failure) throw new Error(`seeding: assigning ${id} failed with ${failure.errorNumber}`);
      }
    }
    orgs.push({
      index: t,
      bearer: state.mintToken(org),
      orgName: org.orgName,
      uId: org.uId,
      locationName: org.locationName,
      books: bookList.map((book, b) => ({ adamId: book.adamId, title: book.title, totalCount: book.totalCount, groupId: worldGroupId(t * books + b), groupName: `Bench ${t} Year ${b}` })),
    });
  }

  const join = (): { joined: number } => {
    let joined = 0;
    for (let t = 0; t < tokens; t++) {
      for (let b = 0; b < books; b++) {
        directory.state.addMembers(worldGroupId(t * books + b), joinerIds.slice(b * joiners, (b + 1) * joiners));
        joined += joiners;
      }
    }
    return { joined };
  };

  const verify = (): WorldVerify => {
    let assigned = 0;
    let joinersHolding = 0;
    let joinersWithout = 0;
    let strangers = 0;
    for (const org of state.organisations.values()) {
      const t = Number(org.orgName.slice('Bench '.length));
      for (const book of org.books.values()) assigned += book.assignedCount;
      for (let b = 0; b < books; b++) {
        for (const id of joinerIds.slice(b * joiners, (b + 1) * joiners)) {
          if (org.assignments.has(assignmentKey(adamIdOf(t, b), 'STDQ', id))) joinersHolding++;
          else joinersWithout++;
        }
      }
      for (const a of org.assignments.values()) {
        const b = Number(a.adamId) - 1_900_000_000 - t * books;
        const n = Number(a.clientUserId.slice(-12));
        const member = n < books * members ? Math.floor(n / members) === b : Math.floor((n - books * members) / joiners) === b;
        if (!member) strangers++;
      }
    }
    return { assigned, joinersHolding, joinersWithout, strangers };
  };

  const stats = (): WorldStats => {
    const { requests, maxRequestsPerSecond, byPath } = sandbox.stats.toJSON();
    return { maxRssBytes: process.resourceUsage().maxRSS * 1024, rssBytes: process.memoryUsage().rss, apple: { requests, maxRequestsPerSecond, byPath } };
  };

  const control = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    req.resume();
    req.on('end', () => {
      try {
        const route = `${req.method ?? 'GET'} ${req.url ?? '/'}`;
        if (route === 'GET /orgs') return send(200, orgs);
        if (route === 'POST /join') return send(200, join());
        if (route === 'GET /verify') return send(200, verify());
        if (route === 'GET /stats') return send(200, stats());
        if (route === 'POST /stats') {
          const before = stats();
          sandbox.stats.reset();
          return send(200, before);
        }
        send(404, { error: `no route ${route}` });
      } catch (err) {
        send(500, { error: err instanceof Error ? err.message : String(err) });
      }
    });
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const { port } = control.address() as AddressInfo;
  const info: WorldInfo = { appleBaseUrl: sandbox.baseUrl, graphBaseUrl: directory.baseUrl, controlUrl: `http://127.0.0.1:${port}`, seedMs: Date.now() - started };
  announceAndServe(info, async () => {
    control.close();
    await directory.close();
    await sandbox.close();
  });
}

if (require.main === module) runMain(main);
