import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { forEachLimited } from '../common/forEachLimited';
import { silentLogger, type Logger } from '../logging/logger';
import type { LeaseHandle } from '../store/repositories/LeaseRepository';
import type { Actor } from '../store/entities/common';
import type { VppToken } from '../store/entities/vppToken';
import type { Store } from '../store/Store';
import type { TokenSyncer } from '../backend/ports';
import { notSyncableReason } from './SyncEngine';
import { SYNC_HISTORY_LENGTH, syncHistory } from './syncHistory';
import type { SyncHistoryEntry, SyncOutcome, SyncProgress, SyncTrigger } from './types';

export interface SyncServiceOptions {
  /** The sync of one token with whoever holds it: SyncEngine (Apple) or IntuneSyncEngine. */
  engine: TokenSyncer;
  store: Store;
  /** Names this process in leases; unique per instance. */
  instanceId?: string | undefined;
  /** How long a lease lasts without renewal: a crashed instance's token is free again after this. */
  leaseMs?: number | undefined;
  /** Scheduled syncs skip tokens synced more recently than this (another instance just did it). */
  minScheduledIntervalMs?: number | undefined;
  /** Tokens synced at the same time by the scheduled sweep. */
  concurrency?: number | undefined;
  /** Called after every finished sync (notifications); errors are logged, never thrown. */
  afterSync?: ((outcome: SyncOutcome) => Promise<void>) | undefined;
  /**
   * Runs before each `syncAll` round (Intune mode: IntuneTokenMirror brings the token list in line with
   * Intune's, so tokens added or removed there directly are covered). Errors are logged; the round goes on.
   */
  beforeRound?: (() => Promise<unknown>) | undefined;
  /**
   * Reads a token afresh from whoever holds it before a sync is refused for the state the store has (Intune
   * mode: a renewal made in Intune counts at once). Errors are logged and the stored state stands.
   */
  refreshToken?: ((token: VppToken) => Promise<VppToken>) | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
}

export interface StartSyncRequest {
  trigger: SyncTrigger;
  startedBy?: Actor | undefined;
  onProgress?: ((progress: SyncProgress) => void) | undefined;
}

export type StartResult =
  | { status: 'started'; tokenId: string; tokenName: string; done: Promise<SyncOutcome> }
  /** This or another instance is syncing the token right now. */
  | { status: 'alreadyRunning'; tokenId: string; tokenName: string }
  /** Expired, revoked or held by another MDM: fix the token first. */
  | { status: 'notSyncable'; tokenId: string; tokenName: string; message: string };

export interface SyncServiceEvents {
  progress: [SyncProgress];
  finished: [SyncOutcome];
}

/**
 * Starts syncs for the chat and the scheduler. A sync runs in the background under a lease
 * (`sync|<tokenId>`), so across all bot instances one token is synced by one of them at a time; the
 * lease is renewed while the sync runs and expires if its holder dies.
 */
export class SyncService extends EventEmitter<SyncServiceEvents> {
  readonly instanceId: string;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly leaseMs: number;
  private readonly minScheduledIntervalMs: number;
  private readonly concurrency: number;
  private readonly running = new Map<string, Promise<SyncOutcome>>();
  private readonly finishHooks: Array<(outcome: SyncOutcome) => Promise<void>> = [];
  private stopped = false;

