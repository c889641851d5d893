import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { BookStatusService } from '../../../services/assignments/BookStatusService';
import { UserFacingError } from '../../../services/errors';
import { IntuneBookMonitor } from '../../../services/intune/IntuneBookMonitor';
import {
  GROUP_TARGET,
  type DeviceInstallState,
  type EBookAssignment,
  type EBookInstallSummary,
  type IntuneApi,
  type IntuneEBook,
  type IntuneVppToken,
  type UserInstallStateSummary,
} from '../../../services/intune/IntuneApi';
import { assignmentId, type EBookAssignment as StoredAssignment } from '../../../services/store/entities/assignment';
import type { EBook } from '../../../services/store/entities/eBook';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { AssignmentRunRepository, ZERO_COUNTS, runId } from '../../../services/store/repositories/AssignmentRunRepository';
import type { Store } from '../../../services/store/Store';
import { ADMIN, NOW, TENANT, sampleBook, sampleToken, useEmbeddedCosmos } from '../store/fixtures';

const YEAR_9 = { groupId: '7d1e3c52-9a0b-4f6e-8c21-3b5a9e0f4d17', groupName: 'Year 9' };
const STAFF = { groupId: '4562bcc8-c436-4f95-b7c0-4f8ce89dca5e', groupName: 'Staff' };
const YEAR_10 = { groupId: '0b0b0b0b-1111-4222-8333-444444444444', groupName: 'Year 10' };
const LIBRARY = { groupId: '9c9c9c9c-5555-4666-8777-888888888888', groupName: 'Library helpers' };
const INTUNE_BOOK = 'b1d6e6f4-4a3c-4d1e-9f7a-2c5b8e0d1a33';

/**
 * Intune's managedEBooks as Graph serves them, in memory: assignments, the install summary, and device
 * states in pages of `pageSize` (one page per request, as `@odata.nextLink` is followed). Records the
 * requests made, so a test sees what the monitor asked for; `refuse` makes a call fail as Graph would.
 */
class InMemoryIntune implements IntuneApi {
  readonly assignments = new Map<string, EBookAssignment[]>();
  readonly summaries = new Map<string, EBookInstallSummary>();
  readonly devices = new Map<string, DeviceInstallState[]>();
  readonly requests: string[] = [];
  readonly refuse = new Map<string, Error>();

  constructor(private readonly pageSize: number) {}

  private request(path: string): void {
    this.requests.push(path);
    const refusal = [...this.refuse].find(([segment]) => path.includes(segment))?.[1];
    if (refusal) throw refusal;
  }

  async listAssignments(eBookId: string): Promise<EBookAssignment[]> {
    this.request(`/managedEBooks/${eBookId}/assignments`);
    return structuredClone(this.assignments.get(eBookId) ?? []);
  }

  async installSummary(eBookId: string): Promise<EBookInstallSummary> {
    this.request(`/managedEBooks/${eBookId}/installSummary`);
    return { ...(this.summaries.get(eBookId) ?? { installedDeviceCount: 0, failedDeviceCount: 0, notInstalledDeviceCount: 0, installedUserCount: 0, failedUserCount: 0, notInstalledUserCount: 0 }) };
  }

  async *deviceStatePages(eBookId: string): AsyncGenerator<DeviceInstallState[], void, undefined> {
    const all = this.devices.get(eBookId) ?? [];
    for (let skip = 0; skip === 0 || skip < all.length; skip += this.pageSize) {
      // Each page is its own GET: the first one, then each nextLink.
      this.request(`/managedEBooks/${eBookId}/deviceStates${skip === 0 ? '' : `?$skiptoken=${skip}`}`);
      yield all.slice(skip, skip + this.pageSize);
    }
  }

  async userStateSummaries(eBookId: string): Promise<UserInstallStateSummary[]> {
    this.request(`/managedEBooks/${eBookId}/userStateSummary`);
    return [];
  }

