import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import type { FetchFn } from '../../../services/apple/VppTransport';
import { VppError } from '../../../services/apple/VppError';
import { isUnlimitedAsset, type AssetsPage, type UsersPage } from '../../../services/apple/schemas';
import { BOOKS, startTestSandbox, type TestSandbox } from './helpers';

/**
 * Behaviour Apple documents (test/fixtures/apple/NOTES.md) and that an admin would notice if the client
 * got it wrong: complete and consistent reads, the users Apple refuses, retries, the service-config
 * refresh, ownership checks, free books and single-book reads. Time is faked where it matters.
 */

async function rejectsWith(promise: Promise<unknown>, check: (e: VppError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof VppError, `expected VppError, got ${String(error)}`);
    check(error);
    return true;
  });
}

/** A fake clock that only moves when the client sleeps; every sleep is recorded and resolves at once. */
function fakeTime(start = Date.now()): { now: () => Date; sleep: (ms: number) => Promise<void>; sleeps: number[]; advance: (ms: number) => void; ms: () => number } {
  let clock = start;
  const sleeps: number[] = [];
  return {
    now: () => new Date(clock),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    sleeps,
    advance: (ms) => {
      clock += ms;
    },
    ms: () => clock,
  };
}

interface Recorded {
  method: string;
  url: URL;
  body: unknown;
}

/** A fetch that records every request (URL, method, JSON body) and can act after each answer arrived. */
function recordingFetch(after?: (request: Recorded, response: Response) => void | Promise<void>): { fetch: FetchFn; requests: Recorded[] } {
  const requests: Recorded[] = [];
  const wrapped: FetchFn = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const request = { method: init?.method ?? 'GET', url, body };
    requests.push(request);
    const response = await fetch(input, init);
    await after?.(request, response);
    return response;
  };
  return { fetch: wrapped, requests };
}

