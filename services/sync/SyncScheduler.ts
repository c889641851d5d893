import { schedule, validate, type ScheduledTask } from 'node-cron';
import { ConfigError } from '../errors';
import { silentLogger, type Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import type { SyncService } from './SyncService';
import type { SyncOutcome } from './types';

/** What the scheduler needs of the notifier: the daily look at every token's expiry and state. */
interface ExpiryCheck {
  sweep(): Promise<unknown>;
}

export interface SyncSchedulerOptions {
  sync: SyncService;
  store: Store;
  notices?: ExpiryCheck | undefined;
  /** Default: twice a day, as Intune (SYNC_CRON). */
  cron?: string | undefined;
  /** IANA zone the cron expressions are read in (SYNC_TIMEZONE). */
  timeZone?: string | undefined;
  /** The daily expiry check. */
  expiryCron?: string | undefined;
  /** Run the expiry check once at start, catching up on notices a restart interrupted. */
  checkOnStart?: boolean | undefined;
  instanceId?: string | undefined;
  logger?: Logger | undefined;
  /** After every scheduled round, however it went (Intune mode watches its budgets then). */
  afterRound?: (() => void) | undefined;
}

const DEFAULT_SYNC_CRON = '0 6,18 * * *';
const DEFAULT_EXPIRY_CRON = '0 7 * * *';
const EXPIRY_CHECK_LEASE = 'notifications|expiry-check';
const EXPIRY_CHECK_LEASE_MS = 15 * 60_000;

/**
 * Runs the scheduled sync and the daily expiry check. Every instance schedules them; per-token leases
 * (sync) and a lease on the check make each piece of work run on one instance. A run still going
 * when the next one is due is skipped, not stacked.
 */
export class SyncScheduler {
  private readonly logger: Logger;
  private readonly tasks: ScheduledTask[] = [];
  private syncRun: Promise<SyncOutcome[]> | undefined;
  private checkRun: Promise<boolean> | undefined;

  constructor(private readonly options: SyncSchedulerOptions) {
    this.logger = options.logger ?? silentLogger();
    for (const [name, expression] of [
      ['SYNC_CRON', options.cron ?? DEFAULT_SYNC_CRON],
      ['expiry check', options.expiryCron ?? DEFAULT_EXPIRY_CRON],
    ] as const) {
      if (!validate(expression)) throw new ConfigError(`Invalid configuration: ${name} "${expression}" is not a valid cron expression`);
    }
  }

  start(): void {
    if (this.tasks.length > 0) return;
    const timezone = this.options.timeZone ?? 'UTC';
    this.tasks.push(
      schedule(this.options.cron ?? DEFAULT_SYNC_CRON, () => this.runSync(), { name: 'vpp-sync', timezone, noOverlap: true }),
      schedule(this.options.expiryCron ?? DEFAULT_EXPIRY_CRON, () => this.runExpiryCheck(), { name: 'vpp-expiry-check', timezone, noOverlap: true }),
    );
    if (this.options.checkOnStart ?? true) void this.runExpiryCheck();
    this.logger.info({ cron: this.options.cron ?? DEFAULT_SYNC_CRON, timezone }, 'sync scheduled');
  }

  /** One scheduled sweep; undefined when the previous one is still running (skipped). */
  async runSync(): Promise<SyncOutcome[] | undefined> {
    if (this.syncRun) {
      this.logger.warn('scheduled sync still running; this run is skipped');
      return undefined;
    }
    this.syncRun = this.options.sync.syncAll('scheduled');
    try {
      const outcomes = await this.syncRun;
      this.logger.info({ tokens: outcomes.length, failed: outcomes.filter((o) => o.status === 'failed').length }, 'scheduled sync finished');
      return outcomes;
    } catch (err) {
      this.logger.error({ err }, 'scheduled sync failed');
      return [];
    } finally {
      this.syncRun = undefined;
      this.options.afterRound?.();
    }
  }

  /** The expiry check on one instance at a time; false when skipped. */
  async runExpiryCheck(): Promise<boolean> {
    const notices = this.options.notices;
    if (!notices || this.checkRun) return false;
    this.checkRun = (async () => {
      const { leases } = this.options.store;
      const lease = await leases.acquire(EXPIRY_CHECK_LEASE, this.options.instanceId ?? this.options.sync.instanceId, EXPIRY_CHECK_LEASE_MS);
      if (!lease) return false;
      try {
        await notices.sweep();
        return true;
      } finally {
        await leases.release(lease).catch(() => undefined);
      }
    })();
    try {
      return await this.checkRun;
    } catch (err) {
      this.logger.error({ err }, 'expiry check failed');
      return false;
    } finally {
      this.checkRun = undefined;
    }
  }

  /** Stops the schedules and waits for work in progress. */
  async stop(): Promise<void> {
    for (const task of this.tasks.splice(0)) await task.destroy();
    await Promise.allSettled([this.syncRun, this.checkRun]);
  }
}
