import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { intuneLicenseCounts } from '../../../services/intune/intuneLicenseCounts';
import { IntuneUnavailableError } from '../../../services/intune/IntuneError';
import type { Store } from '../../../services/store/Store';
import { TENANT, sampleBook, useEmbeddedCosmos } from '../store/fixtures';
import { GraphLikeIntune } from './IntuneAssignmentFixtures';

/** An approval's check in Intune mode: the book's counts read from Intune for that one book, at that moment. */
describe('intuneLicenseCounts (embedded Cosmos, Graph-like Intune)', () => {
  const cosmos = useEmbeddedCosmos();
  let store: Store;
  const intune = new GraphLikeIntune();
  const tokenId = randomUUID();
  before(async () => {
    store = await cosmos.newStore();
  });

  async function book(adamId: string, overrides: Parameters<typeof sampleBook>[2] = {}) {
    const stored = (await store.books.upsertIfChanged(sampleBook(tokenId, adamId, overrides))).value;
    return { tenantId: TENANT, tokenId, adamId: stored.adamId, pricingParam: stored.pricingParam };
  }

  it("is Intune's total less its used licenses, read afresh, not the stored counts", async () => {
    const id = randomUUID();
    intune.books.set(id, { id, displayName: 'Counted', totalLicenseCount: 40, usedLicenseCount: 31 });
    // The store still has the counts of the last sync (10 total, 2 used).
    const counts = intuneLicenseCounts(store, intune);
    const b = await book('101', { intuneBookId: id });
    assert.equal(await counts.available(b), 9);
    intune.books.set(id, { id, displayName: 'Counted', totalLicenseCount: 40, usedLicenseCount: 45 });
    assert.equal(await counts.available(b), 0, 'never below nothing');
    assert.equal(intune.calls.filter((c) => c.method === 'getEBook' && c.bookId === id).length, 2);
  });

  it('has no limit for a free book, and nothing free for a book Intune does not have (any more)', async () => {
    const counts = intuneLicenseCounts(store, intune);
    assert.equal(await counts.available(await book('102', { intuneBookId: randomUUID(), unlimited: true })), undefined);
    assert.equal(await counts.available(await book('103', { intuneBookId: randomUUID() })), 0);
    assert.equal(await counts.available(await book('104')), 0, 'never read from Intune');
    assert.equal(await counts.available({ tenantId: TENANT, tokenId, adamId: '999', pricingParam: 'STDQ' }), 0, 'not in the store');
  });

  it("passes Intune's refusal on, so the approval is not recorded", async () => {
    const id = randomUUID();
    intune.books.set(id, { id, displayName: 'Throttled', totalLicenseCount: 5, usedLicenseCount: 0 });
    intune.failNext('getEBook', new IntuneUnavailableError('read the book', { status: 503 }));
    await assert.rejects(intuneLicenseCounts(store, intune).available(await book('105', { intuneBookId: id })), IntuneUnavailableError);
  });
});
