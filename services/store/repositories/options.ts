export interface RepositoryOptions {
  /** Injected so tests can move time (lease expiry, approval expiry) without waiting. */
  now?: () => Date;
  /** Bound on optimistic-concurrency retries; the default suits a handful of concurrent writers. */
  maxAttempts?: number;
}

export function clockOf(options: RepositoryOptions): () => Date {
  return options.now ?? (() => new Date());
}
