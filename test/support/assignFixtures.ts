import { randomBytes, randomUUID } from 'node:crypto';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../services/store/Store';
import { openDatabase } from '../../services/store/cosmosClient';
import { startAppleSandbox, type AppleSandboxOptions, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import type { SandboxOrganisation } from '../../local/appleSandbox/SandboxState';
import { Keyring } from '../../services/crypto/Keyring';
import { TokenCipher } from '../../services/crypto/TokenCipher';
import { storeUploadedToken } from './storedToken';
import { SANDBOX_RATE_LIMIT } from './TestEnvironment';
import { AppleClientFactory } from '../../services/tokens/AppleClientFactory';
import { silentLogger } from '../../services/logging/logger';
import { GraphDirectory } from '../../services/directory/GraphDirectory';
import { DEMO_GROUPS, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type RunningLocalDirectory } from '../../local/directory';
import type { VppToken } from '../../services/store/entities/vppToken';
import { eBookId, type EBook } from '../../services/store/entities/eBook';
import { AssignmentExecutor, type AssignmentExecutorOptions } from '../../services/assignments/AssignmentExecutor';
import { AssignmentRunRepository, runId } from '../../services/store/repositories/AssignmentRunRepository';
import { AssignmentPlanner } from '../../services/assignments/AssignmentPlanner';
import { type AssignmentPreview } from '../../services/assignments/assignmentPreview';
import type { ApprovalRequest } from '../../services/store/entities/approval';
import { appleClientProvider, type AppleClientProvider } from '../../services/assignments/ports';
import type { AssignmentOutcome, AssignmentProgress, AssignmentReporter } from '../../services/assignments/reporting';
import { ApprovalService } from '../../services/approvals/ApprovalService';
import { ApproverDirectory } from '../../services/approvals/ApproverDirectory';
import { appleLicenseCounts } from '../../services/approvals/appleLicenseCounts';
import { StandingAssignmentReconciler } from '../../services/assignments/StandingAssignmentReconciler';
import type { ApprovalNotifier } from '../../dialogs/approvals/ApprovalCardHandler';
import type { ApproverNotice } from '../../dialogs/approvals/approvalCardSender';

export const ASSIGN_TENANT = '00000000-0000-0000-0000-0000000000001';
export const ALEX = '00000000-0000-0000-0000-0000000000020';
export const MEGAN = '00000000-0000-0000-0000-0000000000021';
export const ADELE = '00000000-0000-0000-0000-0000000000022';
const TEST_MDM = { id: 'vpp-books-bot:test', name: 'VPP Books bot (test)' };
/** Alex asks, Megan approves: the two admins of the assignment tests, as the services see them. */
export const alexActor = { aadObjectId: ALEX, displayName: 'Alex Wilber' };
export const meganActor = { aadObjectId: MEGAN, displayName: 'Megan Bowen' };

/**
 * For tests that do not look at the approvers' and requester's chats: cards sent and updated there, and the
 * requester's message, go nowhere.
 */
export const unsentApprovalMessages: ApprovalNotifier & ApproverNotice = {
  decided: async () => undefined,
  updateCard: async () => undefined,
  requestCreated: async () => undefined,
};

/** Keeps every request from finishing before a test looks, and counts what reached Apple. */
class AppleRequestLog {
  /** clientUserIds of each POST /assets/associate, in order. */
  associateCalls: string[][] = [];
  createUserCalls = 0;
  requests = 0;

  /** clientUserIds of each associate request Apple answered with success (a faulted one changed nothing). */
  acceptedAssociateCalls: string[][] = [];

  readonly fetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    this.requests++;
    let associated: string[] | undefined;
    if (init?.method === 'POST' && typeof init.body === 'string') {
      if (url.endsWith('/assets/associate')) {
        associated = (JSON.parse(init.body) as { clientUserIds: string[] }).clientUserIds;
        this.associateCalls.push(associated);
      }
      if (url.endsWith('/users/create')) this.createUserCalls++;
    }
    const response = await fetch(input, init);
    if (associated && response.ok) this.acceptedAssociateCalls.push(associated);
    return response;
  };

  associatedIds(): string[] {
    return this.associateCalls.flat();
  }

  reset(): void {
    this.associateCalls = [];
    this.acceptedAssociateCalls = [];
    this.createUserCalls = 0;
    this.requests = 0;
  }
}

/** Collects what an executor reports; `finished()` resolves on the next outcome. */
export class RecordingReporter implements AssignmentReporter {
  progressUpdates: AssignmentProgress[] = [];
  outcomes: AssignmentOutcome[] = [];
  onProgress: ((update: AssignmentProgress) => void) | undefined;

  async progress(update: AssignmentProgress): Promise<void> {
    this.progressUpdates.push(update);
    this.onProgress?.(update);
  }

  async finished(outcome: AssignmentOutcome): Promise<void> {
    this.outcomes.push(outcome);
  }
}

export interface SeededBook {
  title: string;
  totalCount: number;
}

