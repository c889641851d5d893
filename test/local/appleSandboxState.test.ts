import { strict as assert } from 'node:assert';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAppleSandbox, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../../local/appleSandbox/demoData';
import { capturingLogger } from '../support/logCapture';

const NORTHWIND = DEMO_TOKEN_FILES['demo-valid.vpptoken'];
const FABRIKAM = DEMO_TOKEN_FILES['demo-other-mdm.vpptoken'];
/** Moby-Dick: 40 licenses, 3 spent by the demo's earlier MDM. */
const MOBY_DICK = { adamId: '1447212318', pricingParam: 'STDQ' };
const VPP_BOOKS_MDM = { id: 'vpp-books-local', name: 'VPP Books', metadata: 'local tenant' };

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(sandbox: RunningAppleSandbox, bearer: string, method: 'GET' | 'POST', route: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${sandbox.baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function mobyDick(sandbox: RunningAppleSandbox): Promise<Record<string, unknown> | undefined> {
  const { body } = await call(sandbox, NORTHWIND, 'GET', `/assets?adamId=${MOBY_DICK.adamId}`);
  return (body.assets as Array<Record<string, unknown>>)[0];
}

/** Waits for an event to finish, as a client polls /status. */
async function settled(sandbox: RunningAppleSandbox, bearer: string, eventId: unknown): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const { body } = await call(sandbox, bearer, 'GET', `/status?eventId=${String(eventId)}`);
    if (body.eventStatus !== 'PENDING') return String(body.eventStatus);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the event never finished');
}

describe('Apple sandbox state kept in a file (local mode)', function () {
  this.timeout(20_000);
  let dir: string;
  let file: string;
  const running: RunningAppleSandbox[] = [];
  const start = async (stateFile: string, logger = capturingLogger().logger): Promise<RunningAppleSandbox> => {
    const sandbox = await startAppleSandbox({ port: 0, stateFile, eventDelayMs: 0, logger });
    running.push(sandbox);
    return sandbox;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vpp-sandbox-state-'));
    file = path.join(dir, 'apple-sandbox.json');
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a token taken from Contoso, spent licenses, users and versionIds across a restart', async () => {
    const first = await start(file);
    assert.equal(((await call(first, FABRIKAM, 'GET', '/client/config')).body.mdmInfo as { name: string }).name, 'Contoso MDM', 'the demo starts with Contoso holding Fabrikam');
    assert.equal((await call(first, FABRIKAM, 'POST', '/client/config', { mdmInfo: VPP_BOOKS_MDM })).status, 200);
    const created = await call(first, NORTHWIND, 'POST', '/users/create', { users: [{ clientUserId: 'student-1', managedAppleId: 'student-1@appleid.example' }] });
    assert.equal(await settled(first, NORTHWIND, created.body.eventId), 'COMPLETE');
    const associated = await call(first, NORTHWIND, 'POST', '/assets/associate', { assets: [MOBY_DICK], clientUserIds: ['student-1'] });
    assert.equal(await settled(first, NORTHWIND, associated.body.eventId), 'COMPLETE');
    assert.equal((await mobyDick(first))?.assignedCount, 4);
    const usersVersion = (await call(first, NORTHWIND, 'GET', '/users')).body.versionId;
    const clientConfig = (await call(first, NORTHWIND, 'GET', '/client/config')).body;
    // A purchase made in-process, not through the API: saved when the sandbox closes.
    const northwind = [...first.state.organisations.values()].find((o) => o.orgName === 'Northwind Academy');
    assert.ok(northwind);
    first.state.addBook(northwind, { adamId: '1447299999', title: 'Persuasion', author: 'Jane Austen', totalCount: 12 });
    await first.close();

    const second = await start(file);
    assert.deepEqual((await call(second, FABRIKAM, 'GET', '/client/config')).body.mdmInfo, VPP_BOOKS_MDM, 'Fabrikam stays with VPP Books, not back to Contoso');
    assert.deepEqual((await call(second, NORTHWIND, 'GET', '/client/config')).body, clientConfig, 'the same organisation (uId, location)');
    const book = await mobyDick(second);
    assert.equal(book?.assignedCount, 4, 'the license spent before the restart stays spent');
    assert.equal(book?.availableCount, 36);
    const assignments = (await call(second, NORTHWIND, 'GET', '/assignments?clientUserId=student-1')).body.assignments;
    assert.deepEqual(assignments, [{ ...MOBY_DICK, clientUserId: 'student-1' }]);
    const persuasion = (await call(second, NORTHWIND, 'GET', '/assets?adamId=1447299999')).body.assets as Array<{ totalCount: number }>;
    assert.equal(persuasion[0]?.totalCount, 12, 'the book bought before the restart');
    const since = await call(second, NORTHWIND, 'GET', `/users?sinceVersionId=${String(usersVersion)}`);
    assert.equal(since.status, 200, `a versionId handed out before the restart is still known: ${JSON.stringify(since.body)}`);
    assert.equal((await call(second, DEMO_TOKEN_FILES['demo-expired.vpptoken'], 'GET', '/client/config')).body.errorNumber, 9621, 'the expired demo token is still refused as expired');
    assert.equal((await call(second, 'not-a-token', 'GET', '/client/config')).body.errorNumber, 9622, 'an unknown token is still unknown');
  });

  it('has every change on disk before the answer that shows it, so a killed sandbox loses nothing a client saw', async () => {
    const sandbox = await start(file);
    assert.equal((await call(sandbox, FABRIKAM, 'POST', '/client/config', { mdmInfo: VPP_BOOKS_MDM })).status, 200);
    const created = await call(sandbox, NORTHWIND, 'POST', '/users/create', { users: [{ clientUserId: 'student-2', managedAppleId: 'student-2@appleid.example' }] });
    assert.equal(await settled(sandbox, NORTHWIND, created.body.eventId), 'COMPLETE');
    // A slow event: the assignment is still PENDING when the process dies.
    sandbox.state.eventDelayMs = 60_000;
    const associated = await call(sandbox, NORTHWIND, 'POST', '/assets/associate', { assets: [MOBY_DICK], clientUserIds: ['student-2'] });
    const assignmentsVersion = (await call(sandbox, NORTHWIND, 'GET', '/assignments')).body.versionId;
    // What a SIGKILL would leave: the file as it is now, the sandbox never closed.
    const killed = path.join(dir, 'killed.json');
    await copyFile(file, killed);

    const restarted = await start(killed);
    assert.deepEqual((await call(restarted, FABRIKAM, 'GET', '/client/config')).body.mdmInfo, VPP_BOOKS_MDM);
    assert.equal((await call(restarted, NORTHWIND, 'GET', `/assignments?sinceVersionId=${String(assignmentsVersion)}`)).status, 200, 'a versionId a client was just given is still known');
    const status = `/status?eventId=${String(associated.body.eventId)}`;
    assert.equal((await call(restarted, NORTHWIND, 'GET', status)).body.eventStatus, 'PENDING', 'the event the client polls is still known');
    restarted.state.now = () => new Date(Date.now() + 120_000);
    assert.equal((await call(restarted, NORTHWIND, 'GET', status)).body.eventStatus, 'COMPLETE', 'and finishes when due');
    assert.equal((await mobyDick(restarted))?.assignedCount, 4, 'spending its license once');
    assert.deepEqual((await call(restarted, NORTHWIND, 'GET', '/assignments?clientUserId=student-2')).body.assignments, [{ ...MOBY_DICK, clientUserId: 'student-2' }]);
  });

  it('keeps no token in the file, only what recognises one', async () => {
    const sandbox = await start(file);
    await call(sandbox, FABRIKAM, 'POST', '/client/config', { mdmInfo: VPP_BOOKS_MDM });
    await sandbox.close();
    const saved = await readFile(file, 'utf8');
    assert.ok(saved.includes('Fabrikam Public Library'), 'the file holds the state');
    for (const secret of [...Object.values(DEMO_TOKEN_FILES), ...Object.values(DEMO_TOKENS).map((t) => t.token)]) assert.ok(!saved.includes(secret), 'no token in the file');
  });

  for (const [kind, content] of [
    ['not JSON', '{"format": 1, "organisations": ['],
    ['JSON of the wrong shape', JSON.stringify({ format: 1, savedAt: 'now', organisations: [{ id: 'x' }], tokens: [], events: [] })],
    ['a token naming no organisation', JSON.stringify({ format: 1, savedAt: 'now', organisations: [], tokens: [{ sha256: 'a'.repeat(64), orgId: 'gone', expiresAt: '2036-01-01T00:00:00.000Z', revoked: false }], events: [] })],
  ] as const) {
    it(`starts from the demo data when the file is ${kind}, warns, and keeps the bad file aside`, async () => {
      await writeFile(file, content);
      const { logger, lines } = capturingLogger();
      const sandbox = await start(file, logger);
      assert.equal(((await call(sandbox, FABRIKAM, 'GET', '/client/config')).body.mdmInfo as { name: string }).name, 'Contoso MDM', 'the demo data');
      assert.equal((await mobyDick(sandbox))?.assignedCount, 3);
      const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string; file?: string }).find((l) => l.level === 40 && /unreadable/.test(l.msg));
      assert.ok(warning, `a warning: ${lines.join('\n')}`);
      const aside = (await readdir(dir)).filter((name) => name.startsWith('apple-sandbox.json.unreadable-'));
      assert.equal(aside.length, 1, 'the bad file is kept aside');
      assert.equal(warning.file, path.join(dir, aside[0] ?? ''), 'the warning says where');
      assert.equal(await readFile(path.join(dir, aside[0] ?? ''), 'utf8'), content, 'unchanged');

      await call(sandbox, FABRIKAM, 'POST', '/client/config', { mdmInfo: VPP_BOOKS_MDM });
      await sandbox.close();
      const again = await start(file);
      assert.deepEqual((await call(again, FABRIKAM, 'GET', '/client/config')).body.mdmInfo, VPP_BOOKS_MDM, 'the new file is good again');
    });
  }

  it('stays in memory without a file, as the standalone sandbox and the tests run it', async () => {
    const first = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    running.push(first);
    await call(first, FABRIKAM, 'POST', '/client/config', { mdmInfo: VPP_BOOKS_MDM });
    await first.close();
    const second = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    running.push(second);
    assert.equal(((await call(second, FABRIKAM, 'GET', '/client/config')).body.mdmInfo as { name: string }).name, 'Contoso MDM');
    assert.deepEqual(await readdir(dir), [], 'nothing written');
  });
});
