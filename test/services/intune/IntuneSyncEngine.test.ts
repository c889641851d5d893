import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { IntuneNotFoundError, IntuneUnavailableError } from '../../../services/intune/IntuneError';
import type { IntuneApi, IntuneEBook, IntuneSyncStatus, IntuneTokenState, IntuneVppToken } from '../../../services/intune/IntuneApi';
import { IntuneSyncEngine, type IntuneSyncEngineOptions } from '../../../services/intune/IntuneSyncEngine';
import { intuneRecordId } from '../../../services/intune/IntuneTokenMirror';
import { bookIdentity } from '../../../services/intune/bookIdentity';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';

/**
 * Intune as the engine sees it, in Graph's behaviour: `syncLicenses` puts the token in `inProgress`, and
 * it reads `completed` (or `failed`, with the state Intune then reports) after `pollsToFinish` reads; a
 * token or book that is not there is a 404 (undefined from a get, IntuneNotFoundError from an action);
 * ebooks come in pages of the whole tenant's books.
 */
class SyncingIntune implements IntuneApi {
  readonly tokens = new Map<string, IntuneVppToken>();
  readonly books: IntuneEBook[] = [];
  pollsToFinish = 2;
  pageSize = 3;
  /** What Intune's next sync with Apple ends in, and the token's state afterwards. */
  nextSync: { status: Extract<IntuneSyncStatus, 'completed' | 'failed'>; state?: IntuneTokenState } = { status: 'completed' };
  /** Never finishes: the token stays inProgress. */
  stuck = false;
  failBooks: Error | undefined;
  /** Tokens whose sync with Apple does not finish while they are here. */
  readonly held = new Set<string>();
  /** Called when Intune finishes a token's sync, before the status read that reports it. */
  onCompleted: ((id: string) => void) | undefined;
  /** syncLicenses answers only once this settles. */
  syncGate: Promise<void> | undefined;
  /** Every read of the books waits for this before its first page. */
  booksGate: Promise<void> | undefined;
  readonly calls: string[] = [];
  readonly #pending = new Map<string, number>();

