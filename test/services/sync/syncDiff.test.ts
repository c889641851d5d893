import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { BookMetadata } from '../../../services/apple/BookMetadataClient';
import type { Asset, VppUser as AppleUser } from '../../../services/apple/schemas';
import type { Versioned } from '../../../services/store/DocumentStore';
import { eBookId, type EBook } from '../../../services/store/entities/eBook';
import type { VppUser } from '../../../services/store/entities/vppUser';
import { sameContent } from '../../../services/store/stable';
import { DEFAULT_LOW_LICENSE_THRESHOLD } from '../../../services/sync/lowLicenses';
import {
  diffBooks,
  matchCatalogue,
  ourAssignmentKey,
  preferActive,
  runCounts,
  summarise,
  tallyWrites,
  toStoredUser,
  userWrites,
} from '../../../services/sync/syncDiff';

const TOKEN = { id: 'tok-1', tenantId: 'tenant-1' };
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T01:00:00.000Z';

function asset(adamId: string, overrides: Partial<Asset> = {}): Asset {
  return {
    adamId,
    pricingParam: 'STDQ',
    productType: 'Book',
    assignedCount: 2,
    availableCount: 18,
    retiredCount: 0,
    totalCount: 20,
    deviceAssignable: false,
    revocable: false,
    supportedPlatforms: [],
    ...overrides,
  };
}

function storedBook(adamId: string, overrides: Partial<EBook> = {}): Versioned<EBook> {
  const value: EBook = {
    id: eBookId(adamId, 'STDQ'),
    tokenId: TOKEN.id,
    tenantId: TOKEN.tenantId,
    adamId,
    pricingParam: 'STDQ',
    title: `Stored ${adamId}`,
    author: 'Stored Author',
    totalLicenseCount: 20,
    usedLicenseCount: 2,
    availableLicenseCount: 18,
    retiredLicenseCount: 0,
    metadataResolved: true,
    createdDateTime: T0,
    lastModifiedDateTime: T0,
    ...overrides,
  };
  return { value, etag: `etag-${adamId}` };
}

const byId = (docs: Versioned<EBook>[]): Map<string, Versioned<EBook>> => new Map(docs.map((d) => [d.value.id, d]));
const meta = (adamId: string, title: string): BookMetadata => ({ adamId, title, author: 'Store Author', coverUrl: `https://is1-ssl.mzstatic.com/${adamId}.jpg`, fromStore: true });

/** One sync's book decisions, as SyncEngine makes them. */
function diff(assets: Asset[], stored: Map<string, Versioned<EBook>>, metadata = new Map<string, BookMetadata>(), now = T1) {
  const match = matchCatalogue(assets, stored);
  return { match, ...diffBooks(TOKEN, match.entries, stored, metadata, now, DEFAULT_LOW_LICENSE_THRESHOLD) };
}

