import { strict as assert } from 'node:assert';
import { bookListCard } from '../../../cards/bookCards';
import { silentLogger } from '../../../services/logging/logger';
import { AppleClientFactory } from '../../../services/tokens/AppleClientFactory';
import { TEST_MDM, TestEnvironment } from '../../support/TestEnvironment';
import { seedToken, syncEngine, type SeededToken } from '../../support/syncFixtures';

const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The sync reads Apple the way Apple documents its answers (issue #13): opaque version ids it may
 * refuse, pages that shift while they are read, retired entries beside active ones, free books, and
 * `mdmInfo` on every answer.
 */
describe('SyncEngine against Apple-shaped answers (sandbox, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());
  afterEach(() => env.sandbox.faults.clear());

  /** A client factory whose fetch lets a test change Apple's data between two answers. */
  function appleWith(onResponse: (url: URL) => void): AppleClientFactory {
    return new AppleClientFactory({
      baseUrl: env.sandbox.baseUrl,
      logger: silentLogger(),
      retry: { baseDelayMs: 5, maxDelayMs: 20, deadlineMs: 1_000 },
      mdmId: TEST_MDM.id,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        onResponse(new URL(String(input)));
        return response;
      },
    });
  }

  /** Moves the first book to the end of Apple's list: every later book shifts one place towards page 1. */
  function moveFirstBookToEnd(seeded: SeededToken): void {
    const [key, book] = [...seeded.org.books.entries()][0]!;
    seeded.org.books.delete(key);
    env.sandbox.state.addBook(seeded.org, { adamId: book.adamId, title: book.title, author: book.author, totalCount: book.totalCount });
  }

  it('reads users and licenses in full, in the same run, when Apple refuses the stored version ids (9721)', async () => {
    const seeded = await seedToken(env, { books: 3, botUsers: 2 });
    const engine = syncEngine(env);
    await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    await env.store.tokens.update(seeded.token.tenantId, seeded.token.id, (t) => ({ ...t, usersVersionId: 'from-an-older-apple', assignmentsVersionId: 'from-an-older-apple' }));
    const second = seeded.botUsers[1]!;
    const user = env.sandbox.state.activeUser(seeded.org, second)!;
    env.sandbox.state.putUser(seeded.org, { ...user, status: 'Associated', inviteCode: undefined });
    env.sandbox.stats.reset();

    const outcome = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'completed', outcome.error?.message);
    assert.equal((await env.store.vppUsers.get(seeded.token.id, second))?.status, 'associated', 'the change was read in the same run');
    assert.equal(env.sandbox.stats.count('GET', '/users'), 2, 'the refused incremental read, then the full one');
    assert.match(outcome.token.usersVersionId ?? '', UUID_LIKE);
    assert.match(outcome.token.assignmentsVersionId ?? '', UUID_LIKE);
    assert.equal(outcome.token.consecutiveSyncFailures, 0);
  });

  it('starts a full read again when pages shift under it, and never drops a book because of it', async () => {
    const seeded = await seedToken(env, { books: 30, botUsers: 1 });
    await syncEngine(env).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    let moved = false;
    const apple = appleWith((url) => {
      // After page 1 of the book list, Apple's list changes: without a restart the book that slid onto page 1 would be missed.
      if (!moved && url.pathname.endsWith('/assets') && !url.searchParams.has('pageIndex')) {
        moved = true;
        moveFirstBookToEnd(seeded);
      }
    });
    env.sandbox.stats.reset();
    const outcome = await syncEngine(env, { apple }).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'completed', outcome.error?.message);
    assert.equal(outcome.changes.booksRemoved, 0);
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 30);
    assert.equal(env.sandbox.stats.count('GET', '/assets'), 4, 'two pages, then both again');
  });

  it('gives up, changing nothing, when the book list keeps changing on every page', async () => {
    const seeded = await seedToken(env, { books: 30, botUsers: 1 });
    await syncEngine(env).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    const apple = appleWith((url) => {
      if (url.pathname.endsWith('/assets') && !url.searchParams.has('pageIndex')) moveFirstBookToEnd(seeded);
    });
    const outcome = await syncEngine(env, { apple }).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error?.message ?? '', /kept changing.*nothing was changed/);
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 30, 'no book deleted');
    assert.equal(outcome.token.state, 'valid');
  });

  it('stops when any answer, not only client config, names another MDM', async () => {
    const seeded = await seedToken(env, { books: 3, botUsers: 2 });
    const apple = appleWith((url) => {
      if (url.pathname.endsWith('/client/config')) seeded.org.mdmInfo = { id: 'contoso-mdm', name: 'Contoso MDM', metadata: 'x' };
    });
    const outcome = await syncEngine(env, { apple }).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'scheduled' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'external_mdm');
    assert.equal(outcome.token.state, 'assignedToExternalMDM');
    assert.equal(outcome.token.externalMdm?.name, 'Contoso MDM');
    assert.equal((await env.store.books.listByToken(seeded.token.id)).length, 0, 'nothing written');
  });

  it('keeps the active entry of a user Apple lists several times (retired and created again)', async () => {
    const seeded = await seedToken(env, { books: 1, botUsers: 1 });
    const [id] = seeded.botUsers;
    assert.ok(id);
    const engine = syncEngine(env);
    await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    env.sandbox.state.retireUser(seeded.org, id);
    env.sandbox.state.createUser(seeded.org, { clientUserId: id });
    const fresh = env.sandbox.state.activeUser(seeded.org, id)!;
    // Apple may list the entries in any order: the retired one last here.
    const [retired] = [...seeded.org.users.values()].filter((u) => u.clientUserId === id && u.status === 'Retired');
    assert.ok(retired);
    seeded.org.users.delete(retired.entryId);
    seeded.org.users.set(retired.entryId, { ...retired, versionId: env.sandbox.state.touch(seeded.org, 'users') });

    const outcome = await engine.syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'completed');
    const stored = await env.store.vppUsers.get(seeded.token.id, id);
    assert.equal(stored?.status, 'registered');
    assert.equal(stored?.inviteCode, fresh.inviteCode, 'the new invitation, not the retired one');
  });

  it('shows free books as unlimited and leaves them out of totals and low-license warnings', async () => {
    const seeded = await seedToken(env, { books: 2, botUsers: 1, licenses: 20 });
    const free = env.sandbox.state.addBook(seeded.org, { adamId: '1799500001', title: 'The Art of War', author: 'Sun Tzu', totalCount: 'unlimited' });
    free.assignedCount = 40;
    const outcome = await syncEngine(env, { lowLicenses: { count: 5, percent: 10 } }).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'completed');
    assert.deepEqual(outcome.licenses, { total: 40, used: 0, available: 40 });
    assert.deepEqual(outcome.lowLicenseBooks, []);
    const stored = await env.store.books.get(seeded.token.id, free.adamId, 'STDQ');
    assert.equal(stored?.unlimited, true);
    const card = JSON.stringify(bookListCard({ books: [{ ...stored!, tokenDisplayName: 'Org' }], text: '', offset: 0, previous: undefined, next: undefined, tokenCount: 1 }));
    assert.ok(card.includes('Unlimited (free book)'));
    assert.ok(!card.includes('2,147,483,647'));
  });

  it("a first sync reads only the licenses of the bot's own users, one user at a time when they are few", async () => {
    const seeded = await seedToken(env, { books: 4, botUsers: 3, otherUsers: 200 });
    const others = [...seeded.org.users.values()].map((u) => u.clientUserId).filter((id) => !seeded.botUsers.includes(id));
    env.sandbox.state.seedAssignments(seeded.org, others, 300);
    const requested: URL[] = [];
    const apple = appleWith((url) => {
      if (url.pathname.endsWith('/assignments')) requested.push(url);
    });
    const outcome = await syncEngine(env, { apple }).syncToken(seeded.token.tenantId, seeded.token.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'completed');
    assert.equal(requested.length, 3, 'one request per bot user instead of 12 pages of the whole organisation');
    assert.deepEqual(requested.map((u) => u.searchParams.get('clientUserId')).sort(), [...seeded.botUsers].sort());

    const empty = await seedToken(env, { books: 2, botUsers: 0, otherUsers: 50 });
    env.sandbox.stats.reset();
    await syncEngine(env).syncToken(empty.token.tenantId, empty.token.id, { trigger: 'manual' });
    assert.equal(env.sandbox.stats.count('GET', '/assignments'), 0, 'no users of its own, no license to read');
  });
});
