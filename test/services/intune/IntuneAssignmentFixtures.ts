import { randomBytes, randomUUID } from 'node:crypto';
import { EmbeddedCosmos } from '../../../local/cosmos/EmbeddedCosmos';
import { DEMO_GROUPS, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type RunningLocalDirectory } from '../../../local/directory';
import { ApprovalService, type ApprovalServiceOptions } from '../../../services/approvals/ApprovalService';
import { ApproverDirectory } from '../../../services/approvals/ApproverDirectory';
import type { AssignmentPreview } from '../../../services/assignments/assignmentPreview';
import type { AssignmentOutcome, AssignmentProgress, AssignmentReporter } from '../../../services/assignments/reporting';
import { GraphDirectory } from '../../../services/directory/GraphDirectory';
import { GROUP_TARGET, type EBookAssignment, type IntuneApi, type IntuneEBook } from '../../../services/intune/IntuneApi';
import { IntuneAssignmentExecutor, type IntuneAssignmentExecutorOptions } from '../../../services/intune/IntuneAssignmentExecutor';
import { IntuneAssignmentPlanner } from '../../../services/intune/IntuneAssignmentPlanner';
import { IntuneBudgetWatcher, type IntuneBudgetWatcherOptions } from '../../../services/intune/IntuneBudgetWatcher';
import { intuneLicenseCounts } from '../../../services/intune/intuneLicenseCounts';
import { silentLogger } from '../../../services/logging/logger';
import type { ApprovalRequest } from '../../../services/store/entities/approval';
import { eBookId, type EBook } from '../../../services/store/entities/eBook';
import type { VppToken } from '../../../services/store/entities/vppToken';
import { openDatabase } from '../../../services/store/cosmosClient';
import { AssignmentRunRepository, runId, type AssignmentRun } from '../../../services/store/repositories/AssignmentRunRepository';
import { createStore, type Store } from '../../../services/store/Store';

export const INTUNE_TENANT = '00000000-0000-0000-0000-00000000a001';
const ALEX = '00000000-0000-0000-0000-0000000000020';
const MEGAN = '00000000-0000-0000-0000-0000000000021';
export const alexActor = { aadObjectId: ALEX, displayName: 'Alex Wilber' };
export const meganActor = { aadObjectId: MEGAN, displayName: 'Megan Bowen' };

/** Assignments as Graph writes targets of kinds the bot never makes: they must survive every `assign` whole. */
export const ALL_USERS_FILTERED: EBookAssignment = {
  installIntent: 'available',
  target: {
    '@odata.type': '#microsoft.graph.allLicensedUsersAssignmentTarget',
    deviceAndAppManagementAssignmentFilterId: 'f1f1f1f1-0000-4000-8000-000000000001',
    deviceAndAppManagementAssignmentFilterType: 'include',
  },
};
export const EXCLUDED_GROUP: EBookAssignment = {
  installIntent: 'required',
  target: { '@odata.type': '#microsoft.graph.exclusionGroupAssignmentTarget', groupId: DEMO_GROUPS.bookClub },
};

export function groupAssignment(groupId: string, installIntent: EBookAssignment['installIntent']): EBookAssignment {
  return { installIntent, target: { '@odata.type': GROUP_TARGET, groupId, deviceAndAppManagementAssignmentFilterId: null, deviceAndAppManagementAssignmentFilterType: 'none' } };
}

/**
 * Intune's managedEBooks as Graph behaves, in memory: `assign` replaces the book's whole list (and Graph gives
 * the new list ids of its own), lists come back as copies. Records each call; `failNext` makes the next call of
 * a method fail as Graph would; `onAssign` lets a test make Intune keep something other than what was sent.
 */
export class GraphLikeIntune implements Pick<IntuneApi, 'getEBook' | 'listAssignments' | 'assign'> {
  readonly books = new Map<string, IntuneEBook>();
  readonly lists = new Map<string, EBookAssignment[]>();
  readonly calls: Array<{ method: 'getEBook' | 'listAssignments' | 'assign'; bookId: string; sent?: EBookAssignment[] }> = [];
  readonly failures: Array<{ method: 'getEBook' | 'listAssignments' | 'assign'; error: Error; after?: boolean }> = [];
  onAssign: ((sent: EBookAssignment[]) => EBookAssignment[]) | undefined;

  /** The next call of `method` fails with `error` (`after`: an assign that Intune took, whose answer was lost). */
  failNext(method: 'getEBook' | 'listAssignments' | 'assign', error: Error, options: { after?: boolean } = {}): void {
    this.failures.push({ method, error, after: options.after });
  }

  private failure(method: 'getEBook' | 'listAssignments' | 'assign'): { error: Error; after?: boolean | undefined } | undefined {
    const at = this.failures.findIndex((f) => f.method === method);
    if (at < 0) return undefined;
    return this.failures.splice(at, 1)[0];
  }

