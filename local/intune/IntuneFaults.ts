/** What the local Intune answers instead of the real thing: Graph's throttling (429), an outage (503, 504) or any status. */
export interface IntuneFault {
  status: number;
  /** Seconds, as Graph sends it (may be fractional: "2.128"); left out when undefined. */
  retryAfter?: number | string | undefined;
  /** Graph's error code; TooManyRequests for 429, ServiceUnavailable for 503, GatewayTimeout for 504 by default. */
  code?: string | undefined;
}

export interface IntuneFaultRule {
  /** Only requests whose path (after /beta or /v1.0) contains this, e.g. "/syncLicenses"; every request when left out. */
  pathIncludes?: string | undefined;
  method?: string | undefined;
  /** How many matching requests get the fault; 1 by default, Infinity until cleared. */
  times?: number | undefined;
  fault: IntuneFault;
}

/** "The next N requests get 429 with Retry-After", switchable per test, like the Apple sandbox's FaultInjector. */
export class IntuneFaults {
  #rules: Array<IntuneFaultRule & { remaining: number }> = [];

  add(rule: IntuneFaultRule): this {
    this.#rules.push({ ...rule, remaining: rule.times ?? 1 });
    return this;
  }

  /** Shorthand: Graph throttles the next `times` requests, asking to wait `retryAfter` seconds. */
  throttleNext(times: number, retryAfter: number | string = 1, pathIncludes?: string): this {
    return this.add({ times, pathIncludes, fault: { status: 429, retryAfter } });
  }

  clear(): void {
    this.#rules = [];
  }

  get pending(): number {
    return this.#rules.length;
  }

  /** The fault for this request, using up one turn of the first rule that matches. */
  take(method: string, path: string): IntuneFault | undefined {
    const index = this.#rules.findIndex((r) => (r.pathIncludes === undefined || path.includes(r.pathIncludes)) && (r.method === undefined || r.method.toUpperCase() === method));
    const rule = this.#rules[index];
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.#rules.splice(index, 1);
    return rule.fault;
  }
}

const DEFAULT_CODES: Record<number, string> = { 429: 'TooManyRequests', 503: 'ServiceUnavailable', 504: 'GatewayTimeout' };

/**
 * The body of a fault. A 429 is Graph's throttling sample word for word in shape (/graph/throttling,
 * test/fixtures/intune/throttled-429.jsonc): innerError with the status as strings and its own message.
 */
export function faultBody(fault: IntuneFault, ids: { requestId: string; clientRequestId: string }, date: string): unknown {
  const code = fault.code ?? DEFAULT_CODES[fault.status] ?? 'InjectedFault';
  if (fault.status === 429) {
    return {
      error: {
        code,
        innerError: { code: '429', date, message: 'Please retry after', 'request-id': ids.requestId, status: '429', 'client-request-id': ids.clientRequestId },
        message: 'Please retry again later.',
      },
    };
  }
  return { error: { code, message: `The service is unavailable (local Intune fault ${fault.status}).`, innerError: { date, 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId } } };
}
