import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import type { IntuneEBook } from '../../../services/intune/IntuneApi';
import { IntuneCatalogueReads } from '../../../services/intune/IntuneCatalogueReads';
import { IntuneUnavailableError } from '../../../services/intune/IntuneError';

const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const C = 'cccccccc-0000-4000-8000-00000000000c';

/**
 * The tenant's managedEBooks as Graph pages them. A read sees the catalogue as it was when the read began
 * (what makes a read begun before a token's Intune sync completed unusable for that token); `gate` holds every
 * read before its first page, so a test can act while one is under way.
 */
class Catalogue {
  books: IntuneEBook[] = [];
  pageSize = 2;
  reads = 0;
  pagesServed = 0;
  readsUnderWay = 0;
  mostUnderWay = 0;
  fail: Error | undefined;
  gate: Promise<void> | undefined;

  add(vppTokenId: string, displayName: string): IntuneEBook {
    const book: IntuneEBook = { id: `book-${this.books.length + 1}`, displayName, vppTokenId, totalLicenseCount: 10, usedLicenseCount: 0 };
    this.books.push(book);
    return book;
  }

  async *pages(): AsyncGenerator<IntuneEBook[], void, undefined> {
    this.reads += 1;
    this.readsUnderWay += 1;
    this.mostUnderWay = Math.max(this.mostUnderWay, this.readsUnderWay);
    const snapshot = this.books.map((b) => ({ ...b }));
    try {
      if (this.gate) await this.gate;
      if (this.fail) throw this.fail;
      for (let i = 0; i < snapshot.length; i += this.pageSize) {
        this.pagesServed += 1;
        yield snapshot.slice(i, i + this.pageSize);
      }
    } finally {
      this.readsUnderWay -= 1;
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every pending promise and I/O callback run (setImmediate is not faked). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const titles = (books: readonly IntuneEBook[]): string[] => books.map((b) => b.displayName).sort();

describe('IntuneCatalogueReads', () => {
  let catalogue: Catalogue;
  let clock: sinon.SinonFakeTimers;
  const reads = (gatherMs = 60_000) => new IntuneCatalogueReads({ pages: () => catalogue.pages(), gatherMs });
  beforeEach(() => {
    catalogue = new Catalogue();
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => clock.restore());

  it("serves syncs that finish together with one read, each token only its own books (Graph's id case aside)", async () => {
    catalogue.add(A, 'A1');
    catalogue.add(B, 'B1');
    catalogue.add(A.toUpperCase(), 'A2');
    catalogue.add(C, 'C1');
    catalogue.add('dddddddd-0000-4000-8000-00000000000d', 'D1');
    const shared = reads();
    const [a, b, c] = [shared.visit(), shared.visit(), shared.visit()];

    const forA = a.books(A);
    const forB = b.books(B.toUpperCase());
    await settle();
    assert.equal(catalogue.reads, 0, 'c is still syncing with Intune: the read waits for it');
    const forC = c.books(C);

    assert.deepEqual(titles(await forA), ['A1', 'A2']);
    assert.deepEqual(titles(await forB), ['B1']);
    assert.deepEqual(titles(await forC), ['C1']);
    assert.equal(catalogue.reads, 1);
    assert.equal(catalogue.pagesServed, 3, 'the catalogue once: ceil(5 books / 2)');
  });

  it('never gives a token a read that began before it asked, not even one still under way, nor a finished one', async () => {
    const a1 = catalogue.add(A, 'A1');
    catalogue.add(B, 'B before its sync');
    const gate = deferred();
    catalogue.gate = gate.promise;
    const shared = reads(0);

    // A's Intune sync is done; B's is not: with no time to gather, A's read starts at once.
    const a = shared.visit();
    const b = shared.visit();
    const forA = a.books(A);
    await settle();
    assert.equal(catalogue.reads, 1);

    // Intune finishes B's sync while A's read is under way: the read began before, so it must not serve B.
    catalogue.books = catalogue.books.filter((book) => book.vppTokenId !== B);
    catalogue.add(B, 'B after its sync');
    a1.usedLicenseCount = 4;
    const forB = b.books(B);
    await settle();
    assert.equal(catalogue.reads, 1, 'one read at a time: B waits for the one after');

    gate.resolve();
    const booksA = await forA;
    assert.deepEqual(titles(booksA), ['A1']);
    assert.equal(booksA[0]?.usedLicenseCount, 0, 'A got the catalogue as its read found it');
    assert.deepEqual(titles(await forB), ['B after its sync']);
    assert.equal(catalogue.reads, 2);
    assert.equal(catalogue.mostUnderWay, 1);

    // A finished read is not kept for a token that asks after it.
    const again = shared.visit().books(A);
    const [book] = await again;
    assert.equal(book?.usedLicenseCount, 4);
    assert.equal(catalogue.reads, 3);
  });

  it('waits for syncs still busy, but not for one busy longer than gatherMs, nor for one that is over', async () => {
    catalogue.add(A, 'A1');
    catalogue.add(B, 'B1');
    const shared = reads(10_000);
    const [a, b] = [shared.visit(), shared.visit()];
    // A sync Intune is slow with: it never asks for its books here.
    shared.visit();

    const forA = a.books(A);
    await clock.tickAsync(5_000);
    const forB = b.books(B);
    await clock.tickAsync(4_999);
    await settle();
    assert.equal(catalogue.reads, 0, 'the third sync is still busy with Intune, and has been for less than 10 s');
    await clock.tickAsync(1);
    assert.deepEqual(titles(await forA), ['A1']);
    assert.deepEqual(titles(await forB), ['B1']);
    assert.equal(catalogue.reads, 1);

    // a and b save their books and end. The slow one is still busy, but it has had its wait: no read waits for it again.
    a.close();
    b.close();
    b.close();
    const c = shared.visit();
    const forC = c.books(A);
    await settle();
    assert.equal(catalogue.reads, 2);
    assert.deepEqual(titles(await forC), ['A1']);
    c.close();

    // A sync that ends without books lets the read start at once.
    const [d, e] = [shared.visit(), shared.visit()];
    const forD = d.books(B);
    await settle();
    assert.equal(catalogue.reads, 2, 'e is busy');
    e.close();
    assert.deepEqual(titles(await forD), ['B1']);
    assert.equal(catalogue.reads, 3);
    await assert.rejects(e.books(B), /once, while it is open/);
    await assert.rejects(d.books(B), /once, while it is open/);

    // Syncs that keep starting hold a read back 2 × gatherMs at most.
    d.close();
    const f = shared.visit();
    shared.visit();
    const forF = f.books(A);
    for (let i = 0; i < 4; i++) {
      await settle();
      assert.equal(catalogue.reads, 3, `held back ${i * 5} s after it asked`);
      await clock.tickAsync(5_000);
      shared.visit();
    }
    assert.deepEqual(titles(await forF), ['A1']);
    assert.equal(catalogue.reads, 4, 'twenty seconds after it asked');
  });

  it("fails every sync a failed read serves with Graph's error, and keeps nothing of it: the next asks again", async () => {
    catalogue.add(A, 'A1');
    catalogue.fail = new IntuneUnavailableError('list the books', { status: 503 });
    const shared = reads();
    const [a, b] = [shared.visit(), shared.visit()];
    const forA = a.books(A);
    const forB = b.books(B);
    await assert.rejects(forA, IntuneUnavailableError);
    await assert.rejects(forB, IntuneUnavailableError);
    a.close();
    b.close();

    catalogue.fail = undefined;
    assert.deepEqual(titles(await shared.visit().books(A)), ['A1']);
    assert.equal(catalogue.reads, 2);
  });

  it('a sync that stops waiting leaves the read to the others; a read nobody waits for stops', async () => {
    for (let i = 0; i < 6; i++) catalogue.add(i % 2 ? A : B, `book ${i}`);
    let gate = deferred();
    catalogue.gate = gate.promise;
    const shared = reads();
    const lost = new AbortController();
    const [a, b] = [shared.visit(), shared.visit()];
    const forA = a.books(A, { signal: lost.signal });
    const pagesSeen: number[] = [];
    const forB = b.books(B, { onPage: (found) => pagesSeen.push(found) });
    await settle();
    lost.abort(Object.assign(new Error('sync lease lost'), { name: 'AbortError' }));
    await assert.rejects(forA, /sync lease lost/);
    gate.resolve();
    assert.deepEqual(titles(await forB), ['book 0', 'book 2', 'book 4']);
    assert.deepEqual(pagesSeen, [1, 2, 3]);
    a.close();
    b.close();

    // Alone, and it stops waiting mid-read: the rest of the catalogue is not read.
    gate = deferred();
    catalogue.gate = gate.promise;
    catalogue.pagesServed = 0;
    const alone = new AbortController();
    const forC = shared.visit().books(A, { signal: alone.signal, onPage: () => alone.abort(new Error('stopping')) });
    gate.resolve();
    await assert.rejects(forC, /stopping/);
    await settle();
    assert.equal(catalogue.pagesServed, 1);

    // Already stopped before asking: no read starts for it.
    const before = catalogue.reads;
    const stopped = new AbortController();
    stopped.abort(new Error('shutting down'));
    await assert.rejects(shared.visit().books(A, { signal: stopped.signal }), /shutting down/);
    assert.equal(catalogue.reads, before);
  });
});