export interface AssignTokenFixture {
  org: SandboxOrganisation;
  token: VppToken;
  books: EBook[];
}

let adamCounter = 1_800_000_000;

/**
 * The real parts assignment tests need: embedded Cosmos, the Apple sandbox (events complete at once,
 * smaller batches so a few thousand users make many batches), the local directory and the services.
 */
export class AssignEnvironment {
  cosmos = new EmbeddedCosmos();
  sandbox!: RunningAppleSandbox;
  directoryServer!: RunningLocalDirectory;
  directory!: GraphDirectory;
  store!: Store;
  runs!: AssignmentRunRepository;
  cipher = new TokenCipher(new Keyring('test-key', new Map([['test-key', randomBytes(32)]])));
  log = new AppleRequestLog();
  apple!: AppleClientFactory;
  clients!: AppleClientProvider;
  planner!: AssignmentPlanner;

  constructor(private readonly options: { studentCount?: number; sandbox?: AppleSandboxOptions; appleRetryDeadlineMs?: number } = {}) {}

  async start(): Promise<this> {
    await this.cosmos.start();
    this.sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0, pageSize: 500, ...this.options.sandbox });
    this.directoryServer = await startLocalDirectory({ port: 0, studentCount: this.options.studentCount ?? 1_000, pageSize: 999 });
    this.directory = new GraphDirectory({ baseUrl: this.directoryServer.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    this.store = await createStore(await openDatabase(this.cosmos.client(), `assign-${randomBytes(4).toString('hex')}`));
    this.runs = new AssignmentRunRepository(this.store.containers.assignments);
    // A short retry deadline: an Apple outage in a test pauses the run in seconds, not in five minutes.
    this.apple = new AppleClientFactory({
      baseUrl: this.sandbox.baseUrl,
      logger: silentLogger(),
      pollIntervalMs: 5,
      retry: { baseDelayMs: 5, maxDelayMs: 20, deadlineMs: this.options.appleRetryDeadlineMs ?? 3_000 },
      fetch: this.log.fetch,
      mdmId: TEST_MDM.id,
      rateLimit: SANDBOX_RATE_LIMIT,
    });
    this.clients = appleClientProvider(this.cipher, this.apple);
    this.planner = new AssignmentPlanner(this.store, this.directory, this.clients, this.runs);
    return this;
  }

  async stop(): Promise<void> {
    await this.directoryServer?.close();
    await this.sandbox?.close();
    await this.cosmos.stop();
  }

  /**
   * A sandbox organisation with the given books, its token stored as uploaded, and its books synced. By
   * default every directory user has joined the organisation's VPP already (Associated at Apple and in the
   * store, as a sync leaves them), so a Required assignment licenses them at once; `membersJoined: false`
   * starts with nobody, so the bot creates the users (invitations, or Managed Apple Accounts).
   */
  async seedToken(books: SeededBook[], tenantId = ASSIGN_TENANT, options: { membersJoined?: boolean } = {}): Promise<AssignTokenFixture> {
    const name = `Org ${randomUUID().slice(0, 6)}`;
    const org = this.sandbox.state.addOrganisation({
      orgName: name,
      mdmInfo: TEST_MDM,
      books: books.map((b) => ({ adamId: String(adamCounter++), title: b.title, author: 'Author', totalCount: b.totalCount })),
    });
    const expiresAt = new Date(Date.now() + 200 * 86_400_000);
    const bearer = this.sandbox.state.mintToken(org, { expiresAt });
    const token = await storeUploadedToken(this, org, bearer, { tenantId, name, expiresAt, createdBy: ALEX, accountType: 'education', lastSyncStatus: 'completed' });
    const { id } = token;
    const now = token.createdDateTime;
    const stored: EBook[] = [];
    for (const book of org.books.values()) {
      const doc: EBook = {
        id: eBookId(book.adamId, book.pricingParam),
        tokenId: id,
        tenantId,
        adamId: book.adamId,
        pricingParam: book.pricingParam,
        title: book.title,
        author: book.author,
        totalLicenseCount: book.totalCount,
        usedLicenseCount: book.assignedCount,
        availableLicenseCount: book.totalCount - book.assignedCount,
        metadataResolved: true,
        createdDateTime: now,
        lastModifiedDateTime: now,
      };
      stored.push((await this.store.books.upsertIfChanged(doc)).value);
    }
    if (options.membersJoined !== false) await this.joinEveryone(org, token);
    return { org, token, books: stored };
  }

  /** Every directory user joins the organisation's VPP (Associated at Apple), and a sync has stored them. */
  async joinEveryone(org: SandboxOrganisation, token: VppToken): Promise<void> {
    const now = new Date().toISOString();
    const users = [...this.directoryServer.state.users.values()];
    for (const u of users) this.sandbox.state.putUser(org, { clientUserId: u.id, status: 'Associated', email: u.mail, managedAppleId: u.managedAppleId });
    // As a sync stores them: in transactional batches of a hundred, not a round trip each (a thousand users per seed).
    await this.store.vppUsers.upsertManyIfChanged(
      token.id,
      users.map((u) => ({ entity: { id: u.id, clientUserId: u.id, tokenId: token.id, tenantId: token.tenantId, status: 'associated', managedAppleId: u.managedAppleId, createdDateTime: now, lastModifiedDateTime: now }, current: null })),
    );
  }

  executor(options: Partial<AssignmentExecutorOptions> = {}): AssignmentExecutor {
    return new AssignmentExecutor({
      store: this.store,
      runs: this.runs,
      directory: this.directory,
      clients: this.clients,
      logger: silentLogger(),
      wait: { intervalMs: 5 },
      ...options,
    });
  }

  approvals(executor: AssignmentExecutor, options: { approvers?: string[]; expiryMs?: number; now?: () => Date } = {}): ApprovalService {
    return new ApprovalService({
      store: this.store,
      runs: this.runs,
      approvers: new ApproverDirectory({ approverUserIds: options.approvers ?? [ALEX, MEGAN] }),
      licenses: appleLicenseCounts(this.store, this.clients),
      groupUserCount: (groupId) => this.directory.countMembers(groupId, 'user'),
      executor,
      expiryMs: options.expiryMs,
      now: options.now,
      logger: silentLogger(),
    });
  }

  /**
   * Alex asks for `preview`, Megan approves, and the run goes to its end (or its stop): how most delivery
   * tests begin. The executor is made with `options`; the request is returned for later looks.
   */
  async deliver(
    preview: AssignmentPreview,
    options: Partial<AssignmentExecutorOptions> = {},
    /** Runs between the approval and the delivery (another MDM spending licenses, say). */
    beforeRun?: () => unknown,
  ): Promise<{ request: ApprovalRequest; executor: AssignmentExecutor }> {
    const executor = this.executor(options);
    // With a step in between, the approval goes to an executor that does not run it; this one does, after.
    const approvals = beforeRun ? await this.approvalsOnly() : this.approvals(executor);
    const { request } = await approvals.request({ preview, requestedBy: alexActor });
    await approvals.decide(ASSIGN_TENANT, request.id, meganActor, 'approved');
    if (beforeRun) {
      await beforeRun();
      await executor.execute(preview.tokenId, runId(request.id));
    }
    await executor.idle();
    return { request, executor };
  }

  /** Approvals whose runs wait: their executor is stopped, so the test decides when, and by whom, they run. */
  async approvalsOnly(options: Parameters<AssignEnvironment['approvals']>[1] = {}): Promise<ApprovalService> {
    const idle = this.executor({});
    await idle.stop();
    return this.approvals(idle, options);
  }

  /**
   * One bot instance's standing-assignment services over this environment: an approval service whose approved
   * top-ups go to the reconciler, and the reconciler, which asks for top-ups through `onTopUp` (counting, say)
   * or straight through the approval service.
   */
  standingServices(
    executor: AssignmentExecutor,
    options: { instanceName?: string; onTopUp?: (asked: Awaited<ReturnType<ApprovalService['requestTopUp']>>) => void } = {},
  ): { approvals: ApprovalService; reconciler: StandingAssignmentReconciler } {
    const late: { reconciler?: StandingAssignmentReconciler } = {};
    const approvals = new ApprovalService({
      store: this.store,
      runs: this.runs,
      approvers: new ApproverDirectory({ approverUserIds: [ALEX, MEGAN] }),
      licenses: appleLicenseCounts(this.store, this.clients),
      executor,
      topUps: { topUpApproved: (tokenId, id) => late.reconciler?.topUpApproved(tokenId, id) },
      logger: silentLogger(),
    });
    const reconciler = new StandingAssignmentReconciler({
      store: this.store,
      runs: this.runs,
      directory: this.directory,
      clients: this.clients,
      executor,
      topUps: {
        requestTopUp: async (input) => {
          const asked = await approvals.requestTopUp(input);
          options.onTopUp?.(asked);
          return asked;
        },
      },
      instanceId: options.instanceName ? `reconciler-${options.instanceName}` : undefined,
      logger: silentLogger(),
    });
    late.reconciler = reconciler;
    return { approvals, reconciler };
  }

  /** Another MDM of the organisation spends `count` licenses of `book` on users of its own. */
  spendElsewhere(org: SandboxOrganisation, book: { adamId: string; pricingParam: string }, count: number): void {
    for (const id of this.sandbox.state.seedUsers(org, count, `elsewhere-${book.adamId}`)) this.sandbox.state.assign(org, book.adamId, book.pricingParam, id);
  }

  /** Students not yet in `groupId`, to make it grow as a directory admin would. */
  outsiders(groupId: string, count: number): string[] {
    const inside = new Set(this.members(groupId));
    return this.members(DEMO_GROUPS.allStudents).filter((id) => !inside.has(id)).slice(0, count);
  }

  /** User members of a local group (transitive), as the directory lists them. */
  members(groupId: string): string[] {
    return this.directoryServer.state.transitiveMembers(groupId).filter((id) => this.directoryServer.state.kindOf(id) === 'user');
  }
}
