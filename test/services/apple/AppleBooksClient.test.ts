import { strict as assert } from 'node:assert';
import { Secret } from '../../../services/secrets/Secret';
import { AppleBooksClient } from '../../../services/apple/AppleBooksClient';
import { VppError } from '../../../services/apple/VppError';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { DEMO_TOKEN_FILES, OTHER_MDM } from '../../../local/appleSandbox/demoData';
import { BOOKS, NO_RATE_LIMIT, FAST_RETRY, startTestSandbox, type TestSandbox } from './helpers';

async function rejectsWith(promise: Promise<unknown>, check: (e: VppError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof VppError, `expected VppError, got ${String(error)}`);
    check(error);
    return true;
  });
}

describe('AppleBooksClient against the sandbox', () => {
  let t: TestSandbox;
  beforeEach(async () => {
    t = await startTestSandbox();
  });
  afterEach(async () => {
    await t.sandbox.close();
  });

  it('reads service config without the token and caches it until the refresh interval', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    let clock = new Date('2026-01-01T00:00:00Z');
    const client = t.client({
      now: () => clock,
      serviceConfigTtlMs: 60_000,
      fetch: (input, init) => {
        seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization') });
        return fetch(input, init);
      },
    });
    const limits = await client.getLimits();
    assert.deepEqual(limits, { maxAssets: 25, maxClientUserIds: 1000, maxUsers: 100, maxRequestPerSecond: 15 });
    await client.getServiceConfig();
    assert.equal(t.sandbox.stats.count('GET', '/service/config'), 1);
    clock = new Date(clock.getTime() + 61_000);
    await client.getServiceConfig();
    assert.equal(t.sandbox.stats.count('GET', '/service/config'), 2);
    await client.getClientConfig();
    assert.ok(seen.filter((s) => s.url.includes('/service/config')).every((s) => s.auth === null));
    assert.equal(seen.find((s) => s.url.includes('/client/config'))?.auth, `Bearer ${t.bearer}`);
  });

  it('builds invitation links from the template', async () => {
    const url = await t.client().invitationUrl('abc123');
    assert.equal(url, `${t.sandbox.origin}/invitation?inviteCode=abc123&mt=8`);
  });

  it('reports ownership: unclaimed, ours after a claim, and another MDM by name', async () => {
    const client = t.client();
    assert.deepEqual(await client.checkOwnership('our-mdm'), { state: 'unclaimed' });
    const config = await client.claimToken({ id: 'our-mdm', name: 'VPP Books bot', metadata: 'tenant-1' });
    assert.equal(config.mdmInfo?.id, 'our-mdm');
    assert.equal((await client.checkOwnership('our-mdm')).state, 'ours');
    t.org.mdmInfo = { ...OTHER_MDM };
    const other = await client.checkOwnership('our-mdm');
    assert.equal(other.state, 'otherMdm');
    assert.equal(other.state === 'otherMdm' && other.mdmName, 'Contoso MDM');
  });

  it('pages through every book asset, one request per page', async () => {
    const client = t.client();
    const pages = [];
    for await (const page of client.assetPages()) pages.push(page.assets.length);
    assert.deepEqual(pages, [5, 5, 2]);
    const all = await client.listAssets();
    assert.equal(all.items.length, BOOKS.length);
    const first = all.items.find((a) => a.adamId === BOOKS[0]?.adamId);
    assert.equal(first?.productType, 'Book');
    assert.equal(first?.revocable, false);
    assert.equal(first?.availableCount, 2);
    assert.equal(t.sandbox.stats.count('GET', '/assets'), 6);
  });

  it('creates users in batches of maxUsers and reads them incrementally', async () => {
    const client = t.client();
    const before = await client.listUsers();
    assert.equal(before.items.length, 0);
    const users = Array.from({ length: 230 }, (_, i) => ({ clientUserId: `entra-${i}`, ...(i % 2 ? { managedAppleId: `u${i}@school.example` } : { email: `u${i}@school.example` }) }));
    const result = await client.createUsersAndWait(users);
    assert.equal(result.eventIds.length, 3);
    assert.equal(t.sandbox.stats.count('POST', '/users/create'), 3);
    assert.equal(result.numCompleted, 230);
    const after = await client.listUsers({ sinceVersionId: before.versionId });
    assert.equal(after.items.length, 230);
    assert.equal(after.items.find((u) => u.clientUserId === 'entra-0')?.status, 'Registered');
    assert.match(after.items.find((u) => u.clientUserId === 'entra-0')?.inviteCode ?? '', /^[0-9a-f]{32}$/);
    assert.equal(after.items.find((u) => u.clientUserId === 'entra-1')?.status, 'Associated');

    // The bot never retires users; someone else on the same token may.
    for (const id of ['entra-0', 'entra-1']) t.state.retireUser(t.org, id);
    const incremental = await client.listUsers({ sinceVersionId: after.versionId });
    assert.deepEqual(incremental.items.map((u) => [u.clientUserId, u.status]), [['entra-0', 'Retired'], ['entra-1', 'Retired']]);
    assert.equal((await client.listUsers()).items.length, 230, 'Apple returns retired users unless asked not to');
    assert.equal((await client.listUsers({ activeOnly: true })).items.length, 228, 'activeOnly leaves them out');

    const again = await client.createUsersAndWait([{ clientUserId: 'entra-2' }]);
    assert.equal(again.failures[0]?.errorNumber, 9716);
    assert.deepEqual(again.failures[0]?.clientUserIds, ['entra-2']);
  });

  it('keeps every entry of a user retired and created again, as Apple does', async () => {
    const client = t.client();
    await client.createUsersAndWait([{ clientUserId: 'again', email: 'again@school.example' }]);
    t.state.retireUser(t.org, 'again');
    await client.createUsersAndWait([{ clientUserId: 'again', email: 'again@school.example' }]);
    t.state.retireUser(t.org, 'again');
    await client.createUsersAndWait([{ clientUserId: 'again', email: 'again@school.example' }]);
    const entries = (await client.listUsers()).items.filter((u) => u.clientUserId === 'again');
    assert.deepEqual(entries.map((u) => u.status), ['Retired', 'Retired', 'Registered']);
    assert.deepEqual((await client.listUsers({ activeOnly: true })).items.filter((u) => u.clientUserId === 'again').map((u) => u.status), ['Registered']);
  });

  it('syncs assignments incrementally with sinceVersionId', async () => {
    const client = t.client();
    const ids = t.state.seedUsers(t.org, 8);
    t.state.seedAssignments(t.org, ids, 17);
    const full = await client.listAssignments();
    assert.equal(full.items.length, 17);
    assert.equal(t.sandbox.stats.count('GET', '/assignments'), 4);
    const asset = { adamId: BOOKS[3]?.adamId ?? '', pricingParam: 'STDQ' };
    await client.waitForEvents(await client.associateAssets([asset], ['seed-user-0', 'seed-user-1', 'seed-user-2']));
    const delta = await client.listAssignments({ sinceVersionId: full.versionId });
    assert.ok(delta.items.length >= 1 && delta.items.length <= 3);
    assert.ok(delta.items.every((a) => a.adamId === asset.adamId));
    assert.equal((await client.listAssignments({ sinceVersionId: delta.versionId })).items.length, 0);
    const forUser = await client.listAssignments({ clientUserId: 'seed-user-1' });
    const ofUser1 = (items: typeof full.items) => items.filter((a) => a.clientUserId === 'seed-user-1');
    assert.equal(forUser.items.length, ofUser1(full.items).length + ofUser1(delta.items).length, 'every assignment of that user, seeded and new');
    assert.ok(forUser.items.some((a) => a.adamId === asset.adamId), 'including the book just associated');
    assert.ok(forUser.items.every((a) => a.clientUserId === 'seed-user-1'));
  });

  it('splits associate into 25 assets × 1000 users batches', async () => {
    for (let i = 0; i < 18; i++) t.state.addBook(t.org, { adamId: String(1_800_000_000 + i), title: `Extra ${i}`, author: 'A', totalCount: 3000 });
    const books = [...t.org.books.values()].slice(1, 29);
    assert.equal(books.length, 28);
    const users = t.state.seedUsers(t.org, 2100);
    const client = t.client();
    const eventIds = await client.associateAssets(books, users);
    assert.equal(eventIds.length, 2 * 3);
    assert.equal(t.sandbox.stats.count('POST', '/assets/associate'), 6);
    const result = await client.waitForEvents(eventIds);
    assert.equal(result.numRequested, 28 * 2100);
    assert.equal(result.failures.filter((f) => f.errorNumber !== 9709).length, 0);
  });

  it('reports license exhaustion per user (9709) in the event failures', async () => {
    const client = t.client();
    await client.createUsersAndWait([1, 2, 3, 4].map((i) => ({ clientUserId: `u${i}`, managedAppleId: `u${i}@x.example` })));
    const scarce = { adamId: BOOKS[0]?.adamId ?? '', pricingParam: 'STDQ' };
    const result = await client.waitForEvents(await client.associateAssets([scarce], ['u1', 'u2', 'u3', 'u4']));
    // Managing assets: a partly failed event is FAILED, with what was done counted, and one failure naming every user it applies to.
    assert.equal(result.status, 'FAILED');
    assert.equal(result.numCompleted, 2);
    assert.deepEqual(result.failures.map((f) => [f.clientUserIds, f.errorNumber]), [[['u3', 'u4'], 9709]]);
    assert.match(result.failures[0]?.message ?? '', /Not enough licenses/);
    const asset = (await client.listAssets()).items.find((a) => a.adamId === scarce.adamId);
    assert.equal(asset?.availableCount, 0);
  });

  it('polls /status until the event completes', async () => {
    // Long enough beside 20 ms polls that a loaded machine still polls more than once while it is pending.
    t.state.eventDelayMs = 600;
    const client = t.client({ pollIntervalMs: 20 });
    const [eventId] = (await client.createUsers([{ clientUserId: 'x1' }])).eventIds;
    assert.ok(eventId);
    assert.equal((await client.getEventStatus(eventId)).eventStatus, 'PENDING');
    const status = await client.waitForEvent(eventId);
    assert.equal(status.eventStatus, 'COMPLETE');
    assert.ok(t.sandbox.stats.count('GET', '/status') >= 3);
  });

  it('gives up on a still-PENDING event after the timeout with a re-submit hint', async () => {
    t.state.eventDelayMs = 60_000;
    const client = t.client({ pollIntervalMs: 20, pollTimeoutMs: 100 });
    const [eventId] = (await client.createUsers([{ clientUserId: 'slow' }])).eventIds;
    await rejectsWith(client.waitForEvent(eventId ?? ''), (e) => {
      assert.equal(e.kind, 'eventTimeout');
      assert.equal(e.eventId, eventId);
      assert.equal(e.code, 'vpp_event_timeout');
      assert.match(e.message, /Submit it again/);
    });
  });

  it('turns Apple refusals into typed errors', async () => {
    const client = t.client();
    await rejectsWith(client.getEventStatus('no-such-event'), (e) => assert.equal(e.errorNumber, 9708));
    const asset = { adamId: BOOKS[1]?.adamId ?? '', pricingParam: 'STDQ' };
    await rejectsWith(client.associateAssets([asset, asset], ['u1']), (e) => {
      assert.equal(e.errorNumber, 9703);
      assert.match(e.message, /same book appeared twice/);
    });
  });

  it('reads an errorNumber inside an HTTP 200 body as an error', async () => {
    t.sandbox.faults.failNext('/client/config', 1, { kind: 'status', status: 200, errorNumber: 9602, errorMessage: 'Invalid argument' });
    await rejectsWith(t.client().getClientConfig(), (e) => {
      assert.equal(e.errorNumber, 9602);
      assert.equal(e.httpStatus, 200);
    });
    assert.equal(t.sandbox.stats.count('GET', '/client/config'), 1, 'not retried');
  });

  it('refuses a response that does not match the contract', async () => {
    t.sandbox.faults.failNext('/assets', 1, { kind: 'garbage' });
    await rejectsWith(t.client().listAssets(), (e) => assert.equal(e.kind, 'response'));
  });

  it('maps expired, revoked, unknown and malformed credentials to token errors', async () => {
    const expired = t.state.mintToken(t.org, { expiresAt: new Date(Date.now() - 1000) });
    const revoked = t.state.mintToken(t.org, { revoked: true });
    const cases: [string, number][] = [
      [expired, 9621],
      [revoked, 9625],
      [Buffer.from('{"token":"nope","expDate":"2031-01-01T00:00:00+0000","orgName":"X"}').toString('base64'), 9622],
      ['has space', 9722],
    ];
    for (const [bearer, errorNumber] of cases) {
      await rejectsWith(t.client({ bearer }).getClientConfig(), (e) => {
        assert.equal(e.errorNumber, errorNumber);
        assert.equal(e.isTokenProblem, true);
        assert.equal(e.httpStatus, 401);
      });
    }
  });
});

