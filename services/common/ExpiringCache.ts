/**
 * Answers kept for a while, bounded in number: concurrent questions for one key share one load, a failed
 * load is not kept (the next question asks again), and when full the oldest answer goes first.
 */
export class ExpiringCache<V> {
  private readonly answers = new Map<string, { value: V; expires: number }>();
  private readonly pending = new Map<string, Promise<V>>();

  constructor(private readonly options: { ttlMs: number; maxEntries: number; now: () => number }) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.answers.get(key);
    if (cached && cached.expires > this.options.now()) return Promise.resolve(cached.value);
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const question = load()
      .then((value) => {
        this.remember(key, value);
        return value;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, question);
    return question;
  }

  private remember(key: string, value: V): void {
    this.answers.delete(key);
    // Insertion order is age: drop the oldest when full.
    if (this.answers.size >= this.options.maxEntries) {
      const oldest = this.answers.keys().next();
      if (!oldest.done) this.answers.delete(oldest.value);
    }
    this.answers.set(key, { value, expires: this.options.now() + this.options.ttlMs });
  }
}
