import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { IntuneMemberBooks } from '../../../services/assignments/memberBooks';
import type { EBook } from '../../../services/store/entities/eBook';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { AssignmentRunRepository, ZERO_COUNTS, runId, type AssignmentRun } from '../../../services/store/repositories/AssignmentRunRepository';
import type { Store } from '../../../services/store/Store';
import { ADMIN, NOW, TENANT, sampleBook, sampleToken, useEmbeddedCosmos } from '../store/fixtures';

const MEMBER = '0000AAAA-0000-4000-8000-000000000022';
const YEAR_9 = '7d1e3c52-9a0b-4f6e-8c21-3b5a9e0f4d17';
const STAFF = '4562bcc8-c436-4f95-b7c0-4f8ce89dca5e';
const CHOIR = '0b0b0b0b-1111-4222-8333-444444444444';

/** The member's transitive groups, as Graph's checkMemberGroups answers (ids in Graph's case); records the calls. */
class MemberGroups {
  readonly calls: Array<{ userId: string; groupIds: readonly string[] }> = [];
  constructor(private readonly groups: ReadonlyMap<string, readonly string[]>) {}
  async checkMemberGroups(userId: string, groupIds: readonly string[]): Promise<string[]> {
    this.calls.push({ userId, groupIds });
    const theirs = new Set((this.groups.get(userId) ?? []).map((g) => g.toLowerCase()));
    return groupIds.filter((g) => theirs.has(g.toLowerCase()));
  }
}

function run(token: VppToken, book: EBook, input: { intent: 'required' | 'available'; groups: string[]; state?: AssignmentRun['state']; pass?: number; title?: string }): AssignmentRun {
  const approvalId = randomUUID();
  return {
    id: runId(approvalId),
    tokenId: token.id,
    tenantId: token.tenantId,
    approvalId,
    adamId: book.adamId,
    pricingParam: book.pricingParam,
    bookTitle: input.title ?? book.title,
    installIntent: input.intent,
    requestedBy: ADMIN,
    state: input.state ?? 'completed',
    budget: 40,
    spent: 10,
    pass: input.pass,
    groups: input.groups.map((groupId) => ({ assignmentId: randomUUID(), groupId, groupName: groupId, done: true, counts: { ...ZERO_COUNTS } })),
    batchesCompleted: 1,
    totals: { ...ZERO_COUNTS },
    failureReasons: [],
    failedUsers: [],
    invitedUsers: [],
    createdDateTime: NOW,
    lastModifiedDateTime: NOW,
  };
}

describe('IntuneMemberBooks: my books in Intune mode (embedded Cosmos)', () => {
  const env = useEmbeddedCosmos();
  let store: Store;
  let runs: AssignmentRunRepository;
  let token: VppToken;
  const books: Record<string, EBook> = {};

  beforeEach(async () => {
    store = await env.newStore();
    runs = new AssignmentRunRepository(store.containers.assignments);
    token = sampleToken({ displayName: 'Northwind Academy' });
    await store.tokens.create(token);
    for (const [adamId, title, author] of [
      ['1001', 'Emma', 'Jane Austen'],
      ['1002', 'Middlemarch', 'George Eliot'],
      ['1003', 'Persuasion', 'Jane Austen'],
      ['1004', 'Ivanhoe', 'Walter Scott'],
      ['1005', 'Dracula', 'Bram Stoker'],
      ['1006', 'Kidnapped', 'R. L. Stevenson'],
    ] as const) {
      books[title] = sampleBook(token.id, adamId, { title, author, coverUrl: `https://covers.example/${adamId}.png`, intuneBookId: randomUUID() });
      await store.books.upsertIfChanged(books[title]);
    }
  });

  const shelf = async (groups: readonly string[]) => {
    const directory = new MemberGroups(new Map([[MEMBER.toLowerCase(), groups]]));
    return { shelf: await new IntuneMemberBooks({ store, runs, directory }).booksFor(TENANT, { aadObjectId: MEMBER }), directory };
  };

  it("lists the books delivered to the member's groups by intent, from the catalogue, and nothing to claim", async () => {
    const b = books as Required<typeof books>;
    await runs.create(run(token, b.Emma!, { intent: 'available', groups: [STAFF.toUpperCase()], title: 'Emma (old title)' }));
    await runs.create(run(token, b.Middlemarch!, { intent: 'required', groups: [YEAR_9, CHOIR] }));
    // Both ways to groups they are in: Intune installs it, so it is listed once, as Required.
    await runs.create(run(token, b.Persuasion!, { intent: 'available', groups: [STAFF] }));
    await runs.create(run(token, b.Persuasion!, { intent: 'required', groups: [YEAR_9] }));
    // Not given to anyone (yet, or ever), or no longer.
    await runs.create(run(token, b.Ivanhoe!, { intent: 'required', groups: [YEAR_9], state: 'awaitingApproval' }));
    await runs.create(run(token, b.Dracula!, { intent: 'available', groups: [STAFF], state: 'cancelled' }));
    // A group they are not in.
    await runs.create(run(token, b.Kidnapped!, { intent: 'required', groups: [CHOIR] }));
    // Taken off the book in Intune after its top-up was refused.
    await runs.create({ ...run(token, b.Ivanhoe!, { intent: 'available', groups: [STAFF] }), withdrawnFromIntune: NOW });

    const { shelf: mine, directory } = await shelf([YEAR_9, STAFF]);
    assert.equal(mine.delivery, 'intune');
    assert.deepEqual(mine.available, [{ tokenId: token.id, adamId: '1001', pricingParam: 'STDQ', title: 'Emma', author: 'Jane Austen', coverUrl: 'https://covers.example/1001.png' }]);
    assert.deepEqual(
      mine.required.map((x) => x.title),
      ['Middlemarch', 'Persuasion'],
    );
    assert.equal(directory.calls.length, 1, 'one membership check for all the groups');
    assert.equal(directory.calls[0]?.userId, MEMBER.toLowerCase());
    assert.deepEqual([...(directory.calls[0]?.groupIds ?? [])].map((g) => g.toLowerCase()).sort(), [CHOIR, STAFF, YEAR_9].sort(), 'only groups of delivered runs are asked about');
  });

  it('keeps a book of an assignment being reconciled (a later pass), whichever intent', async () => {
    const b = books as Required<typeof books>;
    await runs.create(run(token, b.Emma!, { intent: 'available', groups: [STAFF], state: 'running', pass: 1 }));
    await runs.create(run(token, b.Middlemarch!, { intent: 'required', groups: [YEAR_9], state: 'completed' }));
    const { shelf: mine } = await shelf([YEAR_9, STAFF]);
    assert.deepEqual([mine.available.map((x) => x.title), mine.required.map((x) => x.title)], [['Emma'], ['Middlemarch']]);
  });

  it('lists nothing, and asks Graph nothing, when nothing was delivered; nothing of a token that is not valid', async () => {
    const expired = sampleToken({ displayName: 'Old campus', state: 'expired' });
    await store.tokens.create(expired);
    const old = sampleBook(expired.id, '2001', { title: 'Old book' });
    await store.books.upsertIfChanged(old);
    await runs.create(run(expired, old, { intent: 'required', groups: [YEAR_9] }));
    const { shelf: mine, directory } = await shelf([YEAR_9]);
    assert.deepEqual([mine.available, mine.required], [[], []]);
    assert.equal(directory.calls.length, 0);
  });
});