  async getEBook(id: string): Promise<IntuneEBook | undefined> {
    this.calls.push({ method: 'getEBook', bookId: id });
    const failed = this.failure('getEBook');
    if (failed) throw failed.error;
    const book = this.books.get(id);
    return book && structuredClone(book);
  }

  async listAssignments(eBookId: string): Promise<EBookAssignment[]> {
    this.calls.push({ method: 'listAssignments', bookId: eBookId });
    const failed = this.failure('listAssignments');
    if (failed) throw failed.error;
    return structuredClone(this.lists.get(eBookId) ?? []);
  }

  async assign(eBookId: string, assignments: readonly EBookAssignment[]): Promise<void> {
    const sent = structuredClone([...assignments]);
    this.calls.push({ method: 'assign', bookId: eBookId, sent });
    const failed = this.failure('assign');
    if (failed && !failed.after) throw failed.error;
    const kept = this.onAssign ? this.onAssign(sent) : sent;
    this.lists.set(
      eBookId,
      kept.map((a) => ({ ...a, id: randomUUID() })),
    );
    if (failed) throw failed.error;
  }

  assignCalls(): Array<EBookAssignment[]> {
    return this.calls.filter((c) => c.method === 'assign').map((c) => c.sent ?? []);
  }

  /** The book's list as Intune holds it, without Graph's ids: what a test compares. */
  listOf(bookId: string): Array<Omit<EBookAssignment, 'id'>> {
    return (this.lists.get(bookId) ?? []).map(({ installIntent, target }) => ({ installIntent, target }));
  }
}

/** Collects what an executor reports. */
class RecordingReporter implements AssignmentReporter {
  outcomes: AssignmentOutcome[] = [];
  progressUpdates: AssignmentProgress[] = [];

  async progress(update: AssignmentProgress): Promise<void> {
    this.progressUpdates.push(update);
  }

  async finished(outcome: AssignmentOutcome): Promise<void> {
    this.outcomes.push(outcome);
  }
}

let adamCounter = 1_900_000_000;

/** One bot instance's Intune-mode assignment services over this environment. */
export interface IntuneServices {
  approvals: ApprovalService;
  executor: IntuneAssignmentExecutor;
  watcher: IntuneBudgetWatcher;
  reporter: RecordingReporter;
  /** Top-ups the watcher asked for, and their outcomes. */
  topUps: Array<{ count: number; outcome: string }>;
  completed: AssignmentRun[];
}

/**
 * The real parts Intune assignment tests need: embedded Cosmos, the local directory over HTTP (Graph's
 * transitive member listings), and the services; Intune itself is the in-memory Graph-like double above.
 */
export class IntuneAssignEnvironment {
  cosmos = new EmbeddedCosmos();
  directoryServer!: RunningLocalDirectory;
  directory!: GraphDirectory;
  store!: Store;
  runs!: AssignmentRunRepository;
  intune = new GraphLikeIntune();
  planner!: IntuneAssignmentPlanner;

