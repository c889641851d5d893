import { randomBytes } from 'node:crypto';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../services/store/Store';
import { openDatabase } from '../../services/store/cosmosClient';
import { startAppleSandbox, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import { Keyring } from '../../services/crypto/Keyring';
import { TokenCipher } from '../../services/crypto/TokenCipher';
import { AppleClientFactory } from '../../services/tokens/AppleClientFactory';
import { TokenService } from '../../services/tokens/TokenService';
import { silentLogger } from '../../services/logging/logger';

export const TEST_TENANT = '00000000-0000-0000-0000-0000000000001';
export const TEST_MDM = { id: 'vpp-books-bot:test', name: 'VPP Books bot (test)' };

/**
 * The Apple client's pace in the service tests. The sandbox limits no rate unless a test asks it to
 * (`enforceRateLimit`), and the throttle has its own specs (tokenThrottle, apple/faults): at Apple's 15
 * requests a second, ~74 ms apart, these specs would spend much of their time waiting their turn.
 */
export const SANDBOX_RATE_LIMIT = { maxRequestsPerSecond: 1_000 };

/**
 * The real parts a service test needs: the Cosmos-protocol server with the real client, the Apple
 * sandbox over HTTP, and the services wired as in production. One per test file; `stop()` in after().
 */
export class TestEnvironment {
  cosmos = new EmbeddedCosmos();
  sandbox!: RunningAppleSandbox;
  store!: Store;
  cipher = new TokenCipher(new Keyring('test-key', new Map([['test-key', randomBytes(32)]])));
  apple!: AppleClientFactory;
  tokens!: TokenService;
  now: () => Date = () => new Date();

  async start(): Promise<this> {
    await this.cosmos.start();
    this.sandbox = await startAppleSandbox({ port: 0, eventDelayMs: 0 });
    const client = this.cosmos.client();
    this.store = await createStore(await openDatabase(client, `test-${randomBytes(4).toString('hex')}`));
    this.apple = new AppleClientFactory({ baseUrl: this.sandbox.baseUrl, logger: silentLogger(), pollIntervalMs: 10, retry: { baseDelayMs: 5, maxDelayMs: 20, deadlineMs: 1_000 }, mdmId: TEST_MDM.id, rateLimit: SANDBOX_RATE_LIMIT });
    this.tokens = new TokenService({ store: this.store, cipher: this.cipher, apple: this.apple, mdm: TEST_MDM, now: () => this.now() });
    return this;
  }

  async stop(): Promise<void> {
    await this.sandbox?.close();
    await this.cosmos.stop();
  }
}
