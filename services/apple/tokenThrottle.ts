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

const throttles = new Map<string, TokenThrottle>();

/**
 * Spacing between request starts, with a 10% margin: Apple counts arrivals, and a GC pause or a busy
 * event loop on either side can bunch requests that left evenly spaced (a bare 1000/15 ms let a 16th
 * request land inside one second in the benchmark).
 */
export function minTimeFor(maxRequestsPerSecond: number): number {
  return Math.ceil((1000 / maxRequestsPerSecond) * 1.1);
}

/** Keyed by the token's fingerprint (never the token) and the settings, so tests may override limits. */
export function throttleFor(fingerprint: string, settings: RateLimitSettings): TokenThrottle {
  const key = `${fingerprint}:${settings.maxRequestsPerSecond}:${settings.maxConcurrent}`;
  let throttle = throttles.get(key);
  if (!throttle) {
    throttle = {
      limiter: new Bottleneck({ maxConcurrent: settings.maxConcurrent, minTime: minTimeFor(settings.maxRequestsPerSecond) }),
      notBefore: 0,
      maxRequestsPerSecond: settings.maxRequestsPerSecond,
    };
    throttles.set(key, throttle);
  }
  return throttle;
}

/** Apple may announce a lower limit in /service/config; only ever slow down, never speed up. */
export function lowerRate(throttle: TokenThrottle, maxRequestsPerSecond: number): void {
  if (maxRequestsPerSecond > 0 && maxRequestsPerSecond < throttle.maxRequestsPerSecond) {
    throttle.maxRequestsPerSecond = maxRequestsPerSecond;
    throttle.limiter.updateSettings({ minTime: minTimeFor(maxRequestsPerSecond) });
  }
}