describe('sync diff (pure)', () => {
  describe('matchCatalogue', () => {
    it('skips a pricing the store cannot hold and looks up only titles it lacks, each adamId once', () => {
      const stored = byId([storedBook('100'), storedBook('200', { title: 'Book 200', metadataResolved: false })]);
      const { entries, skipped, lookup } = matchCatalogue(
        [asset('100'), asset('200'), asset('300'), asset('300', { pricingParam: 'PLUS' }), asset('400', { pricingParam: 'VOLUME' })],
        stored,
      );
      assert.deepEqual(entries.map((e) => `${e.asset.adamId}/${e.asset.pricingParam}/${e.current ? 'stored' : 'new'}`), ['100/STDQ/stored', '200/STDQ/stored', '300/STDQ/new', '300/PLUS/new']);
      assert.deepEqual(skipped.map((a) => a.adamId), ['400']);
      assert.deepEqual(lookup, ['200', '300']);
    });
  });

  describe('diffBooks', () => {
    it('a new book takes its title from the store lookup, or the stand-in until a later sync finds it', () => {
      const { writes } = diff([asset('100'), asset('200')], new Map(), new Map([['100', meta('100', 'Found')]]));
      const [found, missing] = writes.map((w) => w.entity);
      assert.deepEqual(
        { title: found?.title, author: found?.author, resolved: found?.metadataResolved, created: found?.createdDateTime, current: writes[0]?.current },
        { title: 'Found', author: 'Store Author', resolved: true, created: T1, current: null },
      );
      assert.deepEqual({ title: missing?.title, author: missing?.author, resolved: missing?.metadataResolved }, { title: 'Book 200', author: undefined, resolved: false });
    });

    it('a stored title is kept once resolved; a stand-in is replaced when the lookup finds it', () => {
      const stored = byId([storedBook('100'), storedBook('200', { title: 'Book 200', author: undefined, metadataResolved: false })]);
      const { writes } = diff([asset('100'), asset('200')], stored, new Map([['100', meta('100', 'Renamed')], ['200', meta('200', 'Now Known')]]));
      assert.deepEqual(writes.map((w) => [w.entity.title, w.entity.metadataResolved, w.entity.createdDateTime, w.current?.etag]), [
        ['Stored 100', true, T0, 'etag-100'],
        ['Now Known', true, T0, 'etag-200'],
      ]);
    });

    it("stores Apple's counts, never below zero, and marks a free book unlimited", () => {
      const { writes } = diff([asset('100', { assignedCount: -1, availableCount: -3, retiredCount: -2 }), asset('200', { totalCount: 2 ** 31 - 1 })], new Map());
      const [clamped, free] = writes.map((w) => w.entity);
      assert.deepEqual([clamped?.usedLicenseCount, clamped?.availableLicenseCount, clamped?.retiredLicenseCount, clamped?.unlimited], [0, 0, 0, undefined]);
      assert.equal(free?.unlimited, true);
    });

    it('names stored books Apple no longer lists, with the version read', () => {
      const stored = byId([storedBook('100'), storedBook('200'), storedBook('300')]);
      assert.deepEqual(diff([asset('200')], stored).missing.map((d) => d.etag), ['etag-100', 'etag-300']);
    });

    const lowCases: Array<{ name: string; before: Partial<EBook> | undefined; now: Partial<Asset>; reported: boolean }> = [
      { name: 'falls to the threshold', before: {}, now: { assignedCount: 16, availableCount: 4 }, reported: true },
      { name: 'was low already', before: { usedLicenseCount: 16, availableLicenseCount: 4 }, now: { assignedCount: 17, availableCount: 3 }, reported: false },
      { name: 'new and low', before: undefined, now: { assignedCount: 19, availableCount: 1 }, reported: true },
      { name: 'low but nobody uses it', before: undefined, now: { totalCount: 3, assignedCount: 0, availableCount: 3 }, reported: false },
      { name: 'free book', before: {}, now: { totalCount: 2 ** 31 - 1, assignedCount: 2 ** 31 - 2, availableCount: 1 }, reported: false },
      { name: 'plenty left', before: {}, now: { assignedCount: 10, availableCount: 10 }, reported: false },
    ];
    for (const c of lowCases) {
      it(`low licenses: ${c.name} → ${c.reported ? 'reported' : 'not reported'}`, () => {
        const stored = c.before ? byId([storedBook('100', c.before)]) : new Map<string, Versioned<EBook>>();
        const { lowLicenseBooks } = diff([asset('100', c.now)], stored);
        assert.equal(lowLicenseBooks.length, c.reported ? 1 : 0);
        if (c.reported) assert.deepEqual(lowLicenseBooks[0], { adamId: '100', title: c.before ? 'Stored 100' : 'Book 100', available: c.now.availableCount, total: c.now.totalCount ?? 20 });
      });
    }

    const assetArbitrary = fc.record({
      adamId: fc.integer({ min: 1, max: 30 }).map(String),
      pricingParam: fc.constantFrom('STDQ', 'PLUS', 'OTHER'),
      total: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(2 ** 31 - 1)),
      used: fc.integer({ min: -2, max: 50 }),
    });

    it('a second sync of the same answer comes out as stored but for the timestamp: no write, no warning, nothing removed', () => {
      fc.assert(
        fc.property(fc.uniqueArray(assetArbitrary, { selector: (a) => `${a.adamId}|${a.pricingParam}`, maxLength: 20 }), fc.boolean(), (specs, lookupAnswers) => {
          const assets = specs.map((s) => asset(s.adamId, { pricingParam: s.pricingParam, totalCount: s.total, assignedCount: s.used, availableCount: s.total - s.used }));
          const metadata = new Map(lookupAnswers ? specs.map((s) => [s.adamId, meta(s.adamId, `Title ${s.adamId}`)] as const) : []);
          const first = diff(assets, new Map(), metadata, T0);
          const stored = byId(first.writes.map((w, i) => ({ value: w.entity, etag: `e${i}` })));
          const second = diff(assets, stored, metadata, T1);
          assert.equal(second.writes.length, first.writes.length);
          for (const w of second.writes) {
            assert.ok(w.current, 'every book is written against its stored version');
            assert.ok(sameContent(w.current.value, w.entity, ['lastModifiedDateTime']), w.entity.id);
          }
          assert.deepEqual(second.lowLicenseBooks, []);
          assert.deepEqual(second.missing, []);
          assert.deepEqual(second.match.lookup, lookupAnswers ? [] : [...new Set(second.match.entries.map((e) => e.asset.adamId))]);
        }),
      );
    });
  });

  describe('tallyWrites and the summary', () => {
    it('counts a write against a stored version as an update, one against none as an addition', () => {
      const writes = [{ current: null }, { current: storedBook('1') }, { current: storedBook('2') }, { current: null }].map((w) => ({ entity: {}, ...w }));
      assert.deepEqual(tallyWrites(writes, [{ written: true }, { written: true }, { written: false }, { written: false }]), { added: 1, updated: 1, unchanged: 2 });
    });

    it('the counts add up to the books written, and data writes are books added, updated and removed plus users changed', () => {
      fc.assert(
        fc.property(fc.array(fc.record({ stored: fc.boolean(), written: fc.boolean() })), fc.nat(20), fc.nat(20), fc.nat(20), (items, removed, usersChanged, assignmentsChanged) => {
          const writes = items.map((i) => ({ entity: {}, current: i.stored ? storedBook('1') : null }));
          const tally = tallyWrites(writes, items);
          assert.equal(tally.added + tally.updated + tally.unchanged, items.length);
          assert.equal(tally.added + tally.updated, items.filter((i) => i.written).length);
          const summary = summarise([], { ...tally, removed }, usersChanged, assignmentsChanged);
          assert.equal(summary.dataWrites, tally.added + tally.updated + removed + usersChanged);
          assert.deepEqual(runCounts(summary), {
            booksAdded: tally.added,
            booksUpdated: tally.updated,
            booksUnchanged: tally.unchanged,
            usersChanged,
            assignmentsChanged,
            writes: summary.dataWrites,
          });
        }),
      );
    });

    it('totals leave free books out', () => {
      const books = [storedBook('1').value, storedBook('2', { unlimited: true, totalLicenseCount: 2 ** 31 - 1 }).value];
      const summary = summarise(books, { added: 0, updated: 0, unchanged: 2, removed: 0 }, 0, 0);
      assert.deepEqual([summary.books, summary.licenses], [2, { total: 20, used: 2, available: 18 }]);
    });
  });

  describe('users', () => {
    const stored: VppUser = {
      id: 'u1',
      tokenId: TOKEN.id,
      tenantId: TOKEN.tenantId,
      clientUserId: 'u1',
      status: 'registered',
      inviteCode: 'invite-1',
      email: 'megan@contoso.example',
      createdDateTime: T0,
      lastModifiedDateTime: T0,
    };
    const apple = (overrides: Partial<AppleUser>): AppleUser => ({ clientUserId: 'u1', status: 'Registered', ...overrides });

    const cases: Array<{ name: string; apple: AppleUser; expected: Partial<VppUser> }> = [
      { name: 'accepted the invitation', apple: apple({ status: 'Associated', userId: 'apple-1' }), expected: { status: 'associated', inviteCode: undefined, appleUserId: 'apple-1' } },
      { name: 'still invited, no code in the answer', apple: apple({}), expected: { status: 'registered', inviteCode: 'invite-1' } },
      { name: 'deleted at Apple', apple: apple({ status: 'Deleted' }), expected: { status: 'retired', inviteCode: undefined } },
      { name: 'a new address', apple: apple({ email: 'megan@fabrikam.example' }), expected: { email: 'megan@fabrikam.example' } },
      { name: 'an address the store would refuse', apple: apple({ email: 'josé@example.com' }), expected: { email: 'megan@contoso.example' } },
      { name: 'a Managed Apple Account', apple: apple({ managedAppleId: 'megan@contoso.appleaccount.com' }), expected: { managedAppleId: 'megan@contoso.appleaccount.com' } },
    ];
    for (const c of cases) {
      it(`toStoredUser: ${c.name}`, () => {
        assert.deepEqual(toStoredUser(stored, c.apple, T1), { ...stored, managedAppleId: undefined, appleUserId: undefined, ...c.expected, lastModifiedDateTime: T1 });
      });
    }

    it('keeps the active entry over retired ones, whatever the order', () => {
      const active = apple({ status: 'Associated' });
      const retired = apple({ status: 'Retired' });
      assert.equal(preferActive(active, retired), active);
      assert.equal(preferActive(retired, active), active);
      assert.equal(preferActive(undefined, retired), retired);
    });

    it('writes only users the store holds, each against its stored version', () => {
      const ours = new Map([['u1', { value: stored, etag: 'e1' }]]);
      const writes = userWrites(new Map([['u1', apple({ status: 'Associated' })], ['other-mdm', apple({ clientUserId: 'other-mdm' })]]), ours, T1);
      assert.deepEqual(writes.map((w) => [w.entity.id, w.entity.status, w.current?.etag]), [['u1', 'associated', 'e1']]);
    });

    it("counts a license only for the bot's own users", () => {
      const ours = new Set(['u1']);
      assert.equal(ourAssignmentKey({ adamId: '100', pricingParam: 'STDQ', clientUserId: 'u1' }, ours), '100|STDQ|u1');
      assert.equal(ourAssignmentKey({ adamId: '100', pricingParam: 'STDQ', clientUserId: 'u2' }, ours), undefined);
      assert.equal(ourAssignmentKey({ adamId: '100', pricingParam: 'STDQ', serialNumber: 'C02X' }, ours), undefined);
    });
  });
});
