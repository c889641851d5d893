/** Whether each service the bot depends on answered its last check. */
export interface DownstreamState {
  store: boolean;
  vpp: boolean;
}

export interface DownstreamChecks {
  /** A cheap read of the Cosmos database. */
  store: () => Promise<boolean>;
  /** Whoever holds the VPP tokens: Apple's unauthenticated service config, or Microsoft Graph in Intune mode. */
  vpp: () => Promise<boolean>;
}

export interface DownstreamHealthOptions {
  /** How long one check's answer is reused: every probe within it is free. */
  maxAgeMs?: number;
  /** A check that has not answered by then counts as down (a hung connection must not hang the probe). */
  checkTimeoutMs?: number;
  now?: () => number;
}

const DEFAULT_HEALTH_MAX_AGE_MS = 30_000;
const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

/**
 * Downstream health for the readiness probe, checked at most once per `maxAgeMs` however many probes
 * come: probes are unauthenticated, so each one calling Cosmos and Apple (or Graph) would let anyone turn the bot
 * into a load generator against both. Concurrent probes after the answer expired share one check.
 */
export class DownstreamHealth {
  private readonly maxAgeMs: number;
  private readonly checkTimeoutMs: number;
  private readonly now: () => number;
  private last: { state: DownstreamState; startedAt: number } | undefined;
  private inFlight: Promise<DownstreamState> | undefined;

  constructor(
    private readonly checks: DownstreamChecks,
    options: DownstreamHealthOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_HEALTH_MAX_AGE_MS;
    this.checkTimeoutMs = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
    this.now = options.now ?? (() => Date.now());
  }

  read(): Promise<DownstreamState> {
    // Age from when the check started: a slow check must not let the next one start sooner.
    if (this.last && this.now() - this.last.startedAt < this.maxAgeMs) return Promise.resolve(this.last.state);
    this.inFlight ??= this.refresh().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async refresh(): Promise<DownstreamState> {
    const startedAt = this.now();
    const [store, vpp] = await Promise.all([this.answer(this.checks.store), this.answer(this.checks.vpp)]);
    const state = { store, vpp };
    this.last = { state, startedAt };
    return state;
  }

  private async answer(check: () => Promise<boolean>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.checkTimeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([check().catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