const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe('AppleBooksClient: behaviour Apple documents', () => {
  let t: TestSandbox;
  beforeEach(async () => {
    t = await startTestSandbox();
  });
  afterEach(async () => {
    await t.sandbox.close();
  });

  describe('rejected version ids (9721)', () => {
    it('reads every user in the same call when Apple refuses the sinceVersionId, and reports it once', async () => {
      const ids = t.state.seedUsers(t.org, 7);
      t.state.retireUser(t.org, ids[2] ?? '');
      const answers: { status: number; errorNumber?: number }[] = [];
      const { fetch, requests } = recordingFetch(async (_request, response) => {
        answers.push({ status: response.status, ...((await response.clone().json()) as { errorNumber?: number }) });
      });
      const client = t.client({ fetch });

      const read = await client.listUsers({ sinceVersionId: 'not-a-version' });
      assert.deepEqual([answers[0]?.status, answers[0]?.errorNumber], [400, 9721], "Apple's answer to the first page");
      assert.deepEqual(
        [...new Set(read.items.map((u) => u.clientUserId))].sort(),
        [...ids].sort(),
        'every user comes back, as in a full read',
      );
      assert.equal(read.items.length, 7);
      assert.equal(read.items.filter((u) => u.status === 'Retired').length, 1, 'the retired user too, as a full read returns it');
      assert.match(read.versionId ?? '', UUID_LIKE);
      const userRequests = requests.filter((r) => r.url.pathname.endsWith('/users'));
      assert.equal(userRequests[0]?.url.searchParams.get('sinceVersionId'), 'not-a-version');
      assert.ok(userRequests.slice(1).every((r) => !r.url.searchParams.has('sinceVersionId')), 'the full read no longer sends the refused id');
      assert.equal(t.sandbox.stats.count('GET', '/users'), 1 + 2, 'one refused request, then two pages of five');

      const reasons: string[] = [];
      let items = 0;
      for await (const page of client.userPages({ sinceVersionId: 'not-a-version' }, { onRestart: (r) => reasons.push(r) })) items += page.users.length;
      assert.deepEqual(reasons, ['versionRejected']);
      assert.equal(items, 7);
    });

    it('reads every assignment when Apple does not know the sinceVersionId', async () => {
      const ids = t.state.seedUsers(t.org, 4);
      t.state.seedAssignments(t.org, ids, 11);
      const statuses: number[] = [];
      const { fetch } = recordingFetch((_request, response) => {
        statuses.push(response.status);
      });
      const read = await t.client({ fetch }).listAssignments({ sinceVersionId: randomUUID() });
      assert.deepEqual(statuses, [400, 200, 200, 200], 'refused (9721), then three pages of the full read');
      assert.equal(read.items.length, 11);
      assert.equal(new Set(read.items.map((a) => `${a.adamId}|${a.clientUserId ?? ''}`)).size, 11);
      assert.match(read.versionId ?? '', UUID_LIKE);
    });

    it('still reads incrementally from a versionId an earlier read returned', async () => {
      t.state.seedUsers(t.org, 6, 'early');
      const client = t.client();
      const full = await client.listUsers();
      assert.equal(full.items.length, 6);
      assert.match(full.versionId ?? '', UUID_LIKE, "the sandbox's versionIds are opaque UUID-like strings, as Apple's are");
      t.state.seedUsers(t.org, 2, 'late');
      const reasons: string[] = [];
      const pages: UsersPage[] = [];
      for await (const page of client.userPages({ sinceVersionId: full.versionId }, { onRestart: (r) => reasons.push(r) })) pages.push(page);
      assert.deepEqual(reasons, []);
      assert.deepEqual(pages.flatMap((p) => p.users.map((u) => u.clientUserId)), ['late-0', 'late-1']);

      const assignments = await client.listAssignments();
      const ids = t.state.seedUsers(t.org, 1, 'holder');
      t.state.assign(t.org, BOOKS[5]?.adamId ?? '', 'STDQ', ids[0] ?? '');
      const delta = await client.listAssignments({ sinceVersionId: assignments.versionId });
      assert.deepEqual(delta.items.map((a) => [a.adamId, a.clientUserId]), [[BOOKS[5]?.adamId, 'holder-0']]);
    });
  });

  describe('consistent paged reads', () => {
    const extraBook = (n: number): { adamId: string; title: string; author: string; totalCount: number } => ({
      adamId: String(1_790_000_000 + n),
      title: `Bought during the read ${n}`,
      author: 'A',
      totalCount: 5,
    });

    it('starts a full read again when a book is bought between two pages, and returns each book once', async () => {
      let answered = 0;
      const { fetch } = recordingFetch((request) => {
        if (request.url.pathname.endsWith('/assets') && ++answered === 1) t.state.addBook(t.org, extraBook(1));
      });
      const read = await t.client({ fetch }).listAssets();
      const adamIds = read.items.map((a) => a.adamId);
      assert.equal(adamIds.length, 13, `got ${adamIds.length} items`);
      assert.equal(new Set(adamIds).size, 13, 'no book twice');
      assert.ok(adamIds.includes(extraBook(1).adamId));
      assert.equal(read.versionId, t.state.versionId(t.org, 'assets'), 'the versionId of the read that completed');
      assert.equal(t.sandbox.stats.count('GET', '/assets'), 2 + 3, 'two pages, then the whole read again (5+5+3)');
    });

    it('starts again when the list shrank between pages and the next page is past the end (9650)', async () => {
      let answered = 0;
      const { fetch } = recordingFetch((request) => {
        // After the first of three pages (5+5+2), seven books go: Apple now has one page, and page 1 is out of range.
        if (request.url.pathname.endsWith('/assets') && ++answered === 1) for (const key of [...t.org.books.keys()].slice(0, 7)) t.org.books.delete(key);
      });
      const reasons: string[] = [];
      const kept: string[] = [];
      for await (const page of t.client({ fetch }).assetPages({
        onRestart: (r) => {
          reasons.push(r);
          kept.length = 0;
        },
      })) kept.push(...page.assets.map((a) => a.adamId));
      assert.deepEqual(reasons, ['versionChanged']);
      assert.deepEqual(kept.sort(), [...t.org.books.values()].map((b) => b.adamId).sort(), 'the five books Apple still lists, once each');
    });

    it('tells the caller of assetPages to drop what it has, with versionChanged', async () => {
      let answered = 0;
      const { fetch } = recordingFetch((request) => {
        if (request.url.pathname.endsWith('/assets') && ++answered === 1) t.state.addBook(t.org, extraBook(2));
      });
      const reasons: string[] = [];
      let kept: AssetsPage[] = [];
      for await (const page of t.client({ fetch }).assetPages({
        onRestart: (r) => {
          reasons.push(r);
          kept = [];
        },
      })) kept.push(page);
      assert.deepEqual(reasons, ['versionChanged']);
      assert.equal(kept.flatMap((p) => p.assets).length, 13);
    });

    it('gives up after a bounded number of restarts when the data changes on every page, saying nothing was changed', async () => {
      let n = 0;
      const { fetch } = recordingFetch((request) => {
        if (request.url.pathname.endsWith('/assets')) t.state.addBook(t.org, extraBook(++n));
      });
      const reasons: string[] = [];
      const client = t.client({ fetch });
      await rejectsWith(
        (async () => {
          for await (const _page of client.assetPages({ onRestart: (r) => reasons.push(r) })) {
            // drain
          }
        })(),
        (e) => {
          assert.equal(e.kind, 'unavailable');
          assert.match(e.message, /nothing was changed/);
        },
      );
      assert.ok(reasons.length >= 1 && reasons.length <= 5, `${reasons.length} restarts`);
      assert.ok(reasons.every((r) => r === 'versionChanged'));
      const requests = t.sandbox.stats.count('GET', '/assets');
      assert.ok(requests <= 2 * 6, `${requests} requests: the read must stop`);
      await rejectsWith(t.client({ fetch }).listAssets(), (e) => assert.equal(e.kind, 'unavailable'));
    });

    it('does not restart an incremental read when the data changes between its pages', async () => {
      const client = t.client();
      const before = await client.listUsers();
      t.state.seedUsers(t.org, 12);
      let answered = 0;
      const { fetch } = recordingFetch((request) => {
        if (request.url.pathname.endsWith('/users') && ++answered === 1) t.state.seedUsers(t.org, 1, 'mid-read');
      });
      const reasons: string[] = [];
      const pages: UsersPage[] = [];
      const reader = t.client({ fetch });
      for await (const page of reader.userPages({ sinceVersionId: before.versionId }, { onRestart: (r) => reasons.push(r) })) pages.push(page);
      assert.deepEqual(reasons, []);
      assert.equal(answered, 3, 'three pages, no second pass');
      const seen = pages.flatMap((p) => p.users.map((u) => u.clientUserId));
      for (let i = 0; i < 12; i++) assert.ok(seen.includes(`seed-user-${i}`));
      // Apple: keep the FIRST page's versionId; the next incremental read then picks up what changed meanwhile.
      const firstVersion = pages[0]?.versionId;
      const next = await client.listUsers({ sinceVersionId: firstVersion });
      assert.ok(next.items.some((u) => u.clientUserId === 'mid-read-0'));
    });
  });

  it('sends no pageIndex on the first page and then the nextPageIndex Apple gave', async () => {
    const nextIndexes: (number | undefined)[] = [];
    const { fetch, requests } = recordingFetch(async (request, response) => {
      if (request.url.pathname.endsWith('/assets')) nextIndexes.push(((await response.clone().json()) as { nextPageIndex?: number }).nextPageIndex);
    });
    const read = await t.client({ fetch }).listAssets();
    assert.equal(read.items.length, 12);
    const urls = requests.filter((r) => r.url.pathname.endsWith('/assets')).map((r) => r.url);
    assert.equal(urls.length, 3);
    assert.equal(urls[0]?.searchParams.has('pageIndex'), false, `first URL ${urls[0]?.search}`);
    assert.deepEqual(nextIndexes, [1, 2, undefined]);
    assert.deepEqual(
      urls.slice(1).map((u) => u.searchParams.get('pageIndex')),
      nextIndexes.slice(0, 2).map(String),
    );
  });

  it('lists retired users by default, leaves them out with activeOnly=true, and never sends includeRetired', async () => {
    const ids = t.state.seedUsers(t.org, 3);
    t.state.retireUser(t.org, ids[1] ?? '');
    const { fetch, requests } = recordingFetch();
    const client = t.client({ fetch });

    const all = await client.listUsers();
    assert.deepEqual(all.items.map((u) => [u.clientUserId, u.status]).sort(), [
      ['seed-user-0', 'Associated'],
      ['seed-user-1', 'Retired'],
      ['seed-user-2', 'Associated'],
    ]);
    const defaultUrl = requests.at(-1)?.url;
    assert.equal(defaultUrl?.searchParams.has('activeOnly'), false);
    assert.equal(defaultUrl?.searchParams.has('retiredOnly'), false);

    const active = await client.listUsers({ activeOnly: true });
    assert.deepEqual(active.items.map((u) => u.clientUserId).sort(), ['seed-user-0', 'seed-user-2']);
    assert.equal(requests.at(-1)?.url.searchParams.get('activeOnly'), 'true');

    await client.listUsers({ sinceVersionId: all.versionId });
    await client.listUsers({ sinceVersionId: all.versionId, activeOnly: true });
    assert.ok(requests.length >= 4);
    assert.ok(
      requests.every((r) => ![...r.url.searchParams.keys()].some((k) => k.toLowerCase().includes('includeretired'))),
      'includeRetired is a v1 parameter',
    );
  });

  describe('9717 invalid e-mail on users/create', () => {
    it('creates the good users and reports the bad one as failed, naming its e-mail problem', async () => {
      const { fetch, requests } = recordingFetch();
      const client = t.client({ fetch });
      const result = await client.createUsersAndWait([
        { clientUserId: 'good1', email: 'good1@school.example' },
        { clientUserId: 'bad', email: 'not-an-email' },
        { clientUserId: 'good2', email: 'good2@school.example' },
      ]);
      assert.equal(result.status, 'FAILED');
      assert.equal(result.numRequested, 3);
      assert.equal(result.numCompleted, 2);
      const failure = result.failures.find((f) => f.clientUserIds.includes('bad'));
      assert.ok(failure, JSON.stringify(result.failures));
      assert.equal(failure.errorNumber, 9717);
      assert.deepEqual(failure.clientUserIds, ['bad']);
      assert.match(failure.message, /e-mail address/);
      assert.equal(result.failures.length, 1);

      const creates = requests.filter((r) => r.method === 'POST' && r.url.pathname.endsWith('/users/create'));
      assert.equal(t.sandbox.stats.count('POST', '/users/create'), 2);
      assert.equal(creates.length, 2);
      const sent = (r: Recorded | undefined): string[] => ((r?.body as { users?: { clientUserId: string }[] } | undefined)?.users ?? []).map((u) => u.clientUserId);
      assert.deepEqual(sent(creates[0]), ['good1', 'bad', 'good2']);
      assert.deepEqual(sent(creates[1]), ['good1', 'good2']);

      const users = await client.listUsers();
      assert.deepEqual(users.items.map((u) => u.clientUserId).sort(), ['good1', 'good2']);
    });

    it('loses nobody when Apple names nobody: the batch is split until it goes through', async () => {
      t.sandbox.faults.failNext('/users/create', 1, { kind: 'status', status: 400, errorNumber: 9717 });
      const client = t.client();
      const wanted = ['n1', 'n2', 'n3', 'n4', 'n5'];
      const result = await client.createUsersAndWait(wanted.map((id) => ({ clientUserId: id, email: `${id}@school.example` })));
      assert.deepEqual(result.failures, []);
      assert.equal(result.status, 'COMPLETE');
      assert.equal(result.numCompleted, wanted.length);
      assert.ok(t.sandbox.stats.count('POST', '/users/create') >= 3, 'the refused batch, then at least two halves');
      const users = await client.listUsers({ activeOnly: true });
      assert.deepEqual(users.items.map((u) => u.clientUserId).sort(), wanted);
    });
  });

  describe('retries', () => {
    it('waits for Retry-After on a 503 even when its errorNumber is not one Apple retries', async () => {
      t.sandbox.faults.failNext('/client/config', 1, { kind: 'status', status: 503, errorNumber: 9602, retryAfter: 7 });
      const time = fakeTime();
      const config = await t.client({ sleep: time.sleep, now: time.now }).getClientConfig();
      assert.equal(config.locationName, 'Test School');
      assert.equal(t.sandbox.stats.count('GET', '/client/config'), 2);
      assert.ok(time.sleeps.length >= 1);
      assert.ok(Math.max(...time.sleeps) >= 7000, `slept ${JSON.stringify(time.sleeps)}`);
    });

    it('pauses every request of the token after a 429 (9646) without Retry-After', async () => {
      t.sandbox.faults.failNext('/client/config', 1, { kind: 'status', status: 429, errorNumber: 9646 });
      const time = fakeTime();
      const log: string[] = [];
      let release = (): void => undefined;
      let sleeping = (): void => undefined;
      const isSleeping = new Promise<void>((resolve) => {
        sleeping = resolve;
      });
      const aSleeps: number[] = [];
      const a = t.client({
        now: time.now,
        retry: { baseDelayMs: 1000, maxDelayMs: 30_000 },
        sleep: (ms) => {
          aSleeps.push(ms);
          log.push('A sleeps');
          sleeping();
          return new Promise<void>((resolve) => {
            release = () => {
              time.advance(ms);
              resolve();
            };
          });
        },
      });
      const bTime: number[] = [];
      const b = t.client({
        now: time.now,
        sleep: async (ms) => {
          bTime.push(ms);
          log.push('B sleeps');
          time.advance(ms);
        },
        fetch: (input, init) => {
          log.push('B fetch');
          return fetch(input, init);
        },
      });
      const first = a.getClientConfig();
      await isSleeping;
      assert.ok((aSleeps[0] ?? 0) > 0);
      const config = await b.getClientConfig();
      assert.equal(config.locationName, 'Test School');
      assert.ok(bTime.length >= 1 && (bTime[0] ?? 0) > 0, `B slept ${JSON.stringify(bTime)}`);
      assert.ok((bTime[0] ?? 0) <= (aSleeps[0] ?? 0));
      assert.deepEqual(log.slice(0, 3), ['A sleeps', 'B sleeps', 'B fetch']);
      release();
      assert.equal((await first).locationName, 'Test School');
      assert.equal(t.sandbox.stats.count('GET', '/client/config'), 3);
    });

    it('gives up on 503s once the retry deadline would pass', async () => {
      t.sandbox.faults.add({ path: '/client/config', times: Infinity, fault: { kind: 'status', status: 503 } });
      const time = fakeTime();
      const client = t.client({
        sleep: time.sleep,
        now: time.now,
        retry: { maxAttempts: Infinity, deadlineMs: 120_000, baseDelayMs: 1000, maxDelayMs: 30_000 },
      });
      await rejectsWith(client.getClientConfig(), (e) => {
        assert.equal(e.kind, 'unavailable');
        assert.equal(e.httpStatus, 503);
        assert.match(e.message, /Gave up after \d+ attempts/);
      });
      const total = time.sleeps.reduce((s, ms) => s + ms, 0);
      assert.ok(total <= 120_000, `slept ${total} ms in all`);
      assert.ok(total > 120_000 - 30_000, `gave up early, after ${total} ms`);
      assert.ok(time.sleeps.length >= 4, `${time.sleeps.length} retries`);
      assert.equal(t.sandbox.stats.count('GET', '/client/config'), time.sleeps.length + 1);
    });
  });

  it('reads /service/config again after 5 minutes even when asked to keep it an hour', async () => {
    const time = fakeTime();
    const client = t.client({ now: time.now, serviceConfigTtlMs: 60 * 60_000 });
    await client.getServiceConfig();
    assert.equal(t.sandbox.stats.count('GET', '/service/config'), 1);
    time.advance(4 * 60_000);
    await client.getServiceConfig();
    await t.client({ now: time.now, serviceConfigTtlMs: 60 * 60_000 }).getLimits();
    assert.equal(t.sandbox.stats.count('GET', '/service/config'), 1, 'cached, and shared between clients of one base URL');
    time.advance(60_000 + 1000);
    await client.getServiceConfig();
    assert.equal(t.sandbox.stats.count('GET', '/service/config'), 2, 'older than 5 minutes: read again');
    time.advance(30 * 60_000);
    await t.client({ now: time.now, serviceConfigTtlMs: 60 * 60_000 }).getLimits();
    assert.equal(t.sandbox.stats.count('GET', '/service/config'), 3);
  });

  it('checks ownership on every answer and spends nothing once another MDM holds the token', async () => {
    const book = { adamId: BOOKS[2]?.adamId ?? '', pricingParam: 'STDQ' };
    const ours = { id: 'ours', name: 'Us', metadata: 'm' };
    const first = t.client({ mdmId: 'ours' });
    await first.claimToken(ours);

    // Answers naming only us: spending works.
    await first.listAssets();
    assert.equal(first.foreignMdm, undefined);
    const created = await first.createUsersAndWait([{ clientUserId: 'owner-1', managedAppleId: 'owner-1@school.example' }]);
    assert.equal(created.status, 'COMPLETE');
    assert.equal((await first.waitForEvents(await first.associateAssets([book], ['owner-1']))).status, 'COMPLETE');
    assert.equal(t.sandbox.stats.count('POST', '/users/create'), 1);
    assert.equal(t.sandbox.stats.count('POST', '/assets/associate'), 1);

    t.org.mdmInfo = { id: 'other', name: 'Contoso MDM', metadata: 'x' };
    const client = t.client({ mdmId: 'ours' });
    await client.listAssets();
    assert.equal(client.foreignMdm?.name, 'Contoso MDM');
    await rejectsWith(client.createUsers([{ clientUserId: 'owner-2', email: 'owner-2@school.example' }]), (e) => {
      assert.equal(e.kind, 'ownership');
      assert.match(e.message, /Contoso MDM/);
    });
    await rejectsWith(client.associateAssets([book], ['owner-1']), (e) => assert.equal(e.kind, 'ownership'));
    assert.equal(t.sandbox.stats.count('POST', '/users/create'), 1, 'no POST sent');
    assert.equal(t.sandbox.stats.count('POST', '/assets/associate'), 1, 'no POST sent');

    // Any answer counts, not only /client/config or /assets.
    const viaUsers = t.client({ mdmId: 'ours' });
    await viaUsers.listUsers();
    assert.equal(viaUsers.foreignMdm?.name, 'Contoso MDM');

    await client.claimToken(ours);
    assert.equal(client.foreignMdm, undefined);
    const again = await client.createUsers([{ clientUserId: 'owner-2', email: 'owner-2@school.example' }]);
    assert.equal(again.eventIds.length, 1);
    assert.equal(t.sandbox.stats.count('POST', '/users/create'), 2);
  });

  it('shows free books as unlimited (totalCount 2147483647) and lists them apart with unlimited=true', async () => {
    t.state.addBook(t.org, { adamId: '1799000001', title: 'Free', author: 'A', totalCount: 'unlimited' });
    const { items } = await t.client().listAssets();
    const free = items.find((a) => a.adamId === '1799000001');
    assert.ok(free);
    assert.equal(free.totalCount, 2_147_483_647);
    assert.equal(isUnlimitedAsset(free), true);
    assert.equal(items.filter((a) => isUnlimitedAsset(a)).length, 1, 'paid books are not unlimited');

    const raw = async (query: string): Promise<{ assets: { adamId: string }[]; unlimitedAssets?: Record<string, unknown>[]; nextPageIndex?: number }[]> => {
      const pages = [];
      let pageIndex: number | undefined;
      do {
        const response = await fetch(`${t.sandbox.baseUrl}/assets?${query}${pageIndex === undefined ? '' : `&pageIndex=${pageIndex}`}`, {
          headers: { authorization: `Bearer ${t.bearer}` },
        });
        assert.equal(response.status, 200);
        const page = (await response.json()) as { assets: { adamId: string }[]; unlimitedAssets?: Record<string, unknown>[]; nextPageIndex?: number };
        pages.push(page);
        pageIndex = page.nextPageIndex;
      } while (pageIndex !== undefined);
      return pages;
    };
    const unlimited = await raw('unlimited=true');
    assert.ok(unlimited.every((p) => !p.assets.some((a) => a.adamId === '1799000001')), 'not among the counted assets');
    const listed = unlimited[0]?.unlimitedAssets?.find((a) => a.adamId === '1799000001');
    assert.ok(listed, JSON.stringify(unlimited[0]?.unlimitedAssets));
    for (const field of ['totalCount', 'availableCount', 'retiredCount']) assert.equal(field in listed, false, `${field} is omitted`);
    assert.equal(listed.pricingParam, 'STDQ');
    const limited = await raw('unlimited=false');
    assert.ok(limited.every((p) => !p.assets.some((a) => a.adamId === '1799000001') && p.unlimitedAssets === undefined));
    assert.equal(limited.flatMap((p) => p.assets).length, 12);
  });

  it("reads one book's fresh counts with a single request carrying its adamId", async () => {
    const target = BOOKS[4];
    assert.ok(target);
    const { fetch, requests } = recordingFetch();
    const client = t.client({ fetch });
    const before = await client.getAsset({ adamId: target.adamId, pricingParam: 'STDQ' });
    assert.equal(before?.availableCount, 50);
    const users = t.state.seedUsers(t.org, 2);
    for (const user of users) t.state.assign(t.org, target.adamId, 'STDQ', user);
    const after = await client.getAsset({ adamId: target.adamId, pricingParam: 'STDQ' });
    assert.equal(after?.adamId, target.adamId);
    assert.equal(after?.assignedCount, 2);
    assert.equal(after?.availableCount, 48);
    assert.equal(t.sandbox.stats.count('GET', '/assets'), 2, 'one request per read');
    const last = requests.at(-1)?.url;
    assert.equal(last?.searchParams.get('adamId'), target.adamId);
    assert.equal(last?.searchParams.get('pricingParam'), 'STDQ');
    assert.equal(await client.getAsset({ adamId: '1000000000', pricingParam: 'STDQ' }), undefined);
  });
});
