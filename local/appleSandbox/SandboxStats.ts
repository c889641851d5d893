/** What the sandbox saw, so tests and benchmarks can count requests, rate and parallelism. */
export class SandboxStats {
  requests = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly byPath = new Map<string, number>();
  /** Arrival times (epoch ms) of API requests, for the busiest-second measurement. */
  readonly arrivals: number[] = [];

  begin(method: string, path: string, at: number): void {
    this.requests += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const key = `${method} ${path}`;
    this.byPath.set(key, (this.byPath.get(key) ?? 0) + 1);
    this.arrivals.push(at);
  }

  end(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  count(method: string, path: string): number {
    return this.byPath.get(`${method} ${path}`) ?? 0;
  }

  /** Most requests that arrived within any 1000 ms window. */
  maxRequestsPerSecond(): number {
    let best = 0;
    let start = 0;
    for (let end = 0; end < this.arrivals.length; end++) {
      while ((this.arrivals[end] ?? 0) - (this.arrivals[start] ?? 0) >= 1000) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  reset(): void {
    this.requests = 0;
    this.maxInFlight = this.inFlight;
    this.byPath.clear();
    this.arrivals.length = 0;
  }

  toJSON(): { requests: number; maxInFlight: number; maxRequestsPerSecond: number; byPath: Record<string, number> } {
    return {
      requests: this.requests,
      maxInFlight: this.maxInFlight,
      maxRequestsPerSecond: this.maxRequestsPerSecond(),
      byPath: Object.fromEntries(this.byPath),
    };
  }
}
