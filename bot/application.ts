import path from 'node:path';
import { ConversationState } from 'botbuilder';
import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';
import { createCosmosClient, isStoreReachable, openDatabase } from '../services/store/cosmosClient';
import { isAppleReachable } from '../services/apple/reachability';
import { isGraphReachable } from '../services/graph/reachability';
import { DownstreamHealth } from '../services/health/DownstreamHealth';
import { GraphDirectory, graphSignInFor } from '../services/directory/GraphDirectory';
import { CachedGroupMembership } from '../services/directory/CachedGroupMembership';
import { GroupMemberCounts } from '../services/directory/GroupMemberCounts';
import { TypeaheadSearch } from '../services/search/TypeaheadSearch';
import { BookResults } from '../services/search/BookResults';
import { GroupResults } from '../services/search/GroupResults';
import { SearchInvokeHandler } from '../dialogs/search/SearchInvokeHandler';
import { BookCatalog } from '../services/books/BookCatalog';
import { BookSearch } from '../services/assignments/bookSearch';
import { bookFlows } from '../dialogs/books/bookFlows';
import { startServices } from './backingServices';
import { BookMetadataClient } from '../services/apple/BookMetadataClient';
import { SyncEngine } from '../services/sync/SyncEngine';
import { SyncService } from '../services/sync/SyncService';
import { SyncScheduler } from '../services/sync/SyncScheduler';
import { NotificationOutbox } from '../services/notifications/NotificationOutbox';
import { AdminRecipients } from '../services/notifications/AdminRecipients';
import { TokenNotifier } from '../services/notifications/TokenNotifier';
import { SyncResultNotices } from '../services/notifications/SyncResultNotices';
import { noticeMessages } from '../cards/notificationMessages';
import { syncFlows } from '../dialogs/sync/syncFlows';
import { TeamsProactiveSender } from './TeamsProactiveSender';
import { RequesterMessenger } from './RequesterMessenger';
import { AssignmentRunRepository } from '../services/store/repositories/AssignmentRunRepository';
import { DialogStateDocuments } from '../services/store/repositories/DialogStateDocuments';
import { AssignmentPlanner } from '../services/assignments/AssignmentPlanner';
import { AssignmentExecutor } from '../services/assignments/AssignmentExecutor';
import { StandingAssignmentReconciler } from '../services/assignments/StandingAssignmentReconciler';
import { ReconcileCommand } from '../dialogs/assign/reconcileCommand';
import { BookClaimService } from '../services/assignments/BookClaimService';
import type { TopUpRequester } from '../services/assignments/StandingAssignmentReconciler';
import { memberFlows } from '../dialogs/members/memberFlows';
import { BookStatusService } from '../services/assignments/BookStatusService';
import { appleClientProvider } from '../services/assignments/ports';
import { ApprovalService } from '../services/approvals/ApprovalService';
import { ApproverDirectory } from '../services/approvals/ApproverDirectory';
import { appleLicenseCounts } from '../services/approvals/appleLicenseCounts';
import { GraphBotInstaller, LOCAL_MANIFEST_ID, localPlaygroundChats } from './ApproverReach';
import { ApprovalCardHandler } from '../dialogs/approvals/ApprovalCardHandler';
import { assignFlows } from '../dialogs/assign/assignFlows';
import { BookStatusDialog } from '../dialogs/assign/BookStatusDialog';
import { ConversationReferenceRecorder } from './ConversationReferenceRecorder';
import { MainDialog } from '../dialogs/MainDialog';
import { AccessGuard } from '../dialogs/AccessGuard';
import { tokenFlows } from '../dialogs/tokens/tokenFlows';
import { createStore } from '../services/store/Store';
import { TokenCipher } from '../services/crypto/TokenCipher';
import { keyringFromSettings, loadOrCreateLocalKey, type KeySettings } from '../services/crypto/keyConfig';
import { AdminPolicy } from '../services/auth/AdminPolicy';
import { AppleClientFactory } from '../services/tokens/AppleClientFactory';
import { TokenFileReader } from '../services/tokens/TokenFileReader';
import { TokenService } from '../services/tokens/TokenService';
import { TokenReencryptionSweep } from '../services/tokens/TokenReencryptionSweep';
import { createAdapter, type AdapterAuthOptions } from './adapter';
import { BOT_STATE_CONTAINER, CosmosBotStorage } from './CosmosBotStorage';
import { createBotServer } from './server';
import { MemberMessenger } from './MemberMessenger';
import { TeamsUserReach } from './ApproverReach';
import { productionPublicBaseUrl } from './memberExports';
import { VppBooksBot } from './VppBooksBot';
import { IntuneGraphClient } from '../services/intune/IntuneGraphClient';
import { IntuneTokenCustody } from '../services/intune/IntuneTokenCustody';
import { IntuneSyncEngine } from '../services/intune/IntuneSyncEngine';
import { IntuneTokenMirror } from '../services/intune/IntuneTokenMirror';
import { IntuneAssignmentExecutor } from '../services/intune/IntuneAssignmentExecutor';
import { IntuneBudgetWatcher } from '../services/intune/IntuneBudgetWatcher';
import { IntuneAssignmentPlanner } from '../services/intune/IntuneAssignmentPlanner';
import { intuneLicenseCounts } from '../services/intune/intuneLicenseCounts';
import { IntuneBookMonitor } from '../services/intune/IntuneBookMonitor';
import { IntuneMemberBooks } from '../services/assignments/memberBooks';
import type { AssignmentDelivery, StandingAssignments, TokenSyncer } from '../services/backend/ports';
import type { VppToken } from '../services/store/entities/vppToken';
import type { AssignmentRun } from '../services/store/repositories/AssignmentRunRepository';
import { TurnRateLimiter } from './TurnRateLimiter';

