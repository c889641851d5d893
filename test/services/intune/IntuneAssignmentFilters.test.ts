import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { DEMO_GROUPS } from '../../../local/directory';
import { startLocalIntune, type LocalIntuneServer } from '../../../local/intune/LocalIntuneServer';
import { IntuneAssignmentPlanner } from '../../../services/intune/IntuneAssignmentPlanner';
import { IntuneGraphClient } from '../../../services/intune/IntuneGraphClient';
import { IntuneAssignEnvironment } from './IntuneAssignmentFixtures';

const DEMO_TOKEN = readFileSync(path.join(__dirname, '../../../local/appleSandbox/tokens/demo-valid.vpptoken'), 'utf8');

interface Listed<T> {
  value: T[];
}
type Target = Record<string, unknown> & { groupId?: string };

/**
 * Assignment filters (issue #20 review, P1): an Intune admin's filter exists on beta only, so the bot must read
 * the book's assignments and `assign` them back on beta. Everything real but Teams: the Intune client over HTTP
 * against the local Intune (which shows filters on beta only, as Graph does), the local directory, embedded Cosmos.
 */
describe('Intune assignment keeps an Intune admin\'s assignment filter (real client, local Intune)', function () {
  this.timeout(60_000);
  const env = new IntuneAssignEnvironment();
  let sandbox: RunningAppleSandbox;
  let localIntune: LocalIntuneServer;

  async function graph<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${localIntune.baseUrl}${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  before(async () => {
    await env.start();
    sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    localIntune = await startLocalIntune({ appleBaseUrl: sandbox.baseUrl, directoryBaseUrl: env.directoryServer.baseUrl, syncDelayMs: 0, fetchCovers: false });
  });
  after(async () => {
    await localIntune?.stop();
    await sandbox?.close();
    await env.stop();
  });

  it('reads and sends the list on beta: the filter survives the delivery, and is part of the check', async () => {
    const token = await graph<{ id: string }>('POST', '/beta/deviceAppManagement/vppTokens', { token: DEMO_TOKEN, appleId: 'library@northwind.example', vppTokenAccountType: 'education' });
    assert.equal(token.status, 201);
    await graph('POST', `/beta/deviceAppManagement/vppTokens/${token.body.id}/syncLicenses`);
    await localIntune.idle();
    const books = await graph<Listed<{ id: string; totalLicenseCount: number; usedLicenseCount: number }>>('GET', '/v1.0/deviceAppManagement/managedEBooks?$top=1000');
    const intuneBook = books.body.value.find((b) => b.totalLicenseCount - b.usedLicenseCount > 200);
    assert.ok(intuneBook, 'a book with licenses to spare');
    // An Intune admin's assignment in the portal, to iPads only (an include filter: beta).
    const filtered = { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: DEMO_GROUPS.teachers, deviceAndAppManagementAssignmentFilterId: 'f-ipads-only', deviceAndAppManagementAssignmentFilterType: 'include' };
    const made = await graph('POST', `/beta/deviceAppManagement/managedEBooks/${intuneBook.id}/assignments`, { '@odata.type': '#microsoft.graph.iosVppEBookAssignment', installIntent: 'required', target: filtered });
    assert.equal(made.status, 201, JSON.stringify(made.body));

    const client = new IntuneGraphClient({ baseUrl: localIntune.baseUrl, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    const read = await client.listAssignments(intuneBook.id);
    assert.deepEqual(read.map((a) => a.target), [filtered], 'read with its filter');

    // The bot's book in the store points at the local Intune's.
    const seeded = await env.seedBook({ total: intuneBook.totalLicenseCount, used: intuneBook.usedLicenseCount });
    const book = { ...seeded.book, intuneBookId: intuneBook.id };
    await env.store.books.upsertIfChanged(book);
    const s = env.services({ intune: client });
    const planner = new IntuneAssignmentPlanner(env.directory, client, env.runs);
    const preview = await planner.preview({ token: seeded.token, book, groups: [await env.group(DEMO_GROUPS.year9FormA)], installIntent: 'required' });
    const { run } = await env.deliver(s, preview);
    assert.deepEqual([run?.state, run?.lastError], ['completed', undefined]);
    assert.deepEqual(run?.intuneBefore?.map((a) => a.target), [filtered]);

    const after = await graph<Listed<{ target: Target; installIntent: string }>>('GET', `/beta/deviceAppManagement/managedEBooks/${intuneBook.id}/assignments`);
    const teachers = after.body.value.find((a) => a.target.groupId === DEMO_GROUPS.teachers);
    assert.deepEqual(teachers?.target, filtered, "the admin's filter is still there");
    assert.deepEqual(
      after.body.value.find((a) => a.target.groupId === DEMO_GROUPS.year9FormA)?.target,
      { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: DEMO_GROUPS.year9FormA, deviceAndAppManagementAssignmentFilterId: null, deviceAndAppManagementAssignmentFilterType: 'none' },
    );
  });
});
