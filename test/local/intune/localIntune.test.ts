import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { OTHER_MDM } from '../../../local/appleSandbox/demoData';
import type { SandboxOrganisation } from '../../../local/appleSandbox/SandboxState';
import { DEMO_GROUPS, startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';
import { INSTALL_FAILED_ERROR_CODE, NO_LICENSE_ERROR_CODE } from '../../../local/intune/IntuneState';
import { INTUNE_MDM_NAME, startLocalIntune, type LocalIntuneOptions, type LocalIntuneServer } from '../../../local/intune/LocalIntuneServer';
import { documentedFixtures } from '../../fixtures/documentedFixtures';

const fixtures = documentedFixtures(path.resolve(__dirname, '../../fixtures/intune'));
const tokenFile = (name: string): string => readFileSync(path.resolve(__dirname, '../../../local/appleSandbox/tokens', name), 'utf8');
const VALID = tokenFile('demo-valid.vpptoken');
const EXPIRED = tokenFile('demo-expired.vpptoken');
const OTHER = tokenFile('demo-other-mdm.vpptoken');
const MALFORMED = tokenFile('demo-malformed.vpptoken');

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  headers: Headers;
  body: Json;
}

interface Services {
  sandbox: RunningAppleSandbox;
  directory: RunningLocalDirectory;
  intune: LocalIntuneServer;
}

async function startAll(options: Partial<LocalIntuneOptions> = {}): Promise<Services> {
  const sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
  const directory = await startLocalDirectory({ port: 0, studentCount: 50 });
  const intune = await startLocalIntune({ appleBaseUrl: sandbox.baseUrl, directoryBaseUrl: directory.baseUrl, syncDelayMs: 0, pageSize: 10, ...options });
  return { sandbox, directory, intune };
}

async function stopAll(services: Services | undefined): Promise<void> {
  if (!services) return;
  await services.intune.stop();
  await Promise.all([services.sandbox.close(), services.directory.close()]);
}

/** A Graph request; `route` is under /beta unless it names /v1.0 itself, or a full URL (a nextLink). */
async function graph(intune: LocalIntuneServer, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const url = route.startsWith('http') ? route : `${intune.baseUrl}${route.startsWith('/v1.0') || route.startsWith('/beta') ? '' : '/beta'}${route}`;
  const response = await fetch(url, {
    method,
    headers: { authorization: 'Bearer local', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Json) : {} };
}

const upload = (intune: LocalIntuneServer, token: string, extra: Json = {}, version = '/beta') =>
  graph(intune, 'POST', `${version}/deviceAppManagement/vppTokens`, { token, appleId: 'vpp@northwind.example', vppTokenAccountType: 'education', ...extra });

function organisation(sandbox: RunningAppleSandbox, name: string): SandboxOrganisation {
  const org = [...sandbox.state.organisations.values()].find((o) => o.orgName === name);
  assert.ok(org, name);
  return org;
}

async function syncedToken(services: Services): Promise<Json> {
  const created = await upload(services.intune, VALID);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const synced = await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(created.body.id)}/syncLicenses`);
  assert.equal(synced.status, 200);
  await services.intune.idle();
  return (await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(created.body.id)}`)).body;
}

/** Every item of a collection, following @odata.nextLink; also returns the pages' sizes. */
async function allPages(intune: LocalIntuneServer, route: string): Promise<{ items: Json[]; sizes: number[] }> {
  const items: Json[] = [];
  const sizes: number[] = [];
  for (let next: string | undefined = route; next; ) {
    const page = await graph(intune, 'GET', next);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    const value = page.body.value as Json[];
    items.push(...value);
    sizes.push(value.length);
    next = page.body['@odata.nextLink'] as string | undefined;
  }
  return { items, sizes };
}

async function bookTitled(intune: LocalIntuneServer, title: string): Promise<Json> {
  const { items } = await allPages(intune, '/deviceAppManagement/managedEBooks?$top=100');
  const book = items.find((b) => b.displayName === title);
  assert.ok(book, title);
  return book;
}

const assignTo = (groupId: string, installIntent: string, id?: string): Json => ({
  '@odata.type': '#microsoft.graph.managedEBookAssignment',
  ...(id ? { id } : {}),
  target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId },
  installIntent,
});

