/**
 * Backoff and Retry-After handling for the HTTP clients at the edges (Apple, Microsoft Graph). Each client
 * keeps its own settings; what a throttled or failed call waits is worked out here, the same way for all.
 */
export interface RetrySettings {
  /** Total tries including the first one. */
  maxAttempts: number;
  /**
   * How long one operation may keep retrying, from its first try. Where rate limits and outages last
   * minutes (Apple's do), a deadline says better than a count how long the bot keeps at it.
   */
  deadlineMs?: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is shortened to it, so one answer cannot park a sync for hours. */
  maxRetryAfterMs: number;
}

/** Retry-After is either seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Exponential backoff with "equal jitter" (half fixed, half random) so many clients do not retry in
 * step; never shorter than what the server asked for.
 */
export function backoffDelay(attempt: number, settings: RetrySettings, retryAfterMs?: number, random: () => number = Math.random): number {
  const exponential = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exponential / 2 + random() * (exponential / 2);
  if (retryAfterMs === undefined) return Math.round(jittered);
  return Math.round(Math.max(Math.min(retryAfterMs, settings.maxRetryAfterMs), jittered));
}
