import Bottleneck from 'bottleneck';

export interface RateLimitSettings {
  /** Apple allows 15 requests per second per token. */
  maxRequestsPerSecond: number;
  /** Apple asks for at most 5 pages in parallel. */
  maxConcurrent: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { maxRequestsPerSecond: 15, maxConcurrent: 5 };

/** Shared by every client of one token, so two syncs of the same token never add up past Apple's limit. */
export interface TokenThrottle {
  readonly limiter: Bottleneck;
  /** Epoch ms before which no request may start: set when Apple says Retry-After. */
  notBefore: number;
  maxRequestsPerSecond: number;
}

/**
 * Throttles any client still holds, found again by key for as long as one does: two clients of one token
 * must share one throttle, or together they would exceed Apple's limit. Weak, so a throttle nobody holds
 * any more (the client of a refused token file, say) is collected.
 */
const live = new Map<string, WeakRef<TokenThrottle>>();
const collected = new FinalizationRegistry<string>((key) => {
  if (live.get(key)?.deref() === undefined) live.delete(key);
});

/**
 * The most recently used throttles, held strongly: a token's clients come and go (one per turn or sync)
 * and its Retry-After pause and lowered rate must outlive them. Bounded, so a stream of token files
 * cannot grow the process; a token pushed out still shares its throttle while any client holds it.
 * Two generations of up to half the bound each: a throttle used again moves to the current one, and the
 * older generation is dropped whole when the current one fills.
 */
export const RECENT_THROTTLES = 256;
let recent = new Map<string, TokenThrottle>();
let older = new Map<string, TokenThrottle>();

/**
 * Throttles pushed out of the recent ones while they still hold something a new throttle would lose: a
 * Retry-After pause not over yet, or a rate Apple lowered. Without them, a burst of other tokens between
 * two syncs of this one would let its next sync hit Apple at full speed during the pause it was told to keep.
 */
const pinned = new Map<string, TokenThrottle>();
/**
 * Throttles kept only for a lowered rate, at most. Apple announces its limit for the whole service, so
 * every token may carry one; the next client reads it again from /service/config anyway. A pause is never
 * dropped for this bound: it ends by itself, and only Apple's answers start one.
 */
export const MAX_PINNED_FOR_RATE = 1024;
/** The rate each throttle started with, to tell a lowered one. */
const configuredRate = new WeakMap<TokenThrottle, number>();

function holdsState(throttle: TokenThrottle, now: number): boolean {
  return throttle.notBefore > now || rateLowered(throttle);
}

function rateLowered(throttle: TokenThrottle): boolean {
  return throttle.maxRequestsPerSecond < (configuredRate.get(throttle) ?? throttle.maxRequestsPerSecond);
}

function keepRecent(key: string, throttle: TokenThrottle): void {
  if (recent.has(key)) return;
  older.delete(key);
  pinned.delete(key);
  recent.set(key, throttle);
  if (recent.size >= RECENT_THROTTLES / 2) {
    retire(older);
    older = recent;
    recent = new Map();
  }
}

/** The generation being dropped: what still holds a pause or a lowered rate is pinned; pins no longer needed go. */
function retire(dropped: Map<string, TokenThrottle>): void {
  const now = Date.now();
  for (const [key, throttle] of pinned) if (!holdsState(throttle, now)) pinned.delete(key);
  for (const [key, throttle] of dropped) if (holdsState(throttle, now)) pinned.set(key, throttle);
  let forRateOnly = 0;
  for (const throttle of pinned.values()) if (throttle.notBefore <= now) forRateOnly += 1;
  // Oldest pins first (a Map keeps insertion order); paused ones stay.
  for (const [key, throttle] of pinned) {
    if (forRateOnly <= MAX_PINNED_FOR_RATE) break;
    if (throttle.notBefore <= now) {
      pinned.delete(key);
      forRateOnly -= 1;
    }
  }
}

/**
 * Spacing between request starts, with a 10% margin: Apple counts arrivals, and a GC pause or a busy
 * event loop on either side can bunch requests that left evenly spaced (a bare 1000/15 ms let a 16th
 * request land inside one second in the benchmark).
 */
function minTimeFor(maxRequestsPerSecond: number): number {
  return Math.ceil((1000 / maxRequestsPerSecond) * 1.1);
}

/** Keyed by the token's fingerprint (never the token) and the settings, so tests may override limits. */
export function throttleFor(fingerprint: string, settings: RateLimitSettings): TokenThrottle {
  const key = `${fingerprint}:${settings.maxRequestsPerSecond}:${settings.maxConcurrent}`;
  let throttle = live.get(key)?.deref();
  if (!throttle) {
    throttle = {
      limiter: new Bottleneck({ maxConcurrent: settings.maxConcurrent, minTime: minTimeFor(settings.maxRequestsPerSecond) }),
      notBefore: 0,
      maxRequestsPerSecond: settings.maxRequestsPerSecond,
    };
    configuredRate.set(throttle, settings.maxRequestsPerSecond);
    live.set(key, new WeakRef(throttle));
    collected.register(throttle, key);
  }
  keepRecent(key, throttle);
  return throttle;
}

/** Tests and diagnostics: throttles held for reuse, those pinned for a pause or lowered rate, and keys still tracked (until collected). */
export function throttleRegistrySize(): { recent: number; pinned: number; tracked: number } {
  return { recent: recent.size + older.size, pinned: pinned.size, tracked: live.size };
}

/** Apple may announce a lower limit in /service/config; only ever slow down, never speed up. */
export function lowerRate(throttle: TokenThrottle, maxRequestsPerSecond: number): void {
  if (maxRequestsPerSecond > 0 && maxRequestsPerSecond < throttle.maxRequestsPerSecond) {
    throttle.maxRequestsPerSecond = maxRequestsPerSecond;
    throttle.limiter.updateSettings({ minTime: minTimeFor(maxRequestsPerSecond) });
  }
}
