import { randomBytes, randomUUID } from 'node:crypto';
import { EmbeddedCosmos } from '../local/cosmos/EmbeddedCosmos';
import { createStore } from '../services/store/Store';
import { openDatabase } from '../services/store/cosmosClient';
import { startAppleSandbox } from '../local/appleSandbox/AppleSandboxServer';
import { Keyring } from '../services/crypto/Keyring';
import { TokenCipher } from '../services/crypto/TokenCipher';
import { AppleClientFactory } from '../services/tokens/AppleClientFactory';
import { Secret } from '../services/secrets/Secret';
import { silentLogger } from '../services/logging/logger';
import { GraphDirectory } from '../services/directory/GraphDirectory';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, startLocalDirectory, type LocalUser } from '../local/directory';
import { tokenCipherContext, type VppToken } from '../services/store/entities/vppToken';
import { eBookId } from '../services/store/entities/eBook';
import { AssignmentExecutor } from '../services/assignments/AssignmentExecutor';
import { AssignmentRunRepository } from '../services/store/repositories/AssignmentRunRepository';
import { AssignmentPlanner } from '../services/assignments/AssignmentPlanner';
import { appleClientProvider } from '../services/assignments/ports';
import { ApprovalService } from '../services/approvals/ApprovalService';
import { ApproverDirectory } from '../services/approvals/ApproverDirectory';
import type { AssignmentOutcome } from '../services/assignments/reporting';
import type { Benchmark, BenchResult } from './types';

/**
 * Assigning one book to a 50,000-user group end to end on the Apple sandbox (events complete at once),
 * the local directory and embedded Cosmos, all in this process: Apple requests against the minimum
 * (ceil(users/1000) associates + ceil(users/100) user creations), wall time and peak RSS.
 */

/** BENCH_ASSIGN_USERS scales it down for a quick look; the issue asks for 50,000. */
const USERS = Number(process.env.BENCH_ASSIGN_USERS ?? 50_000);
const GROUP_ID = '95000000-0000-4000-8000-000000000001';
const TENANT = '00000000-0000-0000-0000-0000000000001';

async function assignLargeGroup(): Promise<BenchResult> {
  const cosmos = new EmbeddedCosmos();
  await cosmos.start();
  const sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0, pageSize: 1_000, seedDemoData: false });
  const users: LocalUser[] = Array.from({ length: USERS }, (_, i) => ({
    id: `96000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    displayName: `Student ${i}`,
    userPrincipalName: `student${i}@bench.example`,
    mail: `student${i}@bench.example`,
    managedAppleId: i % 3 === 0 ? `student${i}@appleid.bench.example` : undefined,
  }));
  const directoryServer = await startLocalDirectory({ port: 0, seedDemoData: false, pageSize: 999, users, groups: [{ id: GROUP_ID, displayName: 'Bench 50k', members: users.map((u) => u.id) }] });
  try {
    const store = await createStore(await openDatabase(cosmos.client(), `bench-${randomBytes(4).toString('hex')}`));
    const runs = new AssignmentRunRepository(store.containers.assignments);
    const cipher = new TokenCipher(new Keyring('bench', new Map([['bench', randomBytes(32)]])));
    const directory = new GraphDirectory({ baseUrl: directoryServer.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE });
    const clients = appleClientProvider(cipher, new AppleClientFactory({ baseUrl: sandbox.baseUrl, logger: silentLogger(), pollIntervalMs: 5 }));

    const org = sandbox.state.addOrganisation({ orgName: 'Bench Academy', mdmInfo: { id: 'bench', name: 'bench' }, books: [{ adamId: '1900000001', title: 'Bench Book', author: 'A', totalCount: USERS + 10 }] });
    const bearer = sandbox.state.mintToken(org);
    const now = new Date().toISOString();
    const tokenId = randomUUID();
    const token: VppToken = {
      id: tokenId,
      tenantId: TENANT,
      displayName: 'Bench',
      organizationName: 'Bench Academy',
      accountType: 'education',
      locationName: 'Bench',
      expirationDateTime: new Date(Date.now() + 100 * 86_400_000).toISOString(),
      state: 'valid',
      lastSyncStatus: 'completed',
      consecutiveSyncFailures: 0,
      encryptedToken: cipher.encrypt(new Secret(bearer), tokenCipherContext({ tenantId: TENANT, id: tokenId })),
      createdBy: { aadObjectId: 'bench' },
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    await store.tokens.create(token);
    const book = (
      await store.books.upsertIfChanged({
        id: eBookId('1900000001', 'STDQ'),
        tokenId,
        tenantId: TENANT,
        adamId: '1900000001',
        pricingParam: 'STDQ',
        title: 'Bench Book',
        totalLicenseCount: USERS + 10,
        usedLicenseCount: 0,
        availableLicenseCount: USERS + 10,
        metadataResolved: true,
        createdDateTime: now,
        lastModifiedDateTime: now,
      })
    ).value;

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    const started = Date.now();
    let outcome: AssignmentOutcome | undefined;
    const executor = new AssignmentExecutor({
      store,
      runs,
      directory,
      clients,
      logger: silentLogger(),
      wait: { intervalMs: 5 },
      progressEveryUsers: 10_000,
      reporter: { progress: async () => undefined, finished: async (o) => void (outcome = o) },
    });
    const approvals = new ApprovalService({ store, runs, executor, approvers: new ApproverDirectory({ approverUserIds: ['approver'] }) });
    const preview = await new AssignmentPlanner(store, directory, clients, runs).preview({ token, book, groups: [await directory.getGroup(GROUP_ID)], installIntent: 'required' });
    sandbox.stats.reset();
    const { request } = await approvals.request({ preview, requestedBy: { aadObjectId: 'requester' } });
    await approvals.decide(TENANT, request.id, { aadObjectId: 'approver' }, 'approved');
    await executor.idle();
    const wallMs = Date.now() - started;
    clearInterval(sampler);

    const associates = sandbox.stats.count('POST', '/assets/associate');
    const creates = sandbox.stats.count('POST', '/users/create');
    const minimum = Math.ceil(USERS / 1000) + Math.ceil(USERS / 100);
    const delivered = (outcome?.totals.licensed ?? 0) + (outcome?.totals.awaitingInvitation ?? 0);
    return {
      name: `assign: one book to a ${USERS.toLocaleString('en')}-user group (sandbox, local directory, embedded Cosmos, in-process)`,
      metrics: {
        'wall s': (wallMs / 1000).toFixed(1),
        'associate requests': associates,
        'user-create requests': creates,
        'write requests (min)': `${associates + creates} (${minimum})`,
        'all Apple requests': sandbox.stats.toJSON().requests,
        'status polls': sandbox.stats.count('GET', '/status'),
        'users reads': sandbox.stats.count('GET', '/users'),
        'users delivered': delivered,
        'licenses spent': sandbox.state.findBook(org, '1900000001', 'STDQ')?.assignedCount ?? 0,
        'peak RSS MB': (peakRss / 2 ** 20).toFixed(0),
      },
      target: 'write requests = ceil(users/1000) associates + ceil(users/100) creations; every user delivered once',
      met: associates + creates === minimum && delivered === USERS && outcome?.totals.failed === 0,
    };
  } finally {
    await directoryServer.close();
    await sandbox.close();
    await cosmos.stop();
  }
}

const benchmark: Benchmark = {
  title: 'Assigning a book to a 50,000-user group',
  async run() {
    return [await assignLargeGroup()];
  },
};

export default benchmark;
