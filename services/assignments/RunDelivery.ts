import type { Actor } from '../store/entities/common';
import type { AssignmentRun, AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import type { LeaseRepository } from '../store/repositories/LeaseRepository';
import type { Logger } from '../logging/logger';
import type { AssignmentDelivery } from '../backend/ports';
import type { AssignmentOutcome } from './reporting';

/** How long a run's lease lasts without renewal; it is renewed every third of it while the run goes on. */
const DEFAULT_RUN_LEASE_MS = 10 * 60_000;
/** Tries to take a run's lease another instance still holds, LEASE_RETRY_MS apart. */
const LEASE_TRIES = 10;
const LEASE_RETRY_MS = 500;

export interface RunDeliverySettings {
  runs: Pick<AssignmentRunRepository, 'get' | 'listInterrupted' | 'listUnfinished'>;
  leases: Pick<LeaseRepository, 'acquire' | 'renew' | 'release'>;
  now: () => Date;
  /** Names this process in leases; unique per process. */
  instanceId: string;
  leaseMs?: number | undefined;
  logger?: Logger | undefined;
}

/**
 * What every delivery of approved runs does alike, whoever spends the licenses (Apple mode's executor, or
 * Intune mode's): the runs under way in this process, picking up runs left half-way, an admin's resume of
 * a paused run, and a shutdown that waits for the current step. How a run is delivered is the subclass's.
 */
export abstract class RunDelivery implements AssignmentDelivery {
  protected readonly active = new Map<string, Promise<AssignmentOutcome | undefined>>();
  protected readonly abort = new AbortController();
  /** Runs whose lease this process lost to another instance: they stop at their next step. */
  protected readonly lostLeases = new Set<string>();
  protected readonly instanceId: string;
  protected readonly leaseMs: number;
  private readonly runRecords: RunDeliverySettings['runs'];
  private readonly clock: () => Date;

  protected constructor(private readonly settings: RunDeliverySettings) {
    this.runRecords = settings.runs;
    this.clock = settings.now;
    this.instanceId = settings.instanceId;
    this.leaseMs = settings.leaseMs ?? DEFAULT_RUN_LEASE_MS;
  }

  /** Delivers the run (its lease held by this process); undefined when it was not runnable. */
  protected abstract run(tokenId: string, runId: string): Promise<AssignmentOutcome | undefined>;

  /**
   * Runs `run` under the run's lease, renewed while it goes on: one instance at a time works on a run. Another
   * instance may be finishing the run's last pass (its result, its book counts) while a new pass was recorded:
   * a few tries let it let go, before the sweep would pick the pass up minutes later.
   */
  protected async leased(tokenId: string, runId: string): Promise<AssignmentOutcome | undefined> {
    const { leases, logger } = this.settings;
    let lease = await leases.acquire(`assignment|${runId}`, this.instanceId, this.leaseMs);
    for (let tries = 1; !lease && tries < LEASE_TRIES && !this.abort.signal.aborted; tries++) {
      await new Promise((resolve) => setTimeout(resolve, LEASE_RETRY_MS));
      if ((await this.runRecords.get(tokenId, runId))?.state !== 'approved') return undefined;
      lease = await leases.acquire(`assignment|${runId}`, this.instanceId, this.leaseMs);
    }
    if (!lease) return undefined;
    const renewal = setInterval(() => {
      if (!lease) return;
      leases
        .renew(lease, this.leaseMs)
        .then((renewed) => {
          lease = renewed;
          if (!renewed) this.lostLeases.add(runId);
        })
        .catch((err: unknown) => logger?.warn({ err, runId }, 'could not renew an assignment lease; trying again'));
    }, Math.max(1000, Math.floor(this.leaseMs / 3)));
    renewal.unref();
    try {
      return await this.run(tokenId, runId);
    } finally {
      clearInterval(renewal);
      this.lostLeases.delete(runId);
      if (lease) await leases.release(lease).catch(() => false);
    }
  }

  /** Starts (or goes on with) a run in the background; the caller's turn answers at once. */
  abstract start(tokenId: string, runId: string): void;

  /** Records an admin's resume in the audit log. */
  protected abstract audit(run: AssignmentRun, outcome: 'resumed', by: Actor): Promise<void>;

  /** A run of the token, for "resume" (which checks it is the admin's tenant's). */
  findRun(tokenId: string, runId: string): Promise<AssignmentRun | undefined> {
    return this.runRecords.get(tokenId, runId);
  }

  /** The tenant's runs an outage paused, for "resume" with no run named. */
  interruptedRuns(tenantId: string): Promise<AssignmentRun[]> {
    return this.runRecords.listInterrupted(tenantId);
  }

  /** Start-up and sweep: picks up every run that was approved or half-way, and interrupted runs that are due. */
  async resumeAll(): Promise<number> {
    const runs = await this.runRecords.listUnfinished(this.clock());
    for (const run of runs) this.start(run.tokenId, run.id);
    return runs.length;
  }

  /**
   * An admin's "resume now" for a run an outage interrupted. It goes on after its last recorded step, so
   * nothing is sent twice. False when the run is not interrupted (finished, or running).
   */
  async resume(tokenId: string, runId: string, by?: Actor): Promise<boolean> {
    const run = await this.runRecords.get(tokenId, runId);
    if (!run || run.state !== 'interrupted') return false;
    if (by) await this.audit(run, 'resumed', by);
    this.start(tokenId, runId);
    return true;
  }

  /** Shutdown: stops at the next step; unfinished runs stay `running` and resume on the next start. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.idle();
  }

  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()]);
  }
}