export interface RunningApplication {
  /** Where the bot listens, e.g. http://127.0.0.1:3978 (POST /api/messages). */
  url: string;
  port: number;
  appleBaseUrl: string;
  cosmosEndpoint: string;
  /** Intune mode: Graph's origin for Intune (locally the local Intune); undefined in Apple mode. */
  intuneGraphBaseUrl: string | undefined;
  /** Members of assigned groups are told through it (the executor's memberNotices); tests record notices directly. */
  memberNotices: MemberMessenger;
  stop(): Promise<void>;
}



/** How often overdue approvals are expired and orphaned assignment runs picked up. */
const BACKGROUND_SWEEP_MS = 5 * 60_000;

export interface ApplicationOptions {
  /** Only tests set this: Bot Framework's key and token endpoints are on the internet. */
  auth?: AdapterAuthOptions;
  /** Only tests set this: how long `/readyz` reuses a downstream check (30 s by default). */
  healthMaxAgeMs?: number;
  /** Only tests set this: the clock of the per-minute turn limits, so a test decides when a minute is over. */
  rateLimitClock?: () => number;
}

/**
 * Whoever holds the tokens answers: Apple; in Intune mode Graph, through which everything is spent, and Apple
 * too, which an upload still reads.
 */
async function vppReachable(appleBaseUrl: string, graphBaseUrl: string | undefined): Promise<boolean> {
  const checks = [isAppleReachable(appleBaseUrl), ...(graphBaseUrl ? [isGraphReachable(graphBaseUrl)] : [])];
  return (await Promise.all(checks)).every(Boolean);
}

/**
 * Starts everything the bot needs in one process: its backing services (embedded in local mode), the
 * services and flows, then the HTTP server. `stop()` undoes it in reverse order, saving the local store
 * last so no turn's writes are lost.
 */