describe('the sandbox demo data', () => {
  let sandbox: RunningAppleSandbox;
  before(async () => {
    sandbox = await startAppleSandbox({ eventDelayMs: 0 });
  });
  after(async () => {
    await sandbox.close();
  });
  const client = (file: keyof typeof DEMO_TOKEN_FILES): AppleBooksClient =>
    new AppleBooksClient({ baseUrl: sandbox.baseUrl, token: new Secret(DEMO_TOKEN_FILES[file]), retry: FAST_RETRY, rateLimit: NO_RATE_LIMIT });

  it('serves a few dozen books, some exhausted, for demo-valid', async () => {
    const { items } = await client('demo-valid.vpptoken').listAssets();
    assert.ok(items.length >= 30);
    assert.ok(items.filter((a) => a.availableCount === 0).length >= 3);
    assert.ok(items.some((a) => a.pricingParam === 'PLUS'));
    const config = await client('demo-valid.vpptoken').getClientConfig();
    assert.equal(config.tokenExpirationDate, '2036-06-30T23:59:59+0000');
  });

  it('refuses demo-expired with 9621 and shows Contoso MDM as holder of demo-other-mdm', async () => {
    await rejectsWith(client('demo-expired.vpptoken').getClientConfig(), (e) => assert.equal(e.errorNumber, 9621));
    const ownership = await client('demo-other-mdm.vpptoken').checkOwnership('ours');
    assert.equal(ownership.state === 'otherMdm' && ownership.mdmName, 'Contoso MDM');
  });

  it('accepts an invitation when its link is opened', async () => {
    const c = client('demo-valid.vpptoken');
    await c.createUsersAndWait([{ clientUserId: 'invitee' }]);
    const user = (await c.listUsers({ activeOnly: true })).items.find((u) => u.clientUserId === 'invitee');
    const link = await c.invitationUrl(user?.inviteCode ?? '');
    const page = await fetch(link ?? '');
    assert.equal(page.status, 200);
    assert.equal((await c.listUsers({ activeOnly: true })).items.find((u) => u.clientUserId === 'invitee')?.status, 'Associated');
  });
});
