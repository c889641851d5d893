/** What one hit gets: through, the first over the limit in its window, or a later one in that window. */
export type Admission = 'allowed' | 'limited' | 'limitedAgain';

export interface WindowOptions {
  windowMs: number;
  /** Keys tracked at most per window; beyond it the oldest windows are forgotten (their keys start afresh). */
  maxKeys?: number;
  now?: () => number;
}

/**
 * One entry per key for a fixed window that starts with the key's first use, in bounded memory, so a
 * flood of distinct keys cannot grow the process.
 *
 * Entries live in two maps by when they started: the current period's and the previous one's. A period
 * lasts a window, so when the current map is retired, everything in the old one has expired and the old
 * map is dropped whole (no per-key sweep, and no deletions at the front of one long Map, which leave
 * holes every later walk has to skip).
 */
export class WindowedEntries<T extends { readonly startedAt: number }> {
  private current = new Map<string, T>();
  private previous = new Map<string, T>();
  private currentSince: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: WindowOptions) {
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? (() => Date.now());
    this.currentSince = this.now();
  }

  /** The key's entry while its window is open; otherwise a new one from `start`, whose window opens now. */
  open(key: string, start: (now: number) => T): T {
    const now = this.now();
    const since = now - this.currentSince;
    if (since >= this.windowMs) {
      this.retire(now);
      // Quiet for two periods: the retired map's windows have all ended too.
      if (since >= 2 * this.windowMs) this.retire(now);
    }
    const current = this.current.get(key);
    if (current && now - current.startedAt < this.windowMs) return current;
    let entry = this.previous.get(key);
    if (entry) this.previous.delete(key);
    if (!entry || now - entry.startedAt >= this.windowMs) entry = start(now);
    // Too many keys in one period: forget the older ones early rather than grow.
    if (this.current.size >= this.maxKeys) this.retire(now);
    this.current.set(key, entry);
    return entry;
  }

  /** Keys tracked now (tests and diagnostics). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  private retire(now: number): void {
    this.previous = this.current;
    this.current = new Map();
    this.currentSince = now;
  }
}

/** Counts hits per key in fixed windows: `limit` pass, the next one is told apart from the rest. */
export class FixedWindowLimiter {
  private readonly windows: WindowedEntries<{ readonly startedAt: number; count: number }>;

  constructor(private readonly options: WindowOptions & { limit: number }) {
    this.windows = new WindowedEntries(options);
  }

  hit(key: string): Admission {
    const window = this.windows.open(key, (now) => ({ startedAt: now, count: 0 }));
    window.count += 1;
    if (window.count <= this.options.limit) return 'allowed';
    return window.count === this.options.limit + 1 ? 'limited' : 'limitedAgain';
  }
}