export async function startApplication(config: AppConfig, logger: Logger, options: ApplicationOptions = {}): Promise<RunningApplication> {
  const stack: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const undo of stack.reverse()) {
      try {
        await undo();
      } catch (err) {
        logger.warn({ err }, 'shutdown step failed');
      }
    }
    stack.length = 0;
  };

  try {
    const services = await startServices(config, logger);
    stack.push(...services.stops);
    const { endpoints } = services;
    const cosmos = endpoints.cosmos;
    const appleBaseUrl = endpoints.appleBaseUrl;

    const client = createCosmosClient(cosmos);
    stack.push(async () => client.dispose());
    const database = await openDatabase(client, cosmos.database);

    const store = await createStore(database, {}, { auditRetentionDays: config.audit.retentionDays, logger });
    const keySettings: KeySettings =
      config.encryption.key !== undefined
        ? { key: config.encryption.key, keyId: config.encryption.keyId, oldKeys: config.encryption.oldKeys }
        : await loadOrCreateLocalKey(path.resolve(config.localDataDir));
    const cipher = new TokenCipher(keyringFromSettings(keySettings));
    // mdmId: every answer's mdmInfo is checked against it; a client that sees another MDM spends nothing more.
    const apple = new AppleClientFactory({ baseUrl: appleBaseUrl, logger, pollIntervalMs: config.apple.statusPollIntervalMs, mdmId: config.apple.mdmId, retry: { deadlineMs: config.apple.retryDeadlineMs } });
    const runs = new AssignmentRunRepository(store.containers.assignments);
    // Intune mode: Intune holds the tokens and spends the licenses; the bot reaches it through Graph with its own
    // identity (DeviceManagementApps.ReadWrite.All; see docs/deploy.md). Apple is still read, never written, on upload.
    const intune =
      config.backend === 'intune' && endpoints.intuneGraphBaseUrl ? new IntuneGraphClient({ baseUrl: endpoints.intuneGraphBaseUrl, ...graphSignInFor(config.botAuth), logger }) : undefined;
    if (config.backend === 'intune' && !intune) throw new Error('Intune mode needs Graph for Intune (INTUNE_GRAPH_BASE_URL)');
    const tokens = new TokenService({
      store,
      cipher,
      apple,
      custody: intune ? new IntuneTokenCustody({ intune }) : undefined,
      mdm: { id: config.apple.mdmId, name: config.apple.mdmName },
      alsoRemove: [
        (tokenId) => runs.deleteAllForToken(tokenId),
        (tokenId) => store.claims.deleteAllForToken(tokenId),
        // Member notices name people and carry their invitation links: they go with the token.
        (tokenId) => store.memberNotices.deleteAllForToken(tokenId),
      ],
    });
    // Graph uses the bot's own identity, app-only (its app registration, or its managed identity): GroupMember.Read.All, User.Read.All,
    // Device.Read.All, and for reaching approvers and members who never opened the bot TeamsAppInstallation.ReadWriteSelfForUser.All and AppCatalog.Read.All.
    const directory = new GraphDirectory({
      baseUrl: endpoints.graphBaseUrl,
      ...graphSignInFor(config.botAuth),
      managedAppleIdAttribute: endpoints.managedAppleIdAttribute,
      logger,
    });
    const groupMembership = new CachedGroupMembership(directory);
    const policy = new AdminPolicy({
      tenantId: config.tenantId,
      adminUserIds: config.admins.userIds,
      adminGroupId: config.admins.groupId,
      groupMembership,
    });
    const adapter = createAdapter(config, logger, options.auth?.overrides, options.auth?.credentialsFactory);
    const outbox = new NotificationOutbox({ store, sender: new TeamsProactiveSender(adapter, config.botAuth.appId), instanceId: config.instanceId, logger });
    const engine: TokenSyncer = intune
      ? new IntuneSyncEngine({ store, intune, lowLicenses: config.notifications.lowLicenses, logger, pollIntervalMs: config.intune.syncPollIntervalMs })
      : new SyncEngine({
          store,
          cipher,
          apple,
          mdm: { id: config.apple.mdmId, name: config.apple.mdmName },
          metadata: endpoints.appleMetadataUrl ? new BookMetadataClient({ lookupUrl: endpoints.appleMetadataUrl, logger }) : undefined,
          lowLicenses: config.notifications.lowLicenses,
          logger,
        });
    // Tokens added or removed in Intune itself show up in the bot before each round of syncs.
    const mirror = intune ? new IntuneTokenMirror({ store, intune, tenantId: config.tenantId, logger }) : undefined;
    const recipients = new AdminRecipients({
      store,
      isAdmin: async (tenantId, aadObjectId) => (await policy.authorize({ tenantId, aadObjectId })).allowed,
      adminChannelConversationId: config.notifications.adminChannelConversationId,
    });
    const notifier = new TokenNotifier({ store, outbox, recipients, messages: noticeMessages, logger });
    const sync = new SyncService({
      engine,
      store,
      instanceId: config.instanceId,
      afterSync: (outcome) => notifier.afterSync(outcome),
      logger,
      // Intune mode: a token's sync mostly waits on Intune, and syncs running side by side share one read of the
      // tenant's books (IntuneCatalogueReads), so more at a time means fewer reads (npm run bench intune).
      ...(intune ? { concurrency: 16 } : {}),
      ...(mirror ? { beforeRound: () => mirror.run(), refreshToken: (token: VppToken) => mirror.refresh(token) } : {}),
    });
    const syncResults = new SyncResultNotices({ store, outbox, sync, messages: noticeMessages, logger });
    const scheduler = new SyncScheduler({
      sync,
      store,
      notices: notifier,
      cron: config.sync.cron,
      timeZone: config.sync.timeZone,
      expiryCron: config.sync.expiryCheckCron,
      logger,
      // Intune licenses newcomers whether or not a token's sync worked: every round ends with a look at the budgets.
      afterRound: () => late.watcher?.afterRound(),
    });

    // Approvers: APPROVER_USER_IDS, else the bot's admins (the admin group's members through Graph, and the listed admins).
    const approverDirectory = new ApproverDirectory({
      approverUserIds: config.approvals.approverUserIds,
      adminGroupId: config.admins.groupId,
      adminUserIds: config.admins.userIds,
      groups: directory,
      membership: groupMembership,
    });
    const isAdmin = async (tenantId: string, aadObjectId: string): Promise<boolean> => (await policy.authorize({ tenantId, aadObjectId })).allowed;
    const clients = appleClientProvider(cipher, apple);
    // Late-bound: the approval service needs the executor, which reports through this messenger.
    const late: { approvals?: ApprovalService; reconciler?: StandingAssignments; watcher?: IntuneBudgetWatcher; claims?: BookClaimService } = {};
    const messenger = new RequesterMessenger({
      conversations: store.conversations,
      outbox,
      adapter,
      appId: config.botAuth.appId,
      logger,
      refreshFor: async (request) => (await late.approvals?.refreshFor(request)) ?? [],
      recordCopy: (tenantId, approvalId, copy) => store.approvals.addCopy(tenantId, approvalId, copy),
      backend: config.backend,
    });
    // Issue #15: members are told in their personal chat (told once per run, member and kind); the bot installs
    // itself for those without a chat. Delivery and the requester's "who could not be reached" run in the background.
    let publicBaseUrl = config.mode === 'production' ? productionPublicBaseUrl(process.env) : undefined;
    // Approvers and members who never opened the bot get a chat all the same: the bot installs itself for them.
    const userReach = new TeamsUserReach({
      conversations: store.conversations,
      adapter,
      appId: config.botAuth.appId,
      // The app's manifest id is its app id; locally the embedded directory plays Graph's part.
      installer: new GraphBotInstaller(directory, config.botAuth.appId ?? LOCAL_MANIFEST_ID),
      knownChats: localPlaygroundChats(config),
      defaultServiceUrl: config.teamsServiceUrl,
      logger,
    });
    const memberNotices = new MemberMessenger({
      notices: store.memberNotices,
      outbox,
      reach: userReach,
      instanceId: config.instanceId,
      // Locally a member's Playground may still be starting when the first notice goes: try again soon.
      ...(config.mode === 'local' ? { retryDelayMs: 3_000, pollMs: 5_000 } : {}),
      publicBaseUrl: () => publicBaseUrl,
      runState: async (tokenId, runId) => (await runs.get(tokenId, runId))?.state,
      logger,
    });
    const afterCompleted = (run: AssignmentRun): void => {
      if (!run.pass) late.reconciler?.afterDelivery(run.tokenId, run.id);
      else if (run.topUp?.state === 'approved') late.reconciler?.topUpApproved(run.tokenId, run.id);
    };
    const executor: AssignmentDelivery = intune
      ? new IntuneAssignmentExecutor({ store, runs, directory, intune, reporter: messenger, logger, instanceId: config.instanceId, afterCompleted })
      : new AssignmentExecutor({
      memberNotices,
      store,
      runs,
      directory,
      clients,
      reporter: messenger,
      logger,
      progressEveryUsers: config.assignProgressEveryUsers,
      instanceId: config.instanceId,
      wait: { intervalMs: config.apple.statusPollIntervalMs },
      afterCompleted,
      onTokenTakenOver: async (token) => {
        await notifier.notifyToken(token);
      },
    });
    const approvals = new ApprovalService({
      store,
      runs,
      executor,
      // An approved top-up goes at once to whoever waits: members who joined (reconciler) or asked (claims).
      topUps: {
        topUpApproved: (tokenId, runId) => {
          late.reconciler?.topUpApproved(tokenId, runId);
          late.claims?.topUpApproved(tokenId, runId);
        },
        // Intune mode: a refused top-up takes the groups' assignment off the book in Intune, so no more licenses go.
        topUpDeclined: (tokenId, runId) => late.reconciler?.topUpDeclined?.(tokenId, runId),
      },
      backend: config.backend,
      expiryMs: config.approvals.expiryMs,
      logger,
      approvers: approverDirectory,
      // An approval is checked against Apple's counts for that one book, read at the moment of approving.
      licenses: intune ? intuneLicenseCounts(store, intune) : appleLicenseCounts(store, clients),
      groupUserCount: (groupId) => directory.countMembers(groupId, 'user'),
      reach: userReach,
    });
    late.approvals = approvals;
    const approvalCards = new ApprovalCardHandler(approvals, messenger, logger, isAdmin);
    // A top-up request goes to the approvers' chats as a card (and a replaced one's cards say so).
    const topUpRequests: TopUpRequester = {
      requestTopUp: async (input) => {
        const asked = await approvals.requestTopUp(input);
        if (asked.outcome === 'requested') await approvalCards.topUpRequested(asked.request, asked.approvers, asked.replaced);
        if (asked.outcome === 'withdrawn') await approvalCards.topUpRequested(undefined, [], asked.replaced);
        return asked;
      },
    };
    // Standing assignments: after every sync, and on `reconcile`, newcomers get the book within the approved budget.
    // Intune mode: Intune licenses newcomers by itself, so the budget is kept by watching the groups grow.
    const watcher = intune ? new IntuneBudgetWatcher({ store, runs, directory, intune, topUps: topUpRequests, instanceId: config.instanceId, logger }) : undefined;
    late.watcher = watcher;
    const reconciler: StandingAssignments =
      watcher ??
      new StandingAssignmentReconciler({
          store,
          runs,
          directory,
          clients,
          executor,
          topUps: topUpRequests,
          instanceId: config.instanceId,
          logger,
        });
    late.reconciler = reconciler;
    sync.afterEachSync(async (outcome) => {
      // Intune licenses newcomers whether or not its last sync with Apple worked, so its budgets are watched after
      // every sync; Apple mode's reconciliation needs a completed one (it reads what the sync stored).
      if (outcome.status === 'completed' || intune) reconciler.afterSync(outcome.tokenId);
    });
    const bookSearch = new BookSearch(store);
    // Counted for the group choices shown, briefly cached: typeahead asks again with every pause in typing.
    const groupCounts = new GroupMemberCounts(directory);
    const reconcileCommand = new ReconcileCommand(bookSearch, tokens, reconciler, outbox, logger);
    // Available assignments: members get the book themselves (`my books` → Get) within the approved budget.
    // Intune mode has no claims: Intune hands Available books out through Company Portal.
    const claims = intune ? undefined : new BookClaimService({ store, runs, directory, clients, topUps: topUpRequests, notices: memberNotices, logger, wait: { intervalMs: config.apple.statusPollIntervalMs } });
    late.claims = claims;
    const storedStatus = new BookStatusService(store, runs, (groupId) => directory.countMembers(groupId, 'user'));
    // Intune mode: the same status, with the installs Intune reports per device and user.
    const monitor = intune ? new IntuneBookMonitor({ stored: storedStatus, intune, groupName: async (id) => (await directory.getGroup(id)).displayName }) : storedStatus;

    const flows = [
      ...tokenFlows({ tokens, reader: new TokenFileReader({ production: config.mode === 'production', allowedHosts: config.tokenDownload.hosts, allowLoopback: config.mode === 'local' }) }),
      ...bookFlows({ catalog: new BookCatalog(store) }),
      ...syncFlows({ tokens, poster: outbox, results: syncResults, history: sync, backend: config.backend, bookStatus: new BookStatusDialog(storedStatus, monitor) }),
      ...assignFlows({ books: bookSearch, directory, planner: intune ? new IntuneAssignmentPlanner(directory, intune, runs) : new AssignmentPlanner(store, directory, clients, runs), approvals, approverNotice: messenger, executor, isAdmin, reconcile: reconcileCommand, groupCounts }),
      ...memberFlows({ claims: claims ?? new IntuneMemberBooks({ store, runs, directory }) }),
    ];

    const conversationState = new ConversationState(new CosmosBotStorage(database));
    const guard = new AccessGuard(policy, store.audit, logger, (tenantId, id) => approverDirectory.isApprover(tenantId, id));
    // Typeahead search on the assign flow's cards: the admin's books, and directory groups with what they hold.
    const typeahead = new TypeaheadSearch({ books: new BookResults(bookSearch), groups: new GroupResults(directory, groupCounts) });
    const bot = new VppBooksBot(conversationState, new MainDialog(flows, guard, { backend: config.backend }), new ConversationReferenceRecorder(store.conversations, logger), approvalCards, isAdmin, new TurnRateLimiter(config.rateLimits, { logger, now: options.rateLimitClock }), new SearchInvokeHandler(typeahead, guard, logger));
    const server = createBotServer({
      adapter,
      bot,
      logger,
      readiness: new DownstreamHealth({ store: () => isStoreReachable(database), vpp: () => vppReachable(appleBaseUrl, intune ? endpoints.intuneGraphBaseUrl : undefined) }, { maxAgeMs: options.healthMaxAgeMs }),
      exports: memberNotices,
    });
    const listening = await server.listen(config.port, config.host);
    stack.push(() => server.close());
    scheduler.start();
    // Requests approved whose delivery never started (a failed write or a crash right after the decision) start now.
    await approvals.recoverApproved().catch((err: unknown) => logger.warn({ err }, 'recovering approved requests failed'));
    // Assignments a previous process left half-way go on (batches recorded complete are never re-sent).
    await executor.resumeAll();
    // Chat-requested syncs a previous process left running are restarted, and their results posted once.
    await syncResults.resume().catch((err: unknown) => logger.warn({ err }, 'resuming requested syncs failed'));
    // Claims a previous process left half-way are finished; waiting ones get licenses a top-up added.
    await claims?.resumeClaims().catch((err: unknown) => logger.warn({ err }, 'resuming book claims failed'));
    // Member notices a previous process left go out now (locally, download links point at this server).
    publicBaseUrl ??= config.mode === 'local' ? listening.url : undefined;
    await memberNotices.start();
    // Key rotation: tokens still under an old key are re-encrypted under the current one (in the background:
    // it reads every conversation's dialog state, and no turn needs it done).
    const keyRotation = new TokenReencryptionSweep({ tokens: store.tokens, cipher, dialogState: new DialogStateDocuments(database.container(BOT_STATE_CONTAINER)), logger });
    keyRotation.run().catch((err: unknown) => logger.warn({ err }, 're-encrypting stored tokens failed'));
    // Every sweep: expire overdue approvals, and take over runs whose instance died (its lease ran out).
    const sweep = setInterval(() => {
      approvalCards.expireOverdue(config.tenantId).catch((err: unknown) => logger.warn({ err }, 'expiring approval requests failed'));
      approvals.recoverApproved().catch((err: unknown) => logger.warn({ err }, 'recovering approved requests failed'));
      executor.resumeAll().catch((err: unknown) => logger.warn({ err }, 'resuming assignments failed'));
      syncResults.resume().catch((err: unknown) => logger.warn({ err }, 'resuming requested syncs failed'));
      claims?.resumeClaims().catch((err: unknown) => logger.warn({ err }, 'resuming book claims failed'));
      if (keyRotation.rotating) keyRotation.run().catch((err: unknown) => logger.warn({ err }, 're-encrypting stored tokens failed'));
    }, BACKGROUND_SWEEP_MS);
    sweep.unref();
    // Stopped before the store closes: no sync, assignment batch or notice is cut off half-written.
    stack.push(async () => {
      clearInterval(sweep);
      await keyRotation.idle();
      await approvalCards.idle();
      await scheduler.stop();
      await sync.stop();
      // After the syncs: a sync finishing during shutdown starts a reconciliation, which ends before Cosmos closes.
      await reconcileCommand.idle();
      await reconciler.idle();
      // Withdrawals waiting to be retried stay recorded on their runs; the next start's first round tries them again.
      await watcher?.stop();
      await claims?.idle();
      await executor.stop();
      // Before the outbox: sends under way finish, those waiting to be retried fail at once (they stay pending
      // for the next start, where they are tried again) rather than holding the shutdown up for a backoff.
      outbox.stopRetrying();
      await memberNotices.stop();
      await outbox.stop();
    });
    logger.info({ url: listening.url, mode: config.mode }, 'bot listening');

    return { url: listening.url, port: listening.port, appleBaseUrl, cosmosEndpoint: cosmos.endpoint, intuneGraphBaseUrl: endpoints.intuneGraphBaseUrl, memberNotices, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
