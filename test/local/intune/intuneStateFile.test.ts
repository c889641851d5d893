import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../../../local/appleSandbox/demoData';
import { DEMO_GROUPS, startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';
import { startLocalIntune, type LocalIntuneOptions, type LocalIntuneServer } from '../../../local/intune/LocalIntuneServer';
import { keyringFromSettings } from '../../../services/crypto/keyConfig';
import { TokenCipher, encryptedSecretSchema } from '../../../services/crypto/TokenCipher';
import { capturingLogger } from '../../support/logCapture';
import { secretsLedger } from '../../support/secretsLedger';

const VALID = DEMO_TOKEN_FILES['demo-valid.vpptoken'];
/** The token inside the .vpptoken file (Base64 JSON): the other form a leak could take. */
const VALID_INNER = DEMO_TOKENS.valid.token;

type Json = Record<string, unknown>;

async function graph(intune: LocalIntuneServer, method: string, route: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${intune.baseUrl}/beta${route}`, {
    method,
    headers: { authorization: 'Bearer local', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

/** An answer without what names the server's port (@odata.context), which a restart changes. */
async function read(intune: LocalIntuneServer, route: string): Promise<Json> {
  const answer = await graph(intune, 'GET', route);
  assert.equal(answer.status, 200, `${route}: ${JSON.stringify(answer.body)}`);
  const { '@odata.context': _context, ...rest } = answer.body;
  return rest;
}

const assignRequired = (groupId: string): Json => ({
  '@odata.type': '#microsoft.graph.managedEBookAssignment',
  target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId },
  installIntent: 'required',
});

describe('local Intune state kept in a file (local mode)', function () {
  this.timeout(20_000);
  let dir: string;
  let file: string;
  let keyFile: string;
  let sandbox: RunningAppleSandbox;
  let directory: RunningLocalDirectory;
  const running: LocalIntuneServer[] = [];

  const start = async (options: Partial<LocalIntuneOptions> = {}): Promise<LocalIntuneServer> => {
    const intune = await startLocalIntune({ appleBaseUrl: sandbox.baseUrl, directoryBaseUrl: directory.baseUrl, syncDelayMs: 0, stateFile: file, logger: capturingLogger().logger, ...options });
    running.push(intune);
    return intune;
  };
  const restart = async (intune: LocalIntuneServer, options: Partial<LocalIntuneOptions> = {}): Promise<LocalIntuneServer> => {
    await intune.stop();
    running.splice(running.indexOf(intune), 1);
    return start(options);
  };
  const upload = async (intune: LocalIntuneServer): Promise<string> => {
    const created = await graph(intune, 'POST', '/deviceAppManagement/vppTokens', { token: VALID, appleId: 'vpp@northwind.example', vppTokenAccountType: 'education' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return String(created.body.id);
  };
  const sync = async (intune: LocalIntuneServer, tokenId: string): Promise<Json> => {
    assert.equal((await graph(intune, 'POST', `/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`)).status, 200);
    await intune.idle();
    return read(intune, `/deviceAppManagement/vppTokens/${tokenId}`);
  };
  const savedText = async (): Promise<string> => {
    const text = await readFile(file, 'utf8');
    // The suite's leak detector reads it too: the root hook fails the run if it holds a token in any known form.
    secretsLedger.record('stored document', text, 'local Intune state file');
    return text;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vpp-intune-state-'));
    file = path.join(dir, 'intune.json');
    keyFile = path.join(dir, 'intune.key');
    sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    directory = await startLocalDirectory({ port: 0, studentCount: 50 });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((intune) => intune.stop()));
    await Promise.all([sandbox.close(), directory.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers after a restart as before it: the token, its books, their assignments and device states', async () => {
    let intune = await start();
    const tokenId = await upload(intune);
    assert.equal((await sync(intune, tokenId)).lastSyncStatus, 'completed');
    const books = (await read(intune, '/deviceAppManagement/managedEBooks?$top=100')).value as Json[];
    const book = books.find((b) => b.displayName === 'Pride and Prejudice');
    assert.ok(book);
    const route = `/deviceAppManagement/managedEBooks/${String(book.id)}`;
    assert.equal((await graph(intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignRequired(DEMO_GROUPS.englishDepartment)] })).status, 204);
    await intune.idle();
    await intune.tick();
    await intune.idle();

    const routes = [
      `/deviceAppManagement/vppTokens/${tokenId}`,
      '/deviceAppManagement/managedEBooks?$top=100&$expand=assignments',
      `${route}/deviceStates?$top=100`,
      `${route}/userStateSummary?$top=100`,
      `${route}/installSummary`,
    ];
    const before = await Promise.all(routes.map((r) => read(intune, r)));
    const devices = before[2]?.value as Json[];
    assert.ok(devices.length > 0 && devices.some((d) => d.installState === 'installed'), 'devices have checked in');
    assert.equal((before[1]?.value as Json[]).length, books.length);

    const savedAt = (JSON.parse(await savedText()) as { savedAt: string }).savedAt;
    intune = await restart(intune);
    assert.deepEqual(await Promise.all(routes.map((r) => read(intune, r))), before);
    // A check-in that changes nothing (every device is done) writes nothing: the restored state counts as saved.
    assert.equal((await fetch(`${intune.baseUrl}/_intune/tick`, { method: 'POST' })).status, 200);
    assert.equal((JSON.parse(await savedText()) as { savedAt: string }).savedAt, savedAt);

    // The restored token is the one Apple knows: Intune syncs with it again, and the book keeps its assignment.
    const again = await sync(intune, tokenId);
    assert.equal(again.lastSyncStatus, 'completed');
    assert.equal(again.state, 'valid');
    const assignments = (await read(intune, `${route}/assignments`)).value as Json[];
    assert.deepEqual(
      assignments.map((a) => [a.installIntent, (a.target as Json).groupId]),
      [['required', DEMO_GROUPS.englishDepartment]],
    );
  });

  it('keeps the token only encrypted, under a key in intune.key, both files readable by their owner alone', async () => {
    const intune = await start();
    const tokenId = await upload(intune);
    await sync(intune, tokenId);
    const text = await savedText();
    assert.ok(!text.includes(VALID), 'the .vpptoken file is not in the state file');
    assert.ok(!text.includes(VALID_INNER), 'nor the token inside it');
    assert.ok(!text.includes(Buffer.from(VALID_INNER).toString('base64')), 'nor that token in Base64');

    const saved = JSON.parse(text) as { tokens: Array<{ id: string; sealedToken: unknown; token?: unknown }> };
    assert.equal(saved.tokens.length, 1);
    assert.equal(saved.tokens[0]?.token, undefined);
    // It is there, sealed: the key file opens it, bound to the token's id.
    const cipher = new TokenCipher(keyringFromSettings(JSON.parse(await readFile(keyFile, 'utf8')) as { keyId: string; key: string }));
    const sealed = encryptedSecretSchema.parse(saved.tokens[0]?.sealedToken);
    assert.equal(cipher.decrypt(sealed, `local-intune/vppTokens/${tokenId}`).reveal(), VALID);
    assert.throws(() => cipher.decrypt(sealed, 'local-intune/vppTokens/another-id'));

    for (const owned of [file, keyFile]) assert.equal((await stat(owned)).mode & 0o777, 0o600, path.basename(owned));
  });

  it('writes a change before answering it, and nothing when nothing changed', async () => {
    const intune = await start();
    const tokenId = await upload(intune);
    const saved = JSON.parse(await savedText()) as { tokens: Json[]; savedAt: string };
    assert.deepEqual(
      saved.tokens.map((t) => t.id),
      [tokenId],
      'the 201 came after the write',
    );
    assert.equal((await graph(intune, 'PATCH', `/deviceAppManagement/vppTokens/${tokenId}`, { displayName: 'Northwind (renamed)' })).status, 200);
    const patched = JSON.parse(await savedText()) as { tokens: Json[]; savedAt: string };
    assert.equal(patched.tokens[0]?.displayName, 'Northwind (renamed)');

    // A request that changes nothing (a refused one) leaves the file as it is.
    assert.equal((await graph(intune, 'PATCH', `/deviceAppManagement/vppTokens/${tokenId}`, { vppTokenAccountType: 'neither' })).status, 400);
    assert.equal((JSON.parse(await savedText()) as { savedAt: string }).savedAt, patched.savedAt);
    assert.equal((await graph(intune, 'DELETE', `/deviceAppManagement/vppTokens/${tokenId}`)).status, 204);
    assert.deepEqual((JSON.parse(await savedText()) as { tokens: Json[] }).tokens, []);
  });

  it('finishes after a restart a sync the last run accepted but did not finish: completed, not inProgress for good', async () => {
    // A sync delay far beyond the test: stop() cuts it short, as a kill would.
    let intune = await start({ syncDelayMs: 3_600_000 });
    const tokenId = await upload(intune);
    const accepted = await graph(intune, 'POST', `/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`);
    assert.equal(accepted.body.lastSyncStatus, 'inProgress');
    await intune.stop();
    running.splice(running.indexOf(intune), 1);
    const saved = JSON.parse(await savedText()) as { tokens: Json[]; books: Json[] };
    assert.equal(saved.tokens[0]?.lastSyncStatus, 'inProgress');
    assert.equal(saved.books.length, 0);

    intune = await start();
    await intune.idle();
    const token = await read(intune, `/deviceAppManagement/vppTokens/${tokenId}`);
    assert.equal(token.lastSyncStatus, 'completed');
    assert.ok(Number(token.lastAppCount) > 0);
    assert.equal((token.tokenActionResults as Json[]).find((r) => r.actionName === 'syncLicenses')?.actionState, 'done');
    assert.ok(((await read(intune, '/deviceAppManagement/managedEBooks')).value as Json[]).length > 0);
    assert.equal((JSON.parse(await savedText()) as { tokens: Json[] }).tokens[0]?.lastSyncStatus, 'completed');
  });

  for (const [what, content] of [
    ['not JSON', '{"format": 1, "tokens": ['],
    ['JSON of another shape', JSON.stringify({ format: 1, savedAt: 'now', tokens: [{ id: 'x' }], books: [] })],
    ['a book of no token', JSON.stringify({ format: 1, savedAt: 'now', tokens: [], books: [{ id: 'b', vppTokenId: 'nobody' }] })],
  ] as const) {
    it(`moves a state file that is ${what} aside and starts empty, then saves afresh`, async () => {
      await writeFile(file, content);
      const { logger, lines } = capturingLogger();
      const intune = await start({ logger });
      assert.deepEqual((await read(intune, '/deviceAppManagement/vppTokens')).value, []);
      const aside = (await readdir(dir)).filter((name) => name.startsWith('intune.json.unreadable-'));
      assert.equal(aside.length, 1);
      assert.equal(await readFile(path.join(dir, aside[0] ?? ''), 'utf8'), content, 'kept as it was');
      assert.ok(lines.some((l) => l.includes('local Intune state unreadable')));

      const tokenId = await upload(intune);
      assert.deepEqual(
        (JSON.parse(await savedText()) as { tokens: Json[] }).tokens.map((t) => t.id),
        [tokenId],
      );
    });
  }

  it('moves the state aside when its tokens do not open with the key file (a lost or replaced key), and starts empty', async () => {
    let intune = await start();
    await upload(intune);
    await intune.stop();
    running.splice(running.indexOf(intune), 1);
    await writeFile(keyFile, JSON.stringify({ keyId: 'local-intune-1', key: randomBytes(32).toString('base64') }), { mode: 0o600 });

    const { logger, lines } = capturingLogger();
    intune = await start({ logger });
    assert.deepEqual((await read(intune, '/deviceAppManagement/vppTokens')).value, []);
    assert.equal((await readdir(dir)).filter((name) => name.startsWith('intune.json.unreadable-')).length, 1);
    assert.ok(lines.some((l) => l.includes('do not decrypt with intune.key')));

    await rm(keyFile);
    await upload(intune);
    intune = await restart(intune);
    assert.deepEqual((await read(intune, '/deviceAppManagement/vppTokens')).value, [], 'without its key the saved tokens are useless');
    assert.equal((await readdir(dir)).filter((name) => name.startsWith('intune.json.unreadable-')).length, 2);
  });

  it('moves a key file that is not a key aside and makes a new one', async () => {
    await writeFile(keyFile, 'not a key', { mode: 0o600 });
    const intune = await start();
    const tokenId = await upload(intune);
    assert.equal((await readdir(dir)).filter((name) => name.startsWith('intune.key.unreadable-')).length, 1);
    const restarted = await restart(intune);
    assert.equal((await read(restarted, `/deviceAppManagement/vppTokens/${tokenId}`)).id, tokenId);
  });
});
