import type { Actor } from '../store/entities/common';
import type { AssignmentRun, AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import type { AssignmentDelivery } from '../backend/ports';
import type { AssignmentOutcome } from './reporting';

/**
 * What every delivery of approved runs does alike, whoever spends the licenses (Apple mode's executor, or
 * Intune mode's): the runs under way in this process, picking up runs left half-way, an admin's resume of
 * a paused run, and a shutdown that waits for the current step. How a run is delivered is the subclass's.
 */
export abstract class RunDelivery implements AssignmentDelivery {
  protected readonly active = new Map<string, Promise<AssignmentOutcome | undefined>>();
  protected readonly abort = new AbortController();

  protected constructor(
    private readonly runRecords: Pick<AssignmentRunRepository, 'get' | 'listInterrupted' | 'listUnfinished'>,
    private readonly clock: () => Date,
  ) {}

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