  // What a monitor has no business calling.
  listVppTokens(): Promise<IntuneVppToken[]> {
    return this.unused();
  }
  getVppToken(): Promise<IntuneVppToken | undefined> {
    return this.unused();
  }
  createVppToken(): Promise<IntuneVppToken> {
    return this.unused();
  }
  updateVppToken(): Promise<IntuneVppToken> {
    return this.unused();
  }
  deleteVppToken(): Promise<void> {
    return this.unused();
  }
  syncLicenses(): Promise<IntuneVppToken> {
    return this.unused();
  }
  // eslint-disable-next-line require-yield -- a generator that is never to be read
  async *eBookPages(): AsyncGenerator<IntuneEBook[], void, undefined> {
    await this.unused();
  }
  getEBook(): Promise<IntuneEBook | undefined> {
    return this.unused();
  }
  assign(): Promise<void> {
    return this.unused();
  }
  private async unused(): Promise<never> {
    throw new Error('the monitor only reads assignments and install states');
  }
}

const groupTarget = (groupId: string, installIntent: EBookAssignment['installIntent']): EBookAssignment => ({
  id: randomUUID(),
  installIntent,
  target: { '@odata.type': GROUP_TARGET, groupId, deviceAndAppManagementAssignmentFilterType: 'none' },
});

function device(n: number, installState: DeviceInstallState['installState'], errorCode?: string): DeviceInstallState {
  return { id: randomUUID(), deviceName: `iPad-${String(n).padStart(3, '0')}`, deviceId: randomUUID(), installState, errorCode, userName: `Pupil ${n}`, osVersion: '18.2' };
}

/** The bot's delivered assignment of the book to `groups`: the assignment documents and their run, as the executor leaves them. */
async function delivered(store: Store, runs: AssignmentRunRepository, token: VppToken, book: EBook, input: { intent: 'required' | 'available'; budget: number; spent: number; groups: Array<{ groupId: string; groupName: string }> }): Promise<void> {
  const approvalId = randomUUID();
  for (const g of input.groups) {
    const assignment: StoredAssignment = {
      id: assignmentId(book.adamId, book.pricingParam, g.groupId),
      tokenId: token.id,
      tenantId: TENANT,
      adamId: book.adamId,
      pricingParam: book.pricingParam,
      bookTitle: book.title,
      targetGroupId: g.groupId,
      targetGroupName: g.groupName,
      installIntent: input.intent,
      status: 'completed',
      approvalId,
      requestedBy: ADMIN,
      requestedDateTime: NOW,
      approvedBy: ADMIN,
      decidedAt: NOW,
      lastModifiedDateTime: NOW,
    };
    await store.assignments.createOrGet(assignment);
  }
  await runs.create({
    id: runId(approvalId),
    tokenId: token.id,
    tenantId: TENANT,
    approvalId,
    adamId: book.adamId,
    pricingParam: book.pricingParam,
    bookTitle: book.title,
    installIntent: input.intent,
    requestedBy: ADMIN,
    state: 'completed',
    budget: input.budget,
    spent: input.spent,
    groups: input.groups.map((g) => ({ assignmentId: assignmentId(book.adamId, book.pricingParam, g.groupId), groupId: g.groupId, groupName: g.groupName, done: true, counts: { ...ZERO_COUNTS } })),
    batchesCompleted: 1,
    totals: { ...ZERO_COUNTS },
    failureReasons: [],
    failedUsers: [],
    invitedUsers: [],
    createdDateTime: NOW,
    lastModifiedDateTime: NOW,
  });
}