  addToken(overrides: Partial<IntuneVppToken> = {}): IntuneVppToken {
    const token: IntuneVppToken = {
      id: randomUUID(),
      organizationName: 'Northwind Academy',
      accountType: 'education',
      appleId: 'vpp@northwind.example',
      expirationDateTime: '2030-06-30T23:59:59Z',
      state: 'valid',
      lastSyncStatus: 'none',
      countryOrRegion: 'gb',
      ...overrides,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  addBook(vppTokenId: string, overrides: Partial<IntuneEBook> & { adamId?: string } = {}): IntuneEBook {
    const { adamId, ...rest } = overrides;
    const book: IntuneEBook = {
      id: randomUUID(),
      displayName: `Book ${this.books.length + 1}`,
      publisher: 'Contoso Press',
      informationUrl: adamId ? `https://books.apple.com/gb/book/a-title/id${adamId}?mt=11` : undefined,
      vppTokenId,
      totalLicenseCount: 20,
      usedLicenseCount: 0,
      ...rest,
    };
    this.books.push(book);
    return book;
  }

  listVppTokens(): Promise<IntuneVppToken[]> {
    return Promise.resolve([...this.tokens.values()].map((t) => ({ ...t })));
  }

  getVppToken(id: string): Promise<IntuneVppToken | undefined> {
    this.calls.push(`GET ${id}`);
    const token = this.tokens.get(id);
    if (!token) return Promise.resolve(undefined);
    const left = this.#pending.get(id);
    if (left !== undefined && !this.stuck && !this.held.has(id)) {
      if (left <= 1) {
        this.#pending.delete(id);
        token.lastSyncStatus = this.nextSync.status;
        if (this.nextSync.state) token.state = this.nextSync.state;
        token.lastSyncDateTime = new Date().toISOString();
        this.onCompleted?.(id);
      } else {
        this.#pending.set(id, left - 1);
      }
    }
    return Promise.resolve({ ...token });
  }

  async syncLicenses(id: string): Promise<IntuneVppToken> {
    this.calls.push(`SYNC ${id}`);
    if (this.syncGate) await this.syncGate;
    const token = this.tokens.get(id);
    if (!token) throw new IntuneNotFoundError('The VPP token');
    token.lastSyncStatus = 'inProgress';
    this.#pending.set(id, this.pollsToFinish);
    return { ...token };
  }

  /** A read sees the books as they are when it begins. */
  async *eBookPages(): AsyncGenerator<IntuneEBook[], void, undefined> {
    this.calls.push('BOOKS');
    if (this.failBooks) throw this.failBooks;
    const books = this.books.map((b) => ({ ...b }));
    if (this.booksGate) await this.booksGate;
    for (let i = 0; i < books.length; i += this.pageSize) yield books.slice(i, i + this.pageSize);
  }

  createVppToken(): Promise<IntuneVppToken> {
    return Promise.reject(new Error('not used by the sync'));
  }
  updateVppToken(): Promise<IntuneVppToken> {
    return Promise.reject(new Error('not used by the sync'));
  }
  deleteVppToken(): Promise<void> {
    return Promise.reject(new Error('not used by the sync'));
  }
  getEBook(): Promise<IntuneEBook | undefined> {
    return Promise.reject(new Error('not used by the sync'));
  }
  listAssignments(): Promise<never[]> {
    return Promise.reject(new Error('not used by the sync'));
  }
  assign(): Promise<void> {
    return Promise.reject(new Error('not used by the sync'));
  }
  installSummary(): Promise<never> {
    return Promise.reject(new Error('not used by the sync'));
  }
  // eslint-disable-next-line require-yield
  async *deviceStatePages(): AsyncGenerator<never[], void, undefined> {
    throw new Error('not used by the sync');
  }
  userStateSummaries(): Promise<never[]> {
    return Promise.reject(new Error('not used by the sync'));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits (in real time, a few ms at a time) until `condition` holds, for at most 10 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition() && Date.now() < deadline) await new Promise<void>((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), `still waiting until ${what}`);
}

/** A token record as an Intune-mode upload leaves it: Intune's id, a fingerprint, no token. */
async function storeIntuneToken(env: TestEnvironment, intune: IntuneVppToken, overrides: Partial<VppToken> = {}): Promise<VppToken> {
  const now = new Date().toISOString();
  return env.store.tokens.create({
    id: intuneRecordId(intune.id),
    tenantId: TEST_TENANT,
    displayName: `Token ${intune.id.slice(0, 6)}`,
    organizationName: 'Northwind Academy',
    appleId: 'vpp@northwind.example',
    accountType: 'education',
    locationName: 'Main Campus',
    expirationDateTime: '2029-01-01T00:00:00.000Z',
    state: 'valid',
    lastSyncStatus: 'none',
    consecutiveSyncFailures: 0,
    intuneTokenId: intune.id,
    fingerprint: 'ab'.repeat(16),
    createdBy: { aadObjectId: 'admin' },
    createdDateTime: now,
    lastModifiedDateTime: now,
    ...overrides,
  });
}

describe('IntuneSyncEngine (in-memory Intune, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  let intune: SyncingIntune;
  let sleeps: number[];
  const engine = (options: Partial<IntuneSyncEngineOptions> = {}) =>
    new IntuneSyncEngine({
      store: env.store,
      intune,
      pollIntervalMs: 1_000,
      pollTimeoutMs: 10_000,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      ...options,
    });
  beforeEach(() => {
    intune = new SyncingIntune();
    sleeps = [];
  });

  it("asks Intune to sync, follows lastSyncStatus to completed, and stores this token's books under Apple's adamIds", async () => {
    const theirs = intune.addToken();
    const other = intune.addToken({ organizationName: 'Elsewhere' });
    const record = await storeIntuneToken(env, theirs);
    intune.addBook(theirs.id, { adamId: '361309726', displayName: 'Great Expectations', publisher: 'Penguin', totalLicenseCount: 30, usedLicenseCount: 12 });
    intune.addBook(theirs.id, { adamId: '1234567890', displayName: 'Overdrawn', totalLicenseCount: 3, usedLicenseCount: 5 });
    for (let i = 0; i < 5; i++) intune.addBook(theirs.id.toUpperCase(), { adamId: String(1_500_000_000 + i) });
    intune.addBook(other.id, { adamId: '999999' });
    intune.pollsToFinish = 3;
    const progress: string[] = [];

    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'manual', onProgress: (p) => progress.push(p.phase) });

    assert.equal(outcome.status, 'completed', outcome.error?.message);
    assert.deepEqual(sleeps, [1_000, 1_000, 1_000], 'three reads of the status, one interval apart');
    assert.deepEqual(intune.calls.slice(0, 5), [`SYNC ${theirs.id}`, `GET ${theirs.id}`, `GET ${theirs.id}`, `GET ${theirs.id}`, 'BOOKS'], 'the books are read only once Intune is done');
    assert.equal(outcome.books, 7, "the other token's book is left out; Graph's id case does not matter");
    assert.equal(outcome.changes.booksAdded, 7);
    assert.deepEqual(outcome.licenses, { total: 30 + 3 + 100, used: 12 + 5, available: 18 + 0 + 100 });
    assert.ok(progress.includes('config') && progress.includes('books') && progress.includes('saving'));

    const great = await env.store.books.get(record.id, '361309726', 'STDQ');
    assert.ok(great);
    assert.equal(great.title, 'Great Expectations');
    assert.equal(great.author, 'Penguin');
    assert.equal(great.availableLicenseCount, 18);
    assert.equal(great.intuneBookId, intune.books[0]?.id);
    assert.equal(great.coverUrl, undefined, 'no cover bytes are stored');
    assert.equal((await env.store.books.get(record.id, '1234567890', 'STDQ'))?.availableLicenseCount, 0, 'never below zero');
    assert.equal(await env.store.books.get(record.id, '999999', 'STDQ'), undefined);

    const [run] = await env.store.syncRuns.listRecent(record.id);
    assert.equal(run?.status, 'completed');
    assert.equal(run?.counts.booksAdded, 7);
    assert.equal(outcome.token.lastSyncStatus, 'completed');
    assert.equal(outcome.token.consecutiveSyncFailures, 0);
  });