  async start(): Promise<this> {
    await this.cosmos.start();
    this.directoryServer = await startLocalDirectory({ port: 0, studentCount: 300, pageSize: 50 });
    this.directory = new GraphDirectory({ baseUrl: this.directoryServer.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    this.store = await createStore(await openDatabase(this.cosmos.client(), `intune-${randomBytes(4).toString('hex')}`));
    this.runs = new AssignmentRunRepository(this.store.containers.assignments);
    this.planner = new IntuneAssignmentPlanner(this.directory, this.intune, this.runs);
    return this;
  }

  async stop(): Promise<void> {
    await this.directoryServer?.close();
    await this.cosmos.stop();
  }

  /** A token Intune holds (the bot keeps no copy of it) and one of its books, in the store and in Intune. */
  async seedBook(options: { title?: string; total?: number; used?: number; assignments?: EBookAssignment[] } = {}): Promise<{ token: VppToken; book: EBook; bookId: string }> {
    const now = new Date().toISOString();
    const token: VppToken = {
      id: randomUUID(),
      tenantId: INTUNE_TENANT,
      displayName: 'Northwind School',
      organizationName: 'Northwind School',
      accountType: 'education',
      locationName: 'Northwind',
      expirationDateTime: new Date(Date.now() + 200 * 86_400_000).toISOString(),
      state: 'valid',
      lastSyncStatus: 'completed',
      consecutiveSyncFailures: 0,
      intuneTokenId: randomUUID(),
      createdBy: alexActor,
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    await this.store.tokens.create(token);
    const bookId = randomUUID();
    const adamId = String(adamCounter++);
    const total = options.total ?? 1_000;
    const used = options.used ?? 0;
    const title = options.title ?? `Intune Reader ${adamId}`;
    this.intune.books.set(bookId, { id: bookId, displayName: title, vppTokenId: token.intuneTokenId, totalLicenseCount: total, usedLicenseCount: used });
    this.intune.lists.set(bookId, (options.assignments ?? []).map((a) => ({ ...structuredClone(a), id: randomUUID() })));
    const book: EBook = {
      id: eBookId(adamId, 'STDQ'),
      tokenId: token.id,
      tenantId: INTUNE_TENANT,
      adamId,
      pricingParam: 'STDQ',
      title,
      totalLicenseCount: total,
      usedLicenseCount: used,
      availableLicenseCount: total - used,
      intuneBookId: bookId,
      metadataResolved: true,
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    await this.store.books.upsertIfChanged(book);
    return { token, book, bookId };
  }

  /** Approvals, delivery and budget watching wired as the bot wires them in Intune mode. */
  services(
    options: {
      executor?: Partial<IntuneAssignmentExecutorOptions>;
      approvals?: Partial<ApprovalServiceOptions>;
      watcher?: Partial<IntuneBudgetWatcherOptions>;
      hooks?: boolean;
      /** Another Intune than the in-memory double (the real client against the local Intune). */
      intune?: Pick<IntuneApi, 'getEBook' | 'listAssignments' | 'assign'>;
    } = {},
  ): IntuneServices {
    const intune = options.intune ?? this.intune;
    const late: { watcher?: IntuneBudgetWatcher } = {};
    const reporter = new RecordingReporter();
    const completed: AssignmentRun[] = [];
    const topUps: IntuneServices['topUps'] = [];
    const executor = new IntuneAssignmentExecutor({
      store: this.store,
      runs: this.runs,
      directory: this.directory,
      intune,
      reporter,
      logger: silentLogger(),
      afterCompleted: (run) => {
        completed.push(run);
        late.watcher?.afterDelivery(run.tokenId, run.id);
      },
      ...options.executor,
    });
    const hooks = options.hooks !== false;
    const approvals = new ApprovalService({
      store: this.store,
      runs: this.runs,
      approvers: new ApproverDirectory({ approverUserIds: [ALEX, MEGAN] }),
      licenses: intuneLicenseCounts(this.store, intune),
      groupUserCount: (groupId) => this.directory.countMembers(groupId, 'user'),
      executor,
      backend: 'intune',
      topUps: hooks
        ? { topUpApproved: (tokenId, id) => late.watcher?.topUpApproved(tokenId, id), topUpDeclined: (tokenId, id) => late.watcher?.topUpDeclined(tokenId, id) }
        : undefined,
      logger: silentLogger(),
      ...options.approvals,
    });
    const watcher = new IntuneBudgetWatcher({
      store: this.store,
      runs: this.runs,
      directory: this.directory,
      intune,
      topUps: {
        requestTopUp: async (input) => {
          const asked = await approvals.requestTopUp(input);
          topUps.push({ count: input.count, outcome: asked.outcome });
          return asked;
        },
      },
      logger: silentLogger(),
      ...options.watcher,
    });
    late.watcher = watcher;
    return { approvals, executor, watcher, reporter, topUps, completed };
  }

  /** Alex asks, Megan approves, and the delivery runs to its end (and the watcher's first look). */
  async deliver(s: IntuneServices, preview: AssignmentPreview, options: { headroom?: number; userLimit?: number } = {}): Promise<{ request: ApprovalRequest; run: AssignmentRun | undefined }> {
    const { request } = await s.approvals.request({ preview, requestedBy: alexActor, ...options });
    const decided = await s.approvals.decide(INTUNE_TENANT, request.id, meganActor, 'approved');
    if (decided.outcome !== 'decided') throw new Error(`not approved: ${decided.outcome}`);
    await s.executor.idle();
    await s.watcher.idle();
    return { request, run: await this.runs.get(preview.tokenId, runId(request.id)) };
  }

  /** A directory group as the assign flow hands it to the planner. */
  async group(groupId: string): Promise<Awaited<ReturnType<GraphDirectory['getGroup']>>> {
    return this.directory.getGroup(groupId);
  }

  /** User members of a local group (transitive), as the directory lists them. */
  members(groupId: string): string[] {
    return this.directoryServer.state.transitiveMembers(groupId).filter((id) => this.directoryServer.state.kindOf(id) === 'user');
  }

  /** Students not yet in `groupId`, to make it grow as a directory admin would. */
  outsiders(groupId: string, count: number): string[] {
    const inside = new Set(this.members(groupId));
    return this.members(DEMO_GROUPS.allStudents).filter((id) => !inside.has(id)).slice(0, count);
  }
}
