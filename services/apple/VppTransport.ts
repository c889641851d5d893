import type { z } from 'zod';
import type { Logger } from '../logging/logger';
import { silentLogger } from '../logging/logger';
import type { Secret } from '../secrets/Secret';
import { VppError } from './VppError';
import { appleErrorBodySchema, responseMdmInfoSchema, type MdmInfo } from './schemas';
import { backoffDelay, parseRetryAfter, type RetrySettings } from '../common/retry';
import { DEFAULT_RATE_LIMIT, throttleFor, type RateLimitSettings, type TokenThrottle } from './tokenThrottle';
import { scrubbingInnerToken, tokenFingerprint } from './VppTokenFile';

export type FetchFn = typeof fetch;

/** Apple's rate limits and outages last minutes: it is retried until a deadline rather than a number of times. */
export const DEFAULT_RETRY: RetrySettings = { maxAttempts: Number.POSITIVE_INFINITY, deadlineMs: 5 * 60_000, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

export interface VppTransportOptions {
  baseUrl: string;
  token: Secret;
  logger?: Logger;
  fetch?: FetchFn;
  rateLimit?: Partial<RateLimitSettings>;
  retry?: Partial<RetrySettings>;
  /** Per attempt; a hung connection counts as a dropped one and is retried. */
  requestTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch ms; with `sleep`, lets tests run a retry deadline without waiting for it. */
  now?: () => number;
  /** Called with every `mdmInfo` an answer carries (config, assets, users, status all may). */
  onMdmInfo?: (mdmInfo: MdmInfo) => void;
}

export interface VppRequest<S extends z.ZodType> {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** GET /service/config is the one call Apple serves without the token. */
  authenticated?: boolean;
  schema: S;
}

const RATE_LIMITED = 9646;

interface AttemptFailure {
  error: VppError;
  retryable: boolean;
  retryAfterMs?: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends requests to Apple for one token: rate limited per token, retried with backoff, and every
 * answer either validated against its schema or turned into a VppError. Never logs headers or bodies.
 */
export class VppTransport {
  readonly baseUrl: string;
  readonly throttle: TokenThrottle;
  readonly #token: Secret;
  readonly #logger: Logger;
  readonly #fetch: FetchFn;
  readonly #retry: RetrySettings;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #onMdmInfo: ((mdmInfo: MdmInfo) => void) | undefined;

  constructor(options: VppTransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    // A stored token's inner value was registered for scrubbing only when its file was parsed, maybe days ago.
    this.#token = scrubbingInnerToken(options.token);
    this.#logger = options.logger ?? silentLogger();
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#onMdmInfo = options.onMdmInfo;
    this.throttle = throttleFor(tokenFingerprint(options.token.reveal()), { ...DEFAULT_RATE_LIMIT, ...options.rateLimit });
  }

  async request<S extends z.ZodType>(request: VppRequest<S>): Promise<z.infer<S>> {
    const operation = `${request.method} ${request.path}`;
    const started = this.#now();
    const deadline = started + (this.#retry.deadlineMs ?? Number.POSITIVE_INFINITY);
    for (let attempt = 1; ; attempt++) {
      const wait = this.throttle.notBefore - this.#now();
      if (wait > 0) await this.#sleep(wait);
      const outcome = await this.throttle.limiter.schedule(() => this.#attempt(request, operation, attempt));
      if (outcome.ok) return outcome.value;
      const { error, retryable, retryAfterMs } = outcome.failure;
      if (!retryable) throw error;
      const delay = backoffDelay(attempt, this.#retry, retryAfterMs, this.#random);
      // Apple asked for a longer pause than the bot waits inside one request: stop now, and let the caller resume after it.
      const waitTooLong = retryAfterMs !== undefined && retryAfterMs > this.#retry.maxRetryAfterMs;
      if (waitTooLong || attempt >= this.#retry.maxAttempts || this.#now() + delay > deadline) {
        this.#logger.error({ operation, attempts: attempt, errorNumber: error.errorNumber, status: error.httpStatus }, 'Apple request failed; giving up');
        const minutes = Math.round((this.#now() - started) / 60_000);
        throw new VppError({
          errorNumber: error.errorNumber,
          httpStatus: error.httpStatus,
          appleMessage: error.appleMessage,
          operation,
          kind: error.kind,
          message: `${error.message} (Gave up after ${attempt} attempts${minutes >= 1 ? ` over ${minutes} min` : ''}.)`,
          errorInfo: error.errorInfo,
          retryAfterMs,
          cause: error,
        });
      }
      if (retryAfterMs !== undefined || error.errorNumber === RATE_LIMITED || error.httpStatus === 429) {
        // Apple asked this token to slow down: hold back every request for it, not just this one.
        this.throttle.notBefore = Math.max(this.throttle.notBefore, this.#now() + delay);
      }
      this.#logger.warn(
        { operation, attempt, delayMs: delay, status: error.httpStatus, errorNumber: error.errorNumber },
        'Apple request failed; retrying',
      );
      await this.#sleep(delay);
    }
  }

  async #attempt<S extends z.ZodType>(
    request: VppRequest<S>,
    operation: string,
    attempt: number,
  ): Promise<{ ok: true; value: z.infer<S> } | { ok: false; failure: AttemptFailure }> {
    const url = new URL(`${this.baseUrl}${request.path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.authenticated !== false) headers.authorization = `Bearer ${this.#token.reveal()}`;
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const started = Date.now();
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      this.#logger.debug({ operation, attempt, ms: Date.now() - started, network: describeNetworkError(cause) }, 'Apple request: no answer');
      return { ok: false, failure: { error: new VppError({ operation, kind: 'unavailable', cause }), retryable: true } };
    }
    this.#logger.debug({ operation, attempt, status: response.status, ms: Date.now() - started }, 'Apple request');
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#now());
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const mdmInfo = responseMdmInfoSchema.safeParse(json);
    if (mdmInfo.success && mdmInfo.data.mdmInfo) this.#onMdmInfo?.(mdmInfo.data.mdmInfo);
    // Whether to try again is the error's own call (VppError.isRetryable): a 429 or 5xx whatever errorNumber
    // came with it, or an errorNumber that means busy, rate limited or in maintenance.
    const appleError = appleErrorBodySchema.safeParse(json);
    if (appleError.success) {
      const error = new VppError({
        errorNumber: appleError.data.errorNumber,
        httpStatus: response.status,
        appleMessage: appleError.data.errorMessage,
        errorInfo: appleError.data.errorInfo,
        operation,
      });
      return { ok: false, failure: { error, retryable: error.isRetryable, retryAfterMs } };
    }
    if (!response.ok) {
      const error = new VppError({ httpStatus: response.status, operation });
      return { ok: false, failure: { error, retryable: error.isRetryable, retryAfterMs } };
    }
    const parsed = request.schema.safeParse(json);
    if (!parsed.success) {
      const error = new VppError({
        httpStatus: response.status,
        operation,
        kind: 'response',
        message: `Apple answered ${operation} with something the bot does not understand. Try again later; if it keeps happening, report it.`,
        cause: parsed.error,
      });
      return { ok: false, failure: { error, retryable: false } };
    }
    return { ok: true, value: parsed.data };
  }
}

/** A short, token-free description of why fetch gave up (undici hides the socket error in `cause`). */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown';
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}${cause}`;
}
