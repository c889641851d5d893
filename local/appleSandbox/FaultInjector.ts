/** What the sandbox does to a matching request instead of (or before) answering it normally. */
export type Fault =
  /** Answer with this status and, optionally, an Apple error body and a Retry-After header. */
  | { kind: 'status'; status: number; errorNumber?: number; errorMessage?: string; retryAfter?: string | number }
  /** Close the socket without answering. */
  | { kind: 'drop' }
  /** Wait, then answer normally. */
  | { kind: 'latency'; ms: number }
  /** 200 with a body that is not JSON. */
  | { kind: 'garbage' };

export interface FaultRule {
  /** Path under /mdm/v2, e.g. "/assignments"; omitted matches every path. */
  path?: string;
  method?: string;
  /** How many matching requests this rule affects; default 1. Infinity for "until cleared". */
  times?: number;
  fault: Fault;
}

interface ActiveRule extends FaultRule {
  remaining: number;
}

/** "The next N requests to path X fail with Y", switchable per test. */
export class FaultInjector {
  /** Added to every API request, before any rule. */
  latencyMs = 0;
  #rules: ActiveRule[] = [];

  add(rule: FaultRule): this {
    this.#rules.push({ ...rule, remaining: rule.times ?? 1 });
    return this;
  }

  /** Shorthand: the next `times` requests to `path` fail with `fault`. */
  failNext(path: string | undefined, times: number, fault: Fault): this {
    return this.add({ path, times, fault });
  }

  clear(): void {
    this.#rules = [];
    this.latencyMs = 0;
  }

  get pendingRules(): number {
    return this.#rules.length;
  }

  /** The fault for this request, consuming one use of the first matching rule. */
  take(method: string, path: string): Fault | undefined {
    const index = this.#rules.findIndex((r) => (r.path === undefined || r.path === path) && (r.method === undefined || r.method.toUpperCase() === method));
    const rule = this.#rules[index];
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.#rules.splice(index, 1);
    return rule.fault;
  }
}
