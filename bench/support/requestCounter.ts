/**
 * Counts the HTTP requests a client makes by wrapping its `fetch` option: the servers' own request logs
 * are bounded or shared, and a benchmark wants every request of one round, by kind.
 */
export class RequestCounter {
  private counts = new Map<string, number>();

  /** `classify` names a request's kind ("POST /assets/associate", "delta", …) from its method and URL. */
  constructor(private readonly classify: (method: string, url: URL) => string) {}

  readonly fetch: typeof fetch = (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')).toUpperCase();
    const kind = this.classify(method, url);
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    return fetch(input, init);
  };

  /** Requests of the kinds `which` accepts (all by default). */
  total(which: (kind: string) => boolean = () => true): number {
    let n = 0;
    for (const [kind, count] of this.counts) if (which(kind)) n += count;
    return n;
  }

  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }

  /** The counts so far by kind, largest first. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
  }

  reset(): void {
    this.counts = new Map();
  }
}