  it("takes Intune's view of the token on each sync: a renewal or a new Apple Account made in Intune shows up", async () => {
    const theirs = intune.addToken({ organizationName: 'Northwind Academy Trust', expirationDateTime: '2031-03-01T10:00:00-08:00', appleId: 'new-admin@northwind.example', countryOrRegion: 'us' });
    const record = await storeIntuneToken(env, theirs);
    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'completed', outcome.error?.message);
    const stored = await env.store.tokens.get(TEST_TENANT, record.id);
    assert.equal(stored?.organizationName, 'Northwind Academy Trust');
    assert.equal(stored?.expirationDateTime, '2031-03-01T18:00:00.000Z');
    assert.equal(stored?.appleId, 'new-admin@northwind.example');
    assert.equal(stored?.countryOrRegion, 'US');
    assert.equal(stored?.encryptedToken, undefined, 'still no copy of the token');
  });

  it('a second sync with nothing changed writes no book; a change, a low book and a removal are counted as the Apple engine counts them', async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    const kept = intune.addBook(theirs.id, { adamId: '1100000001', totalLicenseCount: 50, usedLicenseCount: 10 });
    const goes = intune.addBook(theirs.id, { adamId: '1100000002' });
    intune.addBook(theirs.id, { adamId: '1100000003' });
    const sync = engine({ lowLicenses: { count: 5, percent: 0 } });
    await sync.syncToken(TEST_TENANT, record.id, { trigger: 'manual' });

    const same = await sync.syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(same.status, 'completed');
    assert.equal(same.dataWrites, 0);
    assert.deepEqual(same.changes, { booksAdded: 0, booksUpdated: 0, booksRemoved: 0, usersChanged: 0, assignmentsChanged: 0 });

    kept.usedLicenseCount = 47;
    intune.books.splice(intune.books.indexOf(goes), 1);
    const changed = await sync.syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.deepEqual(changed.changes, { booksAdded: 0, booksUpdated: 1, booksRemoved: 1, usersChanged: 0, assignmentsChanged: 0 });
    assert.deepEqual(changed.lowLicenseBooks, [{ adamId: '1100000001', title: kept.displayName, available: 3, total: 50 }]);
    assert.equal((await env.store.books.listByToken(record.id)).length, 2);

    const again = await sync.syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.deepEqual(again.lowLicenseBooks, [], 'a book already low is not reported again');
  });

  it('a book without an Apple page keeps one derived adamId on every sync, so it is not removed and added again', async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    const book = intune.addBook(theirs.id, { displayName: 'No Page', informationUrl: undefined });
    const first = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'manual' });
    assert.equal(first.changes.booksAdded, 1);
    const [stored] = await env.store.books.listByToken(record.id);
    assert.ok(stored);
    assert.match(stored.adamId, /^9\d{19}$/);
    assert.equal(stored.adamId, bookIdentity(book).adamId);
    const second = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'manual' });
    assert.deepEqual(second.changes, { booksAdded: 0, booksUpdated: 0, booksRemoved: 0, usersChanged: 0, assignmentsChanged: 0 });
  });

  it("Intune's failed sync fails the run with Intune's reason and what to do, and takes Intune's state", async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    intune.addBook(theirs.id, { adamId: '1200000001' });
    intune.nextSync = { status: 'failed', state: 'expired' };

    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });

    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'intune_sync_failed');
    assert.match(outcome.error?.message ?? '', /^Intune could not sync ".+" with Apple: Intune reports the token as expired\. Download a new token .+ \*\*renew /);
    assert.equal(outcome.token.state, 'expired');
    assert.equal(outcome.token.consecutiveSyncFailures, 1);
    assert.equal(outcome.token.lastError?.code, 'intune_sync_failed');
    assert.equal((await env.store.books.listByToken(record.id)).length, 0, 'nothing read, nothing written');
    const [run] = await env.store.syncRuns.listRecent(record.id);
    assert.equal(run?.status, 'failed');

    const next = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(next.status, 'skipped', 'an expired token waits for its renewal');
  });

  it("maps Intune's states: duplicateLocationId stops the sync as a duplicate location, unknown keeps the stored state", async () => {
    const duplicate = intune.addToken();
    const record = await storeIntuneToken(env, duplicate);
    intune.nextSync = { status: 'completed', state: 'duplicateLocationId' };
    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'duplicate_location');
    assert.match(outcome.error?.message ?? '', /^Intune reports that/);
    assert.equal(outcome.token.state, 'duplicateLocation');

    const unknown = intune.addToken({ state: 'unknown' });
    const other = await storeIntuneToken(env, unknown);
    intune.nextSync = { status: 'completed', state: 'unknown' };
    intune.addBook(unknown.id, { adamId: '1300000001' });
    const fine = await engine().syncToken(TEST_TENANT, other.id, { trigger: 'manual' });
    assert.equal(fine.status, 'completed', fine.error?.message);
    assert.equal(fine.token.state, 'valid');
  });

  it('gives up after the timeout without writing, leaving the state alone', async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    intune.addBook(theirs.id, { adamId: '1400000001' });
    intune.stuck = true;
    const outcome = await engine({ pollIntervalMs: 30_000, pollTimeoutMs: 120_000 }).syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'intune_sync_timeout');
    assert.match(outcome.error?.message ?? '', /after 2 minutes/);
    assert.deepEqual(sleeps, [30_000, 30_000, 30_000, 30_000], 'four reads fit in the two minutes');
    assert.equal(outcome.token.state, 'valid');
    assert.equal((await env.store.books.listByToken(record.id)).length, 0);
    assert.ok(!intune.calls.includes('BOOKS'));
  });

  it('a token removed from Intune (404) is marked invalid with the reason, and later syncs are skipped saying so', async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    intune.tokens.delete(theirs.id);
    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'removed_from_intune');
    assert.equal(outcome.token.state, 'invalid');
    const next = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(next.status, 'skipped');
    assert.match(next.error?.message ?? '', /no longer in Intune/);

    const during = intune.addToken();
    const other = await storeIntuneToken(env, during);
    const removing = engine({
      sleep: () => {
        intune.tokens.delete(during.id);
        return Promise.resolve();
      },
    });
    const midway = await removing.syncToken(TEST_TENANT, other.id, { trigger: 'scheduled' });
    assert.equal(midway.error?.code, 'removed_from_intune');
    assert.equal(midway.token.state, 'invalid');
  });

  it("Graph's refusal ends the run with its own message and changes nothing else", async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    intune.failBooks = new IntuneUnavailableError('read the books', { status: 503 });
    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'intune_unavailable');
    assert.match(outcome.error?.message ?? '', /Intune is busy/);
    assert.equal(outcome.token.state, 'valid');
    assert.equal(outcome.token.consecutiveSyncFailures, 1);
  });

  it('a lost lease while waiting for Intune stops the run as the Apple engine does', async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs);
    const abort = new AbortController();
    const outcome = await engine({
      sleep: () => {
        abort.abort(Object.assign(new Error('sync lease lost'), { name: 'AbortError' }));
        return Promise.resolve();
      },
    }).syncToken(TEST_TENANT, record.id, { trigger: 'scheduled', signal: abort.signal });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'lease_lost');
  });

  it('syncs of several tokens that finish with Intune together share one read of the catalogue, each keeping its own books', async () => {
    const tokens = [intune.addToken(), intune.addToken(), intune.addToken()];
    const records = await Promise.all(tokens.map((t) => storeIntuneToken(env, t)));
    tokens.forEach((t, i) => {
      for (let b = 0; b <= i; b++) intune.addBook(t.id, { adamId: String(1_600_000_000 + i * 10 + b) });
    });
    // As the scheduled round starts them: every sync is under way with Intune before any is done.
    const allAsked = deferred();
    intune.syncGate = allAsked.promise;
    const sync = engine();
    const running = records.map((r) => sync.syncToken(TEST_TENANT, r.id, { trigger: 'scheduled' }));
    await until(() => intune.calls.filter((c) => c.startsWith('SYNC')).length === 3, 'the three syncs have asked Intune');
    allAsked.resolve();

    const outcomes = await Promise.all(running);
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.books, o.changes.booksAdded]),
      [
        ['completed', 1, 1],
        ['completed', 2, 2],
        ['completed', 3, 3],
      ],
    );
    assert.equal(intune.calls.filter((c) => c === 'BOOKS').length, 1, 'one read of the catalogue for the three');
    assert.deepEqual((await env.store.books.listByToken(records[1]!.id)).map((b) => b.adamId).sort(), ['1600000010', '1600000011']);
  });

  it('never gives a token books from a read that began before Intune had finished its sync, even a read still under way', async () => {
    const first = intune.addToken();
    const second = intune.addToken();
    const [a, b] = await Promise.all([storeIntuneToken(env, first), storeIntuneToken(env, second)]);
    intune.addBook(first.id, { adamId: '1700000001' });
    const bought = intune.addBook(second.id, { adamId: '1700000002', totalLicenseCount: 5 });
    // Intune's sync of the second token brings Apple's news: more licenses and another book.
    let readsBeforeSecondDone = -1;
    intune.onCompleted = (id) => {
      if (id !== second.id) return;
      readsBeforeSecondDone = intune.calls.filter((c) => c === 'BOOKS').length;
      bought.totalLicenseCount = 25;
      intune.addBook(second.id, { adamId: '1700000003' });
    };
    intune.held.add(second.id);
    const firstReadUnderWay = deferred();
    intune.booksGate = firstReadUnderWay.promise;
    // Nothing gathered: the first token's read starts while the second is still syncing with Intune.
    const sync = engine({ catalogueGatherMs: 0, pollTimeoutMs: 3_600_000, sleep: () => new Promise<void>((resolve) => setImmediate(resolve)) });
    const running = [a, b].map((r) => sync.syncToken(TEST_TENANT, r.id, { trigger: 'scheduled' }));
    await until(() => intune.calls.includes('BOOKS'), "the first token's read has begun");
    intune.held.delete(second.id);
    await until(() => readsBeforeSecondDone >= 0, "Intune has finished the second token's sync");
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
    intune.booksGate = undefined;
    firstReadUnderWay.resolve();

    const [one, two] = await Promise.all(running);
    assert.equal(readsBeforeSecondDone, 1, "the first read began before Intune finished the second token's sync");
    assert.equal(one?.status, 'completed', one?.error?.message);
    assert.equal(one?.books, 1);
    assert.equal(two?.status, 'completed', two?.error?.message);
    assert.equal(two?.books, 2, 'the book the sync brought is there');
    assert.equal(intune.calls.filter((c) => c === 'BOOKS').length, 2);
    assert.equal((await env.store.books.get(b.id, '1700000002', 'STDQ'))?.totalLicenseCount, 25, 'the counts as Intune has them after its sync');
  });

  it('skips a token Intune does not have (uploaded while the bot held tokens itself), saying how to hand it over', async () => {
    const theirs = intune.addToken();
    const record = await storeIntuneToken(env, theirs, { id: randomUUID(), intuneTokenId: undefined });
    const outcome = await engine().syncToken(TEST_TENANT, record.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'skipped');
    assert.equal(outcome.error?.code, 'token_not_in_intune');
    assert.match(outcome.error?.message ?? '', /To hand it to Intune, type \*\*renew .+\*\* and send its file/);
    assert.deepEqual(intune.calls, [], 'Intune was not asked');
  });
});