function assertGraphError(answer: Answer, status: number, code?: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  const error = answer.body.error as Json;
  assert.equal(typeof error.code, 'string');
  if (code) assert.equal(error.code, code);
  assert.equal(typeof error.message, 'string');
  const inner = error.innerError as Json;
  assert.match(String(inner.date), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  assert.equal(typeof inner['request-id'], 'string');
  assert.equal(typeof inner['client-request-id'], 'string');
}

// ---- shapes against the documented examples ----

const typeOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
/** Graph's OpenAPI marks these nullable (test/fixtures/intune/NOTES.md); Intune leaves them null when it has nothing. */
const NULLABLE = new Set(['description', 'informationUrl', 'privacyInformationUrl', 'largeCover', 'appleId', 'errorCode']);

/**
 * `actual` has every property the documented example has, with the same JSON type (null allowed where Graph
 * allows it), nested objects and the first item of arrays alike; properties the example lacks must be in `extra`.
 */
function assertSameShape(actual: unknown, documented: unknown, extra: readonly string[] = [], where = '$'): void {
  if (typeOf(documented) === 'object' && typeOf(actual) === 'object') {
    const a = actual as Json;
    const d = documented as Json;
    for (const key of Object.keys(d)) {
      assert.ok(key in a, `${where}.${key} is missing`);
      if (a[key] === null && NULLABLE.has(key)) continue;
      assertSameShape(a[key], d[key], extra, `${where}.${key}`);
    }
    for (const key of Object.keys(a)) assert.ok(key in d || extra.includes(key), `${where}.${key} is not in the documented example`);
    return;
  }
  assert.equal(typeOf(actual), typeOf(documented), `${where}: ${typeOf(actual)} instead of ${typeOf(documented)}`);
  if (Array.isArray(documented) && Array.isArray(actual) && documented.length > 0 && actual.length > 0) assertSameShape(actual[0], documented[0], extra, `${where}[0]`);
}

/** The entity inside a documented `{"value": {…}}` envelope, or the example itself. */
function unwrapped(example: unknown): unknown {
  const value = (example as Json).value;
  return typeOf(value) === 'object' ? value : example;
}

describe('local Intune (Graph deviceAppManagement, backed by the Apple sandbox and the local directory)', function () {
  let services: Services | undefined;
  afterEach(async () => {
    await stopAll(services);
    services = undefined;
  });

  describe('vppTokens', () => {
    it('takes the demo token: valid, with the organisation, location and expiry Apple gives, and Intune becomes its MDM at Apple', async () => {
      services = await startAll();
      const created = await upload(services.intune, VALID, { displayName: 'Northwind' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body['@odata.type'], '#microsoft.graph.vppToken');
      assert.equal(created.body.state, 'valid');
      assert.equal(created.body.organizationName, 'Northwind Academy');
      assert.equal(created.body.expirationDateTime, '2036-06-30T23:59:59.000Z');
      assert.equal(created.body.locationName, 'Northwind Academy – Main Campus');
      assert.equal(created.body.countryOrRegion, 'us');
      assert.equal(created.body.lastSyncStatus, 'none');
      assert.equal(created.body.lastSyncDateTime, '0001-01-01T00:00:00.000Z');
      assert.equal(created.body.displayName, 'Northwind');
      assert.equal(organisation(services.sandbox, 'Northwind Academy').mdmInfo?.name, INTUNE_MDM_NAME);

      const listed = await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens');
      assert.deepEqual((listed.body.value as Json[]).map((t) => t.id), [created.body.id]);
      assert.match(String(listed.body['@odata.context']), /\/beta\/\$metadata#deviceAppManagement\/vppTokens$/);
    });

    it('takes the documented create body as it is (read-only properties included), with a real token in it', async () => {
      services = await startAll();
      const body = { ...fixtures.load<Json>('vpptoken-create-request'), token: VALID };
      const created = await graph(services.intune, 'POST', '/v1.0/deviceAppManagement/vppTokens', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.organizationName, 'Northwind Academy', 'the file names the organisation, not the body');
      assert.equal(created.body.state, 'valid');
      assert.equal(created.body.lastSyncStatus, 'none');
      assert.equal(created.body.appleId, 'Apple Id value');
    });

    it('gives an expired token the state expired, and refuses a file that is not a token with a Graph error', async () => {
      services = await startAll();
      const expired = await upload(services.intune, EXPIRED);
      assert.equal(expired.status, 201);
      assert.equal(expired.body.state, 'expired');
      assert.equal(expired.body.expirationDateTime, '2024-06-30T12:00:00.000Z');

      const malformed = await upload(services.intune, MALFORMED);
      assertGraphError(malformed, 400, 'BadRequest');
      assert.match(String((malformed.body.error as Json).message), /token_missing_fields/);
      const listed = await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens');
      assert.equal((listed.body.value as Json[]).length, 1, 'the refused file left nothing behind');
    });

    it("leaves another MDM's token with it (assignedToExternalMDM) unless the admin agrees to claim it", async () => {
      services = await startAll();
      const fabrikam = organisation(services.sandbox, 'Fabrikam Public Library');
      const held = await upload(services.intune, OTHER);
      assert.equal(held.status, 201);
      assert.equal(held.body.state, 'assignedToExternalMDM');
      assert.equal(fabrikam.mdmInfo?.name, OTHER_MDM.name, 'Apple still names the other MDM');

      const sync = await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(held.body.id)}/syncLicenses`);
      assert.equal(sync.status, 200);
      await services.intune.idle();
      const afterSync = await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(held.body.id)}`);
      assert.equal(afterSync.body.lastSyncStatus, 'failed');
      assert.equal(afterSync.body.state, 'assignedToExternalMDM');

      const claimed = await graph(services.intune, 'PATCH', `/deviceAppManagement/vppTokens/${String(held.body.id)}`, { claimTokenManagementFromExternalMdm: true });
      assert.equal(claimed.status, 200);
      assert.equal(claimed.body.state, 'valid');
      assert.equal(fabrikam.mdmInfo?.name, INTUNE_MDM_NAME);
    });

    it('claims at once when the upload already agrees to take the token from the other MDM', async () => {
      services = await startAll();
      const created = await upload(services.intune, OTHER, { claimTokenManagementFromExternalMdm: true });
      assert.equal(created.body.state, 'valid');
      assert.equal(organisation(services.sandbox, 'Fabrikam Public Library').mdmInfo?.name, INTUNE_MDM_NAME);
    });

    it('marks a second token for a location another token already has as duplicateLocationId (beta; v1.0 shows invalid) and never syncs it', async () => {
      services = await startAll();
      const first = await upload(services.intune, VALID);
      const second = services.sandbox.state.mintToken(organisation(services.sandbox, 'Northwind Academy'), { expiresAt: new Date('2035-01-01T00:00:00Z') });
      const duplicate = await upload(services.intune, second);
      assert.equal(duplicate.status, 201);
      assert.equal(duplicate.body.state, 'duplicateLocationId');
      const v1 = await graph(services.intune, 'GET', `/v1.0/deviceAppManagement/vppTokens/${String(duplicate.body.id)}`);
      assert.equal(v1.body.state, 'invalid');
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(duplicate.body.id)}/syncLicenses`);
      await services.intune.idle();
      assert.equal((await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(duplicate.body.id)}`)).body.lastSyncStatus, 'failed');

      // The token that was there first keeps serving the location: the copy does not make it a duplicate too.
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(first.body.id)}/syncLicenses`);
      await services.intune.idle();
      const kept = (await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(first.body.id)}`)).body;
      assert.deepEqual([kept.state, kept.lastSyncStatus], ['valid', 'completed']);

      // Once the first one is gone, the copy's next sync finds the location free.
      assert.equal((await graph(services.intune, 'DELETE', `/deviceAppManagement/vppTokens/${String(first.body.id)}`)).status, 204);
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(duplicate.body.id)}/syncLicenses`);
      await services.intune.idle();
      const freed = (await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(duplicate.body.id)}`)).body;
      assert.deepEqual([freed.state, freed.lastSyncStatus], ['valid', 'completed']);
    });

    it('renews with PATCH (a new file for the same location), refuses one for another location, and deletes with 204', async () => {
      services = await startAll();
      const created = await upload(services.intune, VALID);
      const id = String(created.body.id);
      const renewal = services.sandbox.state.mintToken(organisation(services.sandbox, 'Northwind Academy'), { expiresAt: new Date('2037-02-01T00:00:00Z') });
      const renewed = await graph(services.intune, 'PATCH', `/deviceAppManagement/vppTokens/${id}`, { token: renewal });
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      assert.equal(renewed.body.expirationDateTime, '2037-02-01T00:00:00.000Z');
      assert.equal(renewed.body.state, 'valid');

      const elsewhere = await graph(services.intune, 'PATCH', `/deviceAppManagement/vppTokens/${id}`, { token: OTHER });
      assertGraphError(elsewhere, 400, 'BadRequest');

      const deleted = await graph(services.intune, 'DELETE', `/deviceAppManagement/vppTokens/${id}`);
      assert.equal(deleted.status, 204);
      assertGraphError(await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${id}`), 404, 'ResourceNotFound');
    });
  });

  describe('syncLicenses and managedEBooks', () => {
    it('answers inProgress at once, then reads the books from Apple: titles, authors, covers and license counts', async () => {
      services = await startAll({ syncDelayMs: 60_000 });
      const created = await upload(services.intune, VALID);
      const started = await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(created.body.id)}/syncLicenses`);
      assert.equal(started.status, 200);
      assert.equal(started.body.lastSyncStatus, 'inProgress');
      assert.deepEqual((started.body.tokenActionResults as Json[]).map((r) => [r.actionName, r.actionState]), [['syncLicenses', 'active']]);
      const none = await graph(services.intune, 'GET', '/deviceAppManagement/managedEBooks');
      assert.deepEqual(none.body.value, []);
      await stopAll(services);

      services = await startAll();
      const token = await syncedToken(services);
      assert.equal(token.lastSyncStatus, 'completed');
      assert.notEqual(token.lastSyncDateTime, '0001-01-01T00:00:00.000Z');
      assert.equal(token.lastAppCount, 39);
      const pride = await bookTitled(services.intune, 'Pride and Prejudice');
      assert.equal(pride['@odata.type'], '#microsoft.graph.iosVppEBook');
      assert.equal(pride.publisher, 'Jane Austen');
      assert.equal(pride.totalLicenseCount, 120);
      assert.equal(pride.usedLicenseCount, 14);
      assert.equal(pride.informationUrl, 'https://books.apple.com/book/id1447212301');
      assert.equal(pride.vppTokenId, token.id);
      assert.equal(pride.vppOrganizationName, 'Northwind Academy');
      assert.equal(pride.appleId, 'vpp@northwind.example');
      const cover = pride.largeCover as Json;
      assert.equal(cover['@odata.type'], 'microsoft.graph.mimeContent');
      assert.equal(cover.type, 'image/svg+xml');
      assert.match(Buffer.from(String(cover.value), 'base64').toString('utf8'), /Pride and Prejudice/);
    });

    it('fails a sync when Apple refuses the token (revoked → invalid) or another MDM has taken it', async () => {
      services = await startAll();
      const token = await syncedToken(services);
      const northwind = organisation(services.sandbox, 'Northwind Academy');
      northwind.mdmInfo = { ...OTHER_MDM };
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(token.id)}/syncLicenses`);
      await services.intune.idle();
      const taken = (await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(token.id)}`)).body;
      assert.deepEqual([taken.state, taken.lastSyncStatus], ['assignedToExternalMDM', 'failed']);
      assert.deepEqual((taken.tokenActionResults as Json[]).map((r) => r.actionState), ['failed']);

      services.sandbox.state.revokeToken(VALID.trim());
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(token.id)}/syncLicenses`);
      await services.intune.idle();
      const revoked = (await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(token.id)}`)).body;
      assert.deepEqual([revoked.state, revoked.lastSyncStatus], ['invalid', 'failed']);
    });

    it("reports a failed sync's action result as the beta vppToken page documents it, and v1.0 has none", async () => {
      services = await startAll();
      const token = await syncedToken(services);
      const [done] = token.tokenActionResults as Json[];
      assert.equal(done?.actionState, 'done');
      services.sandbox.state.revokeToken(VALID.trim());
      const asked = Date.now();
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(token.id)}/syncLicenses`);
      await services.intune.idle();
      const failed = (await graph(services.intune, 'GET', `/deviceAppManagement/vppTokens/${String(token.id)}`)).body;
      assert.deepEqual([failed.state, failed.lastSyncStatus], ['invalid', 'failed']);
      const results = failed.tokenActionResults as Json[];
      assert.equal(results.length, 1, 'one result per action, the latest run of it');
      const [result] = results;
      // vppTokenActionResult's four properties, nested "@odata.type" without "#" as in the page's example; the failure
      // reason is documented only on the revoke-licenses result, so the state carries Intune's reason here.
      assert.deepEqual(Object.keys(result ?? {}), ['@odata.type', 'actionName', 'actionState', 'startDateTime', 'lastUpdatedDateTime']);
      assert.equal(result?.['@odata.type'], 'microsoft.graph.vppTokenActionResult');
      assert.deepEqual([result?.actionName, result?.actionState], ['syncLicenses', 'failed']);
      const started = Date.parse(String(result?.startDateTime));
      const updated = Date.parse(String(result?.lastUpdatedDateTime));
      assert.ok(started >= asked - 1000 && updated >= started, 'started when asked, updated when it failed');
      const v1 = await graph(services.intune, 'GET', `/v1.0/deviceAppManagement/vppTokens/${String(token.id)}`);
      assert.equal(v1.body.tokenActionResults, undefined);
    });

    it('pages with @odata.nextLink, honours $top up to its cap, and filters on isof and vppTokenId', async () => {
      services = await startAll({ maxPageSize: 30 });
      const token = await syncedToken(services);
      const byDefault = await allPages(services.intune, '/deviceAppManagement/managedEBooks');
      assert.deepEqual(byDefault.sizes, [10, 10, 10, 9]);
      assert.equal(new Set(byDefault.items.map((b) => b.id)).size, 39);
      const byFive = await allPages(services.intune, '/v1.0/deviceAppManagement/managedEBooks?$top=5');
      assert.equal(byFive.sizes.length, 8);
      const first = await graph(services.intune, 'GET', '/v1.0/deviceAppManagement/managedEBooks?$top=5');
      const next = new URL(String(first.body['@odata.nextLink']));
      assert.equal(next.pathname, '/v1.0/deviceAppManagement/managedEBooks');
      assert.equal(next.searchParams.get('$top'), '5', 'the nextLink keeps the other query options');
      assert.deepEqual((await allPages(services.intune, '/deviceAppManagement/managedEBooks?$top=500')).sizes, [30, 9]);

      const isof = await allPages(services.intune, `/deviceAppManagement/managedEBooks?$filter=${encodeURIComponent("isof('microsoft.graph.iosVppEBook')")}`);
      assert.equal(isof.items.length, 39);
      const byToken = await allPages(services.intune, `/deviceAppManagement/managedEBooks?$filter=${encodeURIComponent(`vppTokenId eq ${String(token.id)}`)}&$top=50`);
      assert.equal(byToken.items.length, 39);
      const other = await allPages(services.intune, `/deviceAppManagement/managedEBooks?$filter=${encodeURIComponent('vppTokenId eq 00000000-0000-4000-8000-000000000000')}`);
      assert.equal(other.items.length, 0);
      assertGraphError(await graph(services.intune, 'GET', `/deviceAppManagement/managedEBooks?$filter=${encodeURIComponent(`vppTokenId eq '${String(token.id)}'`)}`), 400);
      assertGraphError(await graph(services.intune, 'GET', '/deviceAppManagement/managedEBooks?$top=-1'), 400);
      assertGraphError(await graph(services.intune, 'GET', '/deviceAppManagement/managedEBooks?$orderby=displayName'), 400);

      const selected = await graph(services.intune, 'GET', '/deviceAppManagement/managedEBooks?$select=displayName&$top=1');
      assert.deepEqual(Object.keys((selected.body.value as Json[])[0] ?? {}).sort(), ['@odata.type', 'displayName', 'id']);
      const counted = await graph(services.intune, 'GET', '/deviceAppManagement/managedEBooks?$count=true&$top=1');
      assert.equal(counted.body['@odata.count'], 39);
    });
  });

  describe('assignments', () => {
    it('assign replaces the whole list: what is sent is exactly what the book keeps', async () => {
      services = await startAll();
      await syncedToken(services);
      const book = await bookTitled(services.intune, 'Moby-Dick');
      const route = `/deviceAppManagement/managedEBooks/${String(book.id)}`;
      const both = await graph(services.intune, 'POST', `${route}/assign`, {
        managedEBookAssignments: [assignTo(DEMO_GROUPS.englishDepartment, 'required'), assignTo(DEMO_GROUPS.libraryStaff, 'available')],
      });
      assert.equal(both.status, 204);
      const listed = (await graph(services.intune, 'GET', `${route}/assignments`)).body.value as Json[];
      assert.deepEqual(
        listed.map((a) => [(a.target as Json).groupId, a.installIntent]),
        [
          [DEMO_GROUPS.englishDepartment, 'required'],
          [DEMO_GROUPS.libraryStaff, 'available'],
        ],
      );
      const library = listed[1] as Json;

      const one = await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignTo(DEMO_GROUPS.libraryStaff, 'available', String(library.id))] });
      assert.equal(one.status, 204);
      const after = (await graph(services.intune, 'GET', `${route}/assignments`)).body.value as Json[];
      assert.deepEqual(
        after.map((a) => [a.id, (a.target as Json).groupId]),
        [[library.id, DEMO_GROUPS.libraryStaff]],
        'the English Department assignment went because it was not sent; the one sent back kept its id',
      );
      const expanded = await graph(services.intune, 'GET', `${route}?$expand=assignments`);
      assert.deepEqual((expanded.body.assignments as Json[]).map((a) => a.id), [library.id]);

      assert.equal((await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [] })).status, 204);
      assert.deepEqual((await graph(services.intune, 'GET', `${route}/assignments`)).body.value, []);
    });

    it('takes the documented assign body verbatim, and refuses bad bodies with Graph errors', async () => {
      services = await startAll();
      await syncedToken(services);
      const book = await bookTitled(services.intune, 'Moby-Dick');
      const route = `/v1.0/deviceAppManagement/managedEBooks/${String(book.id)}`;
      assert.equal((await graph(services.intune, 'POST', `${route}/assign`, fixtures.load('managedebook-assign-request'))).status, 204);
      const listed = (await graph(services.intune, 'GET', `${route}/assignments`)).body.value as Json[];
      assert.deepEqual(listed[0]?.target, { '@odata.type': '#microsoft.graph.allLicensedUsersAssignmentTarget' });

      const unknownProperty = await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [{ ...assignTo(DEMO_GROUPS.bookClub, 'required'), colour: 'blue' }] });
      assertGraphError(unknownProperty, 400, 'BadRequest');
      assert.match(String((unknownProperty.body.error as Json).message), /The property 'colour' does not exist/);
      assertGraphError(await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignTo(DEMO_GROUPS.bookClub, 'mandatory')] }), 400, 'BadRequest');
      assertGraphError(await graph(services.intune, 'POST', `${route}/assign`, { assignments: [] }), 400, 'BadRequest');
      const groupless = { installIntent: 'required', target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget' } };
      assertGraphError(await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [groupless] }), 400, 'BadRequest');
      // The filter properties are beta only.
      const filtered = assignTo(DEMO_GROUPS.bookClub, 'required');
      (filtered.target as Json).deviceAndAppManagementAssignmentFilterType = 'none';
      assertGraphError(await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [filtered] }), 400, 'BadRequest');
      assert.equal((await graph(services.intune, 'POST', `/beta/deviceAppManagement/managedEBooks/${String(book.id)}/assign`, { managedEBookAssignments: [filtered] })).status, 204);
    });

    it('Required puts the book on the group users’ devices: notInstalled, then installed or failed as devices check in', async () => {
      services = await startAll();
      await syncedToken(services);
      const book = await bookTitled(services.intune, 'Pride and Prejudice');
      const route = `/deviceAppManagement/managedEBooks/${String(book.id)}`;
      await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignTo(DEMO_GROUPS.englishDepartment, 'required'), assignTo(DEMO_GROUPS.libraryStaff, 'available')] });
      await services.intune.idle();

      const englishUsers = [...services.directory.state.transitiveMembers(DEMO_GROUPS.englishDepartment)].filter((id) => services?.directory.state.users.has(id));
      const devices = (await allPages(services.intune, `${route}/deviceStates`)).items;
      assert.ok(devices.length >= englishUsers.length, 'a device or two per user');
      assert.ok(devices.every((d) => d.installState === 'notInstalled' && d.errorCode === null));
      assert.ok(devices.some((d) => d.deviceName === "Adele's iPad"));
      assert.equal(new Set(devices.map((d) => d.userName)).size, englishUsers.length, 'only the Required group: the Available one installs nothing');
      const summary = (await graph(services.intune, 'GET', `${route}/installSummary`)).body;
      assert.equal(summary.notInstalledUserCount, englishUsers.length);
      assert.equal(summary.notInstalledDeviceCount, devices.length);
      assert.equal((await graph(services.intune, 'GET', route)).body.usedLicenseCount, 14 + englishUsers.length);

      await services.intune.tick();
      const checkedIn = (await allPages(services.intune, `${route}/deviceStates`)).items;
      assert.ok(checkedIn.every((d) => d.installState === 'installed' || (d.installState === 'failed' && d.errorCode === INSTALL_FAILED_ERROR_CODE)));
      const users = (await allPages(services.intune, `${route}/userStateSummary`)).items;
      const after = (await graph(services.intune, 'GET', `${route}/installSummary`)).body;
      const count = (state: string) => checkedIn.filter((d) => d.installState === state).length;
      assert.deepEqual(
        [after.installedDeviceCount, after.failedDeviceCount, after.notInstalledDeviceCount],
        [count('installed'), count('failed'), 0],
      );
      assert.equal(after.failedUserCount, users.filter((u) => Number(u.failedDeviceCount) > 0).length);
      assert.equal(Number(after.installedUserCount) + Number(after.failedUserCount), englishUsers.length);

      const first = users[0] as Json;
      const own = (await allPages(services.intune, `${route}/userStateSummary/${String(first.id)}/deviceStates`)).items;
      assert.equal(own.length, Number(first.installedDeviceCount) + Number(first.failedDeviceCount));
      assert.ok(own.every((d) => d.userName === first.userName));

      const again = (await allPages(services.intune, `${route}/deviceStates`)).items;
      assert.deepEqual(again, checkedIn, 'deterministic: nothing changes without a check-in');
    });

    it('licenses users only while licenses last: the rest fail with the no-license code, and usedLicenseCount stops at the total', async () => {
      services = await startAll();
      await syncedToken(services);
      // War and Peace: 10 licenses, 1 already spent; Year 9 Form 9A has the 50 demo students here.
      const book = await bookTitled(services.intune, 'War and Peace');
      const route = `/deviceAppManagement/managedEBooks/${String(book.id)}`;
      await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignTo(DEMO_GROUPS.year9FormA, 'required')] });
      await services.intune.idle();
      await services.intune.tick();
      const after = (await graph(services.intune, 'GET', route)).body;
      assert.deepEqual([after.totalLicenseCount, after.usedLicenseCount], [10, 10]);
      const users = (await allPages(services.intune, `${route}/userStateSummary`)).items;
      assert.equal(users.length, 50);
      const devices = (await allPages(services.intune, `${route}/deviceStates`)).items;
      const unlicensed = new Set(devices.filter((d) => d.errorCode === NO_LICENSE_ERROR_CODE).map((d) => d.userName));
      assert.equal(unlicensed.size, 41);
      assert.ok(devices.filter((d) => d.errorCode === NO_LICENSE_ERROR_CODE).every((d) => d.installState === 'failed'));
      const summary = (await graph(services.intune, 'GET', `${route}/installSummary`)).body;
      assert.ok(Number(summary.failedUserCount) >= 41);

      // More licenses bought at Apple: the next sync and check-in license the waiting users.
      for (const b of organisation(services.sandbox, 'Northwind Academy').books.values()) if (b.title === 'War and Peace') b.totalCount = 100;
      await graph(services.intune, 'POST', `/deviceAppManagement/vppTokens/${String(book.vppTokenId)}/syncLicenses`);
      await services.intune.idle();
      const refreshed = (await graph(services.intune, 'GET', route)).body;
      assert.equal(refreshed.usedLicenseCount, 51);
      const waiting = (await allPages(services.intune, `${route}/deviceStates`)).items;
      assert.ok(!waiting.some((d) => d.errorCode === NO_LICENSE_ERROR_CODE));
    });

    it('pages device states with @odata.nextLink', async () => {
      services = await startAll({ pageSize: 7 });
      await syncedToken(services);
      const book = await bookTitled(services.intune, 'Pride and Prejudice');
      const route = `/deviceAppManagement/managedEBooks/${String(book.id)}`;
      await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignTo(DEMO_GROUPS.allStudents, 'required')] });
      await services.intune.idle();
      const { items, sizes } = await allPages(services.intune, `${route}/deviceStates`);
      assert.ok(sizes.length > 2 && sizes.slice(0, -1).every((s) => s === 7), String(sizes));
      assert.equal(new Set(items.map((d) => d.id)).size, items.length);
    });
  });

  describe('errors and throttling', () => {
    it("answers Graph's error shape for 404, 405, unknown segments, unknown properties, bad enums and beta-only properties on v1.0", async () => {
      services = await startAll();
      const clientRequestId = 'c7d1b2e4-5f60-4a1b-9c2d-3e4f5a6b7c8d';
      const missing = await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens/6f1c2d3e-0000-4000-8000-000000000000', undefined, { 'client-request-id': clientRequestId });
      assertGraphError(missing, 404, 'ResourceNotFound');
      assert.equal(((missing.body.error as Json).innerError as Json)['client-request-id'], clientRequestId);
      assert.equal(missing.headers.get('request-id'), ((missing.body.error as Json).innerError as Json)['request-id']);
      assertGraphError(await graph(services.intune, 'GET', '/deviceAppManagement/managedEBooks/nope/installSummary'), 404, 'ResourceNotFound');

      const put = await graph(services.intune, 'PUT', '/deviceAppManagement/vppTokens', {});
      assertGraphError(put, 405);
      assert.equal(put.headers.get('allow'), 'GET, POST');
      assertGraphError(await graph(services.intune, 'GET', '/deviceAppManagement/vppTokenz'), 400, 'BadRequest');
      assertGraphError(await graph(services.intune, 'GET', '/v2.0/deviceAppManagement/vppTokens'), 400, 'BadRequest');

      const unknown = await upload(services.intune, VALID, { colour: 'blue' });
      assertGraphError(unknown, 400, 'BadRequest');
      assert.match(String((unknown.body.error as Json).message), /The property 'colour' does not exist on type 'microsoft.graph.vppToken'/);
      assertGraphError(await upload(services.intune, VALID, { vppTokenAccountType: 'school' }), 400, 'BadRequest');
      assertGraphError(await upload(services.intune, VALID, { automaticallyUpdateApps: 'yes' }), 400, 'BadRequest');
      assertGraphError(await upload(services.intune, VALID, { displayName: 'Northwind' }, '/v1.0'), 400, 'BadRequest');
      assertGraphError(await upload(services.intune, VALID, { appleId: undefined }), 400, 'BadRequest');
      const notJson = await fetch(`${services.intune.baseUrl}/beta/deviceAppManagement/vppTokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":' });
      assert.equal(notJson.status, 400);
      assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'BadRequest');
      assert.equal((await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens')).body.value instanceof Array, true);
      assert.deepEqual((await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens')).body.value, [], 'nothing refused was kept');
    });

    it('throttles the next N requests with 429 and Retry-After when asked, in the shape of Graph’s sample, then answers again', async () => {
      services = await startAll();
      services.intune.faults.throttleNext(2, 3);
      for (let i = 0; i < 2; i++) {
        const throttled = await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens');
        assert.equal(throttled.status, 429);
        assert.equal(throttled.headers.get('retry-after'), '3');
        assertSameShape(throttled.body, fixtures.load('throttled-429'), ['client-request-id']);
      }
      assert.equal((await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens')).status, 200);

      // The same switch over HTTP, for a bot in another process; only the path named.
      const control = await fetch(`${services.intune.baseUrl}/_intune/faults`, { method: 'POST', body: JSON.stringify({ pathIncludes: '/syncLicenses', status: 503, retryAfter: 2 }) });
      assert.equal(control.status, 200);
      assert.equal((await graph(services.intune, 'GET', '/deviceAppManagement/vppTokens')).status, 200);
      const unavailable = await graph(services.intune, 'POST', '/deviceAppManagement/vppTokens/anything/syncLicenses');
      assertGraphError(unavailable, 503, 'ServiceUnavailable');
      assert.equal(unavailable.headers.get('retry-after'), '2');
    });
  });

  describe('answers have the documented shapes (test/fixtures/intune)', () => {
    it('vppToken: create, list (v1.0 and beta), get (both envelopes), update and syncLicenses', async () => {
      services = await startAll();
      const v1Created = await upload(services.intune, VALID, {}, '/v1.0');
      assert.equal(v1Created.status, fixtures.status('vpptoken-create-response'));
      assertSameShape(v1Created.body, fixtures.load('vpptoken-create-response'), ['@odata.context', 'lastAppCount']);
      const id = String(v1Created.body.id);
      assertSameShape((await graph(services.intune, 'GET', '/v1.0/deviceAppManagement/vppTokens')).body, fixtures.load('vpptokens-list-response'), ['@odata.context', 'lastAppCount']);
      assertSameShape((await graph(services.intune, 'GET', `/v1.0/deviceAppManagement/vppTokens/${id}`)).body, fixtures.load('vpptoken-get-response-unwrapped-constructed'), ['lastAppCount']);
      const updated = await graph(services.intune, 'PATCH', `/v1.0/deviceAppManagement/vppTokens/${id}`, { automaticallyUpdateApps: true });
      assert.equal(updated.status, 200);
      assertSameShape(updated.body, fixtures.load('vpptoken-update-response'), ['@odata.context']);
      const synced = await graph(services.intune, 'POST', `/v1.0/deviceAppManagement/vppTokens/${id}/syncLicenses`);
      assertSameShape(synced.body, unwrapped(fixtures.load('vpptoken-synclicenses-response')), ['@odata.context', 'lastAppCount']);
      await services.intune.idle();
      assertSameShape((await graph(services.intune, 'GET', '/beta/deviceAppManagement/vppTokens')).body, fixtures.load('vpptokens-list-response-beta'), ['@odata.context', 'lastAppCount']);
      await stopAll(services);

      services = await startAll({ entityEnvelope: 'value' });
      const again = await upload(services.intune, VALID, {}, '/v1.0');
      assertSameShape((await graph(services.intune, 'GET', `/v1.0/deviceAppManagement/vppTokens/${String(again.body.id)}`)).body, fixtures.load('vpptoken-get-response'), ['lastAppCount']);
      assertSameShape((await graph(services.intune, 'POST', `/v1.0/deviceAppManagement/vppTokens/${String(again.body.id)}/syncLicenses`)).body, fixtures.load('vpptoken-synclicenses-response'), ['lastAppCount']);
    });

    it('managedEBooks, assignments, installSummary, deviceStates, userStateSummary and paging', async () => {
      services = await startAll();
      await syncedToken(services);
      const page = await graph(services.intune, 'GET', '/v1.0/deviceAppManagement/managedEBooks');
      assertSameShape(page.body, fixtures.load('iosvppebooks-list-page1-constructed'));
      assertSameShape(page.body, fixtures.load('iosvppebooks-list-response'), ['@odata.context', '@odata.nextLink']);
      const book = (page.body.value as Json[])[0] as Json;
      const route = `/v1.0/deviceAppManagement/managedEBooks/${String(book.id)}`;
      assertSameShape((await graph(services.intune, 'GET', route)).body, unwrapped(fixtures.load('iosvppebook-get-response')), ['@odata.context']);
      await graph(services.intune, 'POST', `${route}/assign`, fixtures.load('managedebook-assign-request-groups-constructed'));
      await graph(services.intune, 'POST', `${route}/assign`, { managedEBookAssignments: [assignTo(DEMO_GROUPS.englishDepartment, 'required'), assignTo(DEMO_GROUPS.libraryStaff, 'available')] });
      await services.intune.idle();
      assertSameShape((await graph(services.intune, 'GET', `${route}/assignments`)).body, fixtures.load('iosvppebookassignments-list-groups-constructed'), ['@odata.context']);
      assertSameShape((await graph(services.intune, 'GET', `${route}/installSummary`)).body, unwrapped(fixtures.load('ebookinstallsummary-get-response')), ['@odata.context']);
      assertSameShape((await graph(services.intune, 'GET', `${route}/deviceStates`)).body, fixtures.load('deviceinstallstates-list-response'), ['@odata.context', '@odata.nextLink']);
      assertSameShape((await graph(services.intune, 'GET', `${route}/userStateSummary`)).body, fixtures.load('userinstallstatesummaries-list-response'), ['@odata.context']);
      assertSameShape(
        (await graph(services.intune, 'GET', '/v1.0/deviceAppManagement/vppTokens/6f1c2d3e-0000-4000-8000-000000000000')).body,
        fixtures.load('error-response'),
        ['client-request-id'],
      );
      assertSameShape((await graph(services.intune, 'GET', '/v1.0/deviceAppManagement/vppTokens/6f1c2d3e-0000-4000-8000-000000000000')).body, fixtures.load('error-intune-bad-request-observed'));
    });
  });
});
