import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { IntuneNotFoundError } from '../../../services/intune/IntuneError';
import type { IntuneApi, IntuneEBook, IntuneVppToken } from '../../../services/intune/IntuneApi';
import { IntuneSyncEngine } from '../../../services/intune/IntuneSyncEngine';
import { IntuneTokenMirror } from '../../../services/intune/IntuneTokenMirror';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { SyncService } from '../../../services/sync/SyncService';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';

/**
 * Intune's token list and its books, as Graph answers: a sync completes on the first read after
 * `syncLicenses`, a missing token is undefined from a get and a 404 from an action.
 */
class ListingIntune implements IntuneApi {
  readonly tokens = new Map<string, IntuneVppToken>();
  readonly books: IntuneEBook[] = [];
  listCalls = 0;

  add(overrides: Partial<IntuneVppToken> = {}): IntuneVppToken {
    const token: IntuneVppToken = {
      id: randomUUID(),
      organizationName: 'Wingtip Schools',
      accountType: 'education',
      appleId: 'vpp@wingtip.example',
      expirationDateTime: '2030-09-01T00:00:00Z',
      state: 'valid',
      lastSyncStatus: 'completed',
      countryOrRegion: 'GB',
      displayName: 'Wingtip (added in Intune)',
      locationName: 'Wingtip – North',
      ...overrides,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  listVppTokens(): Promise<IntuneVppToken[]> {
    this.listCalls++;
    return Promise.resolve([...this.tokens.values()].map((t) => ({ ...t })));
  }

  getVppToken(id: string): Promise<IntuneVppToken | undefined> {
    const token = this.tokens.get(id);
    if (token?.lastSyncStatus === 'inProgress') token.lastSyncStatus = 'completed';
    return Promise.resolve(token && { ...token });
  }

  syncLicenses(id: string): Promise<IntuneVppToken> {
    const token = this.tokens.get(id);
    if (!token) return Promise.reject(new IntuneNotFoundError('The VPP token'));
    token.lastSyncStatus = 'inProgress';
    return Promise.resolve({ ...token });
  }

  async *eBookPages(): AsyncGenerator<IntuneEBook[], void, undefined> {
    yield this.books.map((b) => ({ ...b }));
  }

  createVppToken(): Promise<IntuneVppToken> {
    return Promise.reject(new Error('not used here'));
  }
  updateVppToken(): Promise<IntuneVppToken> {
    return Promise.reject(new Error('not used here'));
  }
  deleteVppToken(): Promise<void> {
    return Promise.reject(new Error('not used here'));
  }
  getEBook(): Promise<IntuneEBook | undefined> {
    return Promise.reject(new Error('not used here'));
  }
  listAssignments(): Promise<never[]> {
    return Promise.reject(new Error('not used here'));
  }
  assign(): Promise<void> {
    return Promise.reject(new Error('not used here'));
  }
  installSummary(): Promise<never> {
    return Promise.reject(new Error('not used here'));
  }
  // eslint-disable-next-line require-yield
  async *deviceStatePages(): AsyncGenerator<never[], void, undefined> {
    throw new Error('not used here');
  }
  userStateSummaries(): Promise<never[]> {
    return Promise.reject(new Error('not used here'));
  }
}

describe('IntuneTokenMirror (tokens added or removed in Intune directly; embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  let intune: ListingIntune;
  let mirror: IntuneTokenMirror;
  const at = new Date('2026-05-01T09:00:00.000Z');
  beforeEach(() => {
    intune = new ListingIntune();
    mirror = new IntuneTokenMirror({ store: env.store, intune, tenantId: TEST_TENANT, now: () => at });
  });
  afterEach(async () => {
    for (const token of await env.store.tokens.listByTenant(TEST_TENANT)) {
      await env.store.books.deleteAllForToken(token.id);
      await env.store.tokens.delete(TEST_TENANT, token.id);
    }
  });

  it("adds a record for each token Intune has and the store lacks, named and dated from Intune's answer, once", async () => {
    const named = intune.add({ state: 'expired' });
    const unnamed = intune.add({ displayName: undefined, organizationName: 'Wingtip Schools', locationName: 'Wingtip Schools – South', accountType: 'business', appleId: undefined });
    const bare = intune.add({ displayName: '', organizationName: 'Alpine Ski House', locationName: undefined });

    const result = await mirror.run();

    assert.equal(result.added.length, 3);
    const stored = new Map((await env.store.tokens.listByTenant(TEST_TENANT)).map((t) => [t.intuneTokenId, t]));
    const first = stored.get(named.id);
    assert.ok(first);
    assert.equal(first.id, named.id);
    assert.equal(first.displayName, 'Wingtip (added in Intune)');
    assert.equal(first.state, 'expired');
    assert.equal(first.expirationDateTime, '2030-09-01T00:00:00.000Z');
    assert.equal(first.appleId, 'vpp@wingtip.example');
    assert.equal(first.accountType, 'education');
    assert.equal(first.countryOrRegion, 'GB');
    assert.equal(first.createdBy.aadObjectId, 'vpp-books-bot');
    assert.equal(first.createdDateTime, at.toISOString());
    assert.equal(first.encryptedToken, undefined);
    assert.equal(stored.get(unnamed.id)?.displayName, 'Wingtip Schools – South');
    assert.equal(stored.get(unnamed.id)?.accountType, 'business');
    assert.equal(stored.get(bare.id)?.displayName, 'Alpine Ski House');

    const again = await mirror.run();
    assert.deepEqual(again, { added: [], removed: [], updated: 0 });
    assert.equal((await env.store.tokens.listByTenant(TEST_TENANT)).length, 3);
  });

  it('marks a record whose token was removed from Intune invalid with the reason, keeping its books; leaves Apple-mode records alone', async () => {
    const gone = intune.add();
    await mirror.run();
    const record = (await env.store.tokens.listByTenant(TEST_TENANT))[0];
    assert.ok(record);
    await env.store.books.upsertIfChanged({
      id: '361309726|STDQ',
      tokenId: record.id,
      tenantId: TEST_TENANT,
      adamId: '361309726',
      pricingParam: 'STDQ',
      title: 'Kept',
      totalLicenseCount: 1,
      usedLicenseCount: 0,
      availableLicenseCount: 1,
      metadataResolved: true,
      createdDateTime: at.toISOString(),
      lastModifiedDateTime: at.toISOString(),
    });
    const appleMode = await env.store.tokens.create({ ...record, id: randomUUID(), intuneTokenId: undefined, displayName: 'Held by the bot' });
    intune.tokens.delete(gone.id);

    const result = await mirror.run();

    assert.deepEqual(result.removed.map((t) => t.id), [record.id]);
    const marked = await env.store.tokens.get(TEST_TENANT, record.id);
    assert.equal(marked?.state, 'invalid');
    assert.equal(marked?.lastError?.code, 'removed_from_intune');
    assert.match(marked?.lastError?.message ?? '', /no longer in Intune.+\*\*remove /);
    assert.equal((await env.store.books.listByToken(record.id)).length, 1, 'its data stays');
    assert.deepEqual(await env.store.tokens.get(TEST_TENANT, appleMode.id), appleMode);
    assert.deepEqual((await mirror.run()).removed, [], 'marked once');

    const sync = new SyncService({ engine: new IntuneSyncEngine({ store: env.store, intune }), store: env.store, refreshToken: (t) => mirror.refresh(t) });
    const refused = await sync.startToken(TEST_TENANT, record.id, { trigger: 'manual' });
    assert.equal(refused.status, 'notSyncable');
    assert.ok(refused.status === 'notSyncable');
    assert.match(refused.message, /no longer in Intune/);
  });

  it("takes Intune's changes to a token it lists (renewed there), and a token restored in Intune is back", async () => {
    const token = intune.add({ state: 'expired', expirationDateTime: '2026-04-01T00:00:00Z' });
    await mirror.run();
    token.state = 'valid';
    token.expirationDateTime = '2027-04-01T00:00:00Z';
    token.organizationName = 'Wingtip Schools Trust';
    assert.equal((await mirror.run()).updated, 1);
    const renewed = await env.store.tokens.get(TEST_TENANT, token.id);
    assert.equal(renewed?.state, 'valid');
    assert.equal(renewed?.expirationDateTime, '2027-04-01T00:00:00.000Z');
    assert.equal(renewed?.organizationName, 'Wingtip Schools Trust');
    assert.equal(renewed?.displayName, 'Wingtip (added in Intune)', 'the name the bot shows stays');

    intune.tokens.delete(token.id);
    await mirror.run();
    intune.tokens.set(token.id, token);
    await mirror.run();
    const back = await env.store.tokens.get(TEST_TENANT, token.id);
    assert.equal(back?.state, 'valid');
    assert.equal(back?.lastError, undefined);
  });

  it('runs before a scheduled round through SyncService, so a token added in Intune directly is synced in that round', async () => {
    const token = intune.add();
    intune.books.push({ id: randomUUID(), displayName: 'Directly Added', informationUrl: 'https://books.apple.com/book/id1500000001', vppTokenId: token.id, totalLicenseCount: 5, usedLicenseCount: 1 });
    const engine = new IntuneSyncEngine({ store: env.store, intune, sleep: () => Promise.resolve() });
    const sync = new SyncService({ engine, store: env.store, beforeRound: () => mirror.run() });

    const outcomes = await sync.syncAll('scheduled');

    assert.equal(intune.listCalls, 1);
    assert.deepEqual(outcomes.map((o) => [o.tokenId, o.status, o.books]), [[token.id, 'completed', 1]]);
    assert.equal((await env.store.books.get(token.id, '1500000001', 'STDQ'))?.title, 'Directly Added');
  });

  it('a failing mirror does not stop the round; a token expired in the store but renewed in Intune starts at once when asked', async () => {
    const token = intune.add({ state: 'expired' });
    await mirror.run();
    token.state = 'valid';
    const engine = new IntuneSyncEngine({ store: env.store, intune, sleep: () => Promise.resolve() });
    const failing = new SyncService({
      engine,
      store: env.store,
      beforeRound: () => Promise.reject(new Error('Graph is down')),
    });
    assert.deepEqual(await failing.syncAll('scheduled'), [], 'the stored state (expired) stands');

    const refreshing = new SyncService({ engine, store: env.store, refreshToken: (t: VppToken) => mirror.refresh(t) });
    const started = await refreshing.startToken(TEST_TENANT, token.id, { trigger: 'manual' });
    assert.equal(started.status, 'started');
    assert.ok(started.status === 'started');
    assert.equal((await started.done).status, 'completed');
  });
});