describe('IntuneBookMonitor: status <book> in Intune mode (in-memory Graph, embedded Cosmos)', () => {
  const env = useEmbeddedCosmos();
  let store: Store;
  let runs: AssignmentRunRepository;
  let token: VppToken;
  let book: EBook;
  let intune: InMemoryIntune;
  let stored: BookStatusService;
  const names = new Map([[LIBRARY.groupId, LIBRARY.groupName]]);
  const groupName = async (groupId: string): Promise<string> => {
    const name = names.get(groupId);
    if (!name) throw new Error(`no group ${groupId}`);
    return name;
  };

  beforeEach(async () => {
    store = await env.newStore();
    runs = new AssignmentRunRepository(store.containers.assignments);
    token = sampleToken({ displayName: 'Northwind Academy' });
    book = sampleBook(token.id, '1447212493', { title: 'Emma', intuneBookId: INTUNE_BOOK, totalLicenseCount: 200, usedLicenseCount: 90, availableLicenseCount: 110 });
    await store.tokens.create(token);
    await store.books.upsertIfChanged(book);
    await delivered(store, runs, token, book, { intent: 'required', budget: 70, spent: 60, groups: [YEAR_9, YEAR_10] });
    await delivered(store, runs, token, book, { intent: 'available', budget: 30, spent: 4, groups: [STAFF] });
    stored = new BookStatusService(store, runs, async () => 64);
    intune = new InMemoryIntune(10);
    intune.assignments.set(INTUNE_BOOK, [
      groupTarget(YEAR_9.groupId.toUpperCase(), 'required'),
      // Staff's assignment was switched to Required in Intune: no longer what the approvers approved.
      groupTarget(STAFF.groupId, 'required'),
      groupTarget(LIBRARY.groupId, 'available'),
      { id: randomUUID(), installIntent: 'available', target: { '@odata.type': '#microsoft.graph.allLicensedUsersAssignmentTarget' } },
      { id: randomUUID(), installIntent: 'available', target: { '@odata.type': '#microsoft.graph.exclusionGroupAssignmentTarget', groupId: '1a1a1a1a-0000-4000-8000-000000000001' } },
    ]);
    intune.summaries.set(INTUNE_BOOK, { installedDeviceCount: 9, failedDeviceCount: 13, notInstalledDeviceCount: 3, installedUserCount: 8, failedUserCount: 12, notInstalledUserCount: 2 });
    // 25 devices over three pages: failures on every page, 12 in all (Intune's summary, computed at another moment, says 13).
    intune.devices.set(INTUNE_BOOK, Array.from({ length: 25 }, (_, i) => (i % 2 === 0 && i !== 24 ? device(i, 'failed', `0x87D1${String(i).padStart(4, '0')}`) : device(i, i < 12 ? 'installed' : 'notInstalled'))));
  });

  it("is the store's status of the book (groups, budgets) with Intune's assignments, install summary and failed devices added", async () => {
    const status = await new IntuneBookMonitor({ stored, intune, groupName }).status(token, book);

    const { intune: state, ...rest } = status;
    assert.deepEqual(rest, await stored.status(token, book), 'the groups and budgets are what Apple mode reads from the store');
    assert.deepEqual(
      status.groups.map((g) => [g.groupName, g.installIntent, g.budget?.approved, g.budget?.spent, g.budget?.left, g.members]).sort(),
      [
        ['Staff', 'available', 30, 4, 26, 64],
        ['Year 10', 'required', 70, 60, 10, 64],
        ['Year 9', 'required', 70, 60, 10, 64],
      ],
    );
    assert.ok(state);
    assert.deepEqual(
      state.assignments.map((a) => [a.target, a.installIntent, a.byBot]),
      [
        [{ kind: 'group', groupId: YEAR_9.groupId.toUpperCase(), groupName: 'Year 9' }, 'required', true],
        [{ kind: 'group', groupId: STAFF.groupId, groupName: 'Staff' }, 'required', false],
        [{ kind: 'group', groupId: LIBRARY.groupId, groupName: 'Library helpers' }, 'available', false],
        [{ kind: 'allUsers' }, 'available', false],
        [{ kind: 'excludedGroup', groupId: '1a1a1a1a-0000-4000-8000-000000000001', groupName: undefined }, 'available', false],
      ],
      'Intune ids match the bot\'s in any case; a group only Intune knows is named by the directory, or left unnamed',
    );
    assert.deepEqual(state.missing, ['Year 10'], 'delivered by the bot, gone from Intune');
    assert.deepEqual(state.summary, intune.summaries.get(INTUNE_BOOK));
    assert.equal(state.failedDeviceCount, 12);
    assert.deepEqual(
      state.failedDevices.map((d) => `${d.deviceName}|${d.userName}|${d.errorCode}`),
      [0, 2, 4, 6, 8, 10, 12, 14, 16, 18].map((i) => `iPad-${String(i).padStart(3, '0')}|Pupil ${i}|0x87D1${String(i).padStart(4, '0')}`),
      'the first ten, with device, user and error code',
    );
    assert.deepEqual([state.devicesRead, state.complete, state.problems], [25, true, []]);
    assert.equal(intune.requests.filter((r) => r.includes('/deviceStates')).length, 3, 'every page, one request each');
    assert.ok(!intune.requests.some((r) => r.includes('userStateSummary')), 'the summary already counts users');
  });

  it('stops reading device states after its page limit and says how many it read', async () => {
    const state = (await new IntuneBookMonitor({ stored, intune, maxDeviceStatePages: 2 }).status(token, book)).intune;
    assert.ok(state);
    assert.deepEqual([state.devicesRead, state.complete, state.failedDeviceCount, state.failedDevices.length], [20, false, 10, 10]);
    assert.deepEqual(
      intune.requests.filter((r) => r.includes('/deviceStates')),
      [`/managedEBooks/${INTUNE_BOOK}/deviceStates`, `/managedEBooks/${INTUNE_BOOK}/deviceStates?$skiptoken=10`],
      'no third page is asked for',
    );
  });

  it("keeps the store's part when Intune refuses a read, with Intune's words; a bug is not swallowed", async () => {
    const forbidden = 'Intune refused to show install states: the bot lacks DeviceManagementApps.Read.All. Nothing was changed.';
    intune.refuse.set('/installSummary', new UserFacingError(forbidden, 'intune_forbidden'));
    intune.refuse.set('/deviceStates', new UserFacingError(forbidden, 'intune_forbidden'));
    const status = await new IntuneBookMonitor({ stored, intune }).status(token, book);
    assert.equal(status.groups.length, 3);
    assert.deepEqual(status.intune?.problems, [forbidden], 'the same refusal is said once');
    assert.equal(status.intune?.summary, undefined);
    assert.deepEqual([status.intune?.failedDevices, status.intune?.assignments.length], [[], 5]);

    intune.refuse.clear();
    intune.refuse.set('/assignments', new UserFacingError('Intune is not answering.', 'intune_unavailable'));
    const withoutAssignments = await new IntuneBookMonitor({ stored, intune }).status(token, book);
    assert.deepEqual([withoutAssignments.intune?.assignments, withoutAssignments.intune?.missing], [[], []], 'nothing is called missing from a list Intune did not give');

    intune.refuse.set('/assignments', new TypeError('undefined is not a function'));
    await assert.rejects(new IntuneBookMonitor({ stored, intune }).status(token, book), TypeError);
  });

  it("a book not read from Intune yet shows the store's part and asks for a sync, without calling Graph", async () => {
    const { intuneBookId: _, ...notFromIntune } = book;
    const status = await new IntuneBookMonitor({ stored, intune }).status(token, notFromIntune);
    assert.equal(status.groups.length, 3);
    assert.match(status.intune?.problems[0] ?? '', /not read this book from Intune yet.*Type \*\*sync\*\*/);
    assert.deepEqual(intune.requests, []);
  });

  it("a group name the directory cannot give leaves the id; an assignment the bot still awaits approval for is not the bot's in Intune", async () => {
    await store.assignments.update(token.id, assignmentId(book.adamId, book.pricingParam, YEAR_9.groupId), (a) => ({ ...a, status: 'pendingApproval' }));
    const state = (await new IntuneBookMonitor({ stored, intune, groupName: async () => Promise.reject(new Error('Graph 503')) }).status(token, book)).intune;
    assert.deepEqual(
      state?.assignments.map((a) => [a.target.kind === 'group' ? a.target.groupName : a.target.kind, a.byBot]),
      [['Year 9', false], ['Staff', false], [undefined, false], ['allUsers', false], ['excludedGroup', false]],
      'the bot still knows the name of a group it asked for',
    );
  });

  it("does not call a group the bot withdrew after a refused top-up missing, nor an Intune assignment of it the bot's", async () => {
    const [required] = (await runs.listByBook(token.id, book.adamId, book.pricingParam)).filter((r) => r.installIntent === 'required');
    assert.ok(required);
    await runs.update(token.id, required.id, (r) => ({ ...r, withdrawnFromIntune: '2026-02-01T09:00:00.000Z' }));
    const status = await new IntuneBookMonitor({ stored, intune }).status(token, book);
    assert.deepEqual(status.intune?.missing, [], 'Year 10 was taken off by the bot itself');
    assert.equal(status.intune?.assignments[0]?.byBot, false, 'Year 9 is back in Intune, put there by someone else');
    assert.deepEqual(status.groups.filter((g) => g.withdrawnFromIntune).map((g) => g.groupName).sort(), ['Year 10', 'Year 9']);
  });
});