  constructor(private readonly options: SyncServiceOptions) {
    super();
    this.instanceId = options.instanceId ?? `bot-${randomUUID()}`;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.leaseMs = options.leaseMs ?? 2 * 60_000;
    this.minScheduledIntervalMs = options.minScheduledIntervalMs ?? 30 * 60_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  isRunning(tokenId: string): boolean {
    return this.running.has(tokenId);
  }

  /**
   * Runs `hook` after every sync this instance finishes (whatever started it), after `afterSync` and
   * before the token's lease is released. Errors are logged, never thrown.
   */
  afterEachSync(hook: (outcome: SyncOutcome) => Promise<void>): void {
    this.finishHooks.push(hook);
  }

  /** The token's last finished syncs, oldest first: how long each took and what it changed. */
  async history(tokenId: string, limit = SYNC_HISTORY_LENGTH): Promise<SyncHistoryEntry[]> {
    // Two more than asked: the run in progress and one a dead process left open are not drawn.
    return syncHistory(await this.options.store.syncRuns.listRecent(tokenId, limit + 2), limit);
  }

  /** Starts a sync of one token and returns as soon as it is running (or known not to start). */
  async startToken(tenantId: string, tokenId: string, request: StartSyncRequest): Promise<StartResult> {
    const token = await this.options.store.tokens.get(tenantId, tokenId);
    if (!token) throw new Error(`token ${tokenId} not found`);
    return this.start(token, request);
  }

  /**
   * The scheduled sweep: every syncable token of every tenant, a few at a time. Tokens another
   * instance holds, or synced moments ago, are skipped. Resolves when all are done.
   */
  async syncAll(trigger: SyncTrigger = 'scheduled'): Promise<SyncOutcome[]> {
    await this.refreshTokenList();
    const tokens = (await this.options.store.tokens.listAll()).filter((t) => !notSyncableReason(t) && !this.syncedRecently(t, trigger));
    const outcomes: SyncOutcome[] = [];
    await forEachLimited(tokens, this.concurrency, async (token) => {
      // Shutting down: the tokens not started yet wait for the next sweep.
      if (this.stopped) return;
      try {
        const started = await this.start(token, { trigger });
        if (started.status === 'started') outcomes.push(await started.done);
      } catch (err) {
        this.logger.error({ err, tokenId: token.id }, 'scheduled sync could not start');
      }
    });
    return outcomes;
  }

  /**
   * Brings the token list in line with the holder's before a round of syncs (`beforeRound`): the scheduled
   * sweep runs it, and so should **sync all** before it lists the tokens. Never throws.
   */
  async refreshTokenList(): Promise<void> {
    if (!this.options.beforeRound || this.stopped) return;
    await this.options.beforeRound().catch((err: unknown) => this.logger.error({ err }, 'the token list could not be brought in line before a sync round; the round goes on'));
  }

  /** Resolves when every sync this instance started has finished (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Starts nothing new and waits for running syncs. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private syncedRecently(token: VppToken, trigger: SyncTrigger): boolean {
    if (trigger !== 'scheduled' || !token.lastSyncDateTime || token.lastSyncStatus !== 'completed') return false;
    return this.now().getTime() - Date.parse(token.lastSyncDateTime) < this.minScheduledIntervalMs;
  }

  private async start(stored: VppToken, request: StartSyncRequest): Promise<StartResult> {
    const token = notSyncableReason(stored) ? await this.refreshed(stored) : stored;
    const base = { tokenId: token.id, tokenName: token.displayName };
    const blocked = notSyncableReason(token);
    if (blocked) return { ...base, status: 'notSyncable', message: blocked.message };
    if (this.stopped) return { ...base, status: 'notSyncable', message: 'The bot is shutting down; try again in a minute.' };
    if (this.running.has(token.id)) return { ...base, status: 'alreadyRunning' };
    const leaseName = `sync|${token.id}`;
    // Claimed before the await below, so two chats on this instance cannot both pass the check.
    let release!: (outcome: Promise<SyncOutcome>) => void;
    const placeholder = new Promise<SyncOutcome>((resolve, reject) => {
      release = (outcome) => outcome.then(resolve, reject);
    });
    placeholder.catch(() => undefined);
    this.running.set(token.id, placeholder);
    let lease: LeaseHandle | undefined;
    try {
      lease = await this.options.store.leases.acquire(leaseName, this.instanceId, this.leaseMs);
    } catch (err) {
      this.running.delete(token.id);
      throw err;
    }
    if (!lease) {
      this.running.delete(token.id);
      return { ...base, status: 'alreadyRunning' };
    }
    const done = this.runUnderLease(token, lease, request).finally(() => this.running.delete(token.id));
    release(done);
    return { ...base, status: 'started', done };
  }

  private async refreshed(token: VppToken): Promise<VppToken> {
    const refresh = this.options.refreshToken;
    if (!refresh) return token;
    try {
      return await refresh(token);
    } catch (err) {
      this.logger.warn({ err, tokenId: token.id }, 'token could not be read afresh; its stored state stands');
      return token;
    }
  }

  private async runUnderLease(token: VppToken, lease: LeaseHandle, request: StartSyncRequest): Promise<SyncOutcome> {
    const { engine, store } = this.options;
    const abort = new AbortController();
    let held: LeaseHandle | undefined = lease;
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = (async () => {
        if (!held) return;
        held = await store.leases.renew(held, this.leaseMs).catch((err: unknown) => {
          this.logger.warn({ err, tokenId: token.id }, 'sync lease renewal failed');
          return held;
        });
        if (!held) abort.abort(Object.assign(new Error('sync lease lost'), { name: 'AbortError' }));
      })();
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    timer.unref();
    try {
      const outcome = await engine.syncToken(token.tenantId, token.id, {
        trigger: request.trigger,
        startedBy: request.startedBy,
        signal: abort.signal,
        onProgress: (progress) => {
          this.emit('progress', progress);
          try {
            request.onProgress?.(progress);
          } catch (err) {
            this.logger.warn({ err }, 'sync progress listener failed');
          }
        },
      });
      this.emit('finished', outcome);
      for (const hook of [...(this.options.afterSync ? [this.options.afterSync] : []), ...this.finishHooks]) {
        await hook(outcome).catch((err: unknown) => this.logger.error({ err, tokenId: token.id }, 'after-sync notification failed'));
      }
      return outcome;
    } finally {
      clearInterval(timer);
      await renewing;
      if (held) await store.leases.release(held).catch((err: unknown) => this.logger.warn({ err, tokenId: token.id }, 'sync lease release failed'));
    }
  }
}
