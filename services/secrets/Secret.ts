import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/** Shortest value worth scrubbing: shorter strings would redact ordinary words. Also the index's key length. */
const MIN_SCRUBBED_LENGTH = 8;

export interface SecretRegistryLimits {
  /** Values kept at most; those unused the longest leave first. */
  maxValues: number;
  /** A value nobody revealed or registered for this long (up to twice as long) leaves. */
  maxIdleMs: number;
}

/**
 * Generous for real use (a deployment has tens of tokens, each a bearer and an inner value) and small
 * enough that a stream of refused token files cannot grow the process: 4,096 values are a few MB at most.
 */
export const DEFAULT_SECRET_REGISTRY_LIMITS: SecretRegistryLimits = { maxValues: 4096, maxIdleMs: 24 * 3_600_000 };

/**
 * Up to this many values, scrubbing searches the line for each one (fastest when few are known); above
 * it, it looks each position of the line up in an index, so its cost no longer grows with the registry.
 */
const LINEAR_SCAN_MAX = 32;

const HASH_BASE = 31;
/** HASH_BASE^(MIN_SCRUBBED_LENGTH-1) in 32-bit arithmetic: the weight of the character leaving the window. */
const HASH_TOP = Array.from({ length: MIN_SCRUBBED_LENGTH - 1 }).reduce<number>((h) => Math.imul(h, HASH_BASE), 1);

/** 32-bit polynomial hash of the MIN_SCRUBBED_LENGTH characters from `start` (collisions are checked by the caller). */
function windowHash(text: string, start: number): number {
  let hash = 0;
  for (let k = 0; k < MIN_SCRUBBED_LENGTH; k++) hash = (Math.imul(hash, HASH_BASE) + text.charCodeAt(start + k)) | 0;
  return hash;
}

/** Where a value's indexed window starts: its middle. */
function windowOffset(value: string): number {
  return (value.length - MIN_SCRUBBED_LENGTH) >> 1;
}

/**
 * The secret values the process has used recently. The logger scrubs these from every line, so a token
 * that slips into an error message or a request dump still never reaches a log.
 *
 * Bounded, because every token file anyone sends registers its values, refused ones included. Values live
 * in two generations: new and used values go to the current one, which is retired when it holds half of
 * `maxValues` or is `maxIdleMs` old; a retired generation's values that are used again move back, and the
 * rest are dropped when the next one retires. So at most `maxValues` are kept, and a value leaves between
 * one and two `maxIdleMs` after its last use (sooner under a flood). That is safe for a value still in use,
 * because `Secret.reveal()` registers it again: a secret's plain text only reaches a request, an error or a
 * log line through reveal(), so it is always recent when it matters. (A Map kept in recency order would
 * do the same, but deleting from its front leaves holes every later walk has to skip.)
 */
class SecretRegistry {
  private current = new Set<string>();
  private previous = new Set<string>();
  private currentSince = Date.now();
  /**
   * Hash of MIN_SCRUBBED_LENGTH characters in the middle of a value → the values with them there. The
   * middle, because values share beginnings: every token file starts with the Base64 of `{"token":"`.
   */
  private readonly byWindow = new Map<number, Set<string>>();
  /** How many indexed values have each low 16 bits of window hash: most positions of a line are ruled out without a Map lookup. */
  private readonly hashCounts = new Uint16Array(1 << 16);

  constructor(private readonly limits: SecretRegistryLimits = DEFAULT_SECRET_REGISTRY_LIMITS) {}

  get size(): number {
    return this.current.size + this.previous.size;
  }

  touch(value: string): void {
    if (value.length < MIN_SCRUBBED_LENGTH) return;
    const now = Date.now();
    const idle = now - this.currentSince;
    if (idle > this.limits.maxIdleMs) {
      this.retire(now);
      // Nothing registered for two spans: what was current is as stale as what was retired before it.
      if (idle > 2 * this.limits.maxIdleMs) this.retire(now);
    }
    if (this.current.has(value)) return;
    if (this.previous.delete(value)) {
      this.current.add(value);
    } else {
      this.current.add(value);
      const hash = windowHash(value, windowOffset(value));
      const bucket = this.byWindow.get(hash);
      if (bucket) bucket.add(value);
      else this.byWindow.set(hash, new Set([value]));
      this.hashCounts[hash & 0xffff]! += 1;
    }
    if (this.current.size >= Math.max(1, Math.floor(this.limits.maxValues / 2))) this.retire(now);
  }

  scrub(text: string): string {
    if (this.size === 0 || text.length < MIN_SCRUBBED_LENGTH) return text;
    const found = this.size <= LINEAR_SCAN_MAX ? this.findByScan(text) : this.findByIndex(text);
    if (found.length === 0) return text;
    // Longest first: a value that contains another is redacted whole, not left with a hole in it.
    found.sort((a, b) => b.length - a.length);
    let result = text;
    for (const value of found) {
      if (result.includes(value)) result = result.split(value).join(REDACTED);
    }
    return result;
  }

  private findByScan(text: string): string[] {
    const found: string[] = [];
    for (const value of this.current) if (text.includes(value)) found.push(value);
    for (const value of this.previous) if (text.includes(value)) found.push(value);
    return found;
  }

  private findByIndex(text: string): string[] {
    const found = new Set<string>();
    const counts = this.hashCounts;
    const last = text.length - MIN_SCRUBBED_LENGTH;
    // A rolling hash of the window at each position: no substring is built, and the Map is only asked
    // where the hash's low bits match some value's.
    let hash = windowHash(text, 0);
    for (let i = 0; ; i++) {
      if (counts[hash & 0xffff] !== 0) {
        const bucket = this.byWindow.get(hash);
        if (bucket) {
          for (const value of bucket) {
            const start = i - windowOffset(value);
            if (start >= 0 && text.startsWith(value, start)) found.add(value);
          }
        }
      }
      if (i === last) break;
      hash = (Math.imul(hash - Math.imul(text.charCodeAt(i), HASH_TOP), HASH_BASE) + text.charCodeAt(i + MIN_SCRUBBED_LENGTH)) | 0;
    }
    return [...found];
  }

  /** Drops the retired generation's values nobody used since, and retires the current one. */
  private retire(now: number): void {
    for (const value of this.previous) this.unindex(value);
    this.previous = this.current;
    this.current = new Set();
    this.currentSince = now;
  }

  private unindex(value: string): void {
    const hash = windowHash(value, windowOffset(value));
    const bucket = this.byWindow.get(hash);
    if (!bucket?.delete(value)) return;
    this.hashCounts[hash & 0xffff]! -= 1;
    if (bucket.size === 0) this.byWindow.delete(hash);
  }
}

let registry = new SecretRegistry();

/**
 * A value that must never be printed: toString, JSON and util.inspect all show a redaction. The only
 * way to the plain value is `reveal()`, which makes every use greppable.
 */
export class Secret {
  readonly #value: string;
  readonly #alsoScrub: readonly string[];

  /**
   * `alsoScrub`: values anyone holding the plain text can derive from it (a token file's inner token, say).
   * They are registered with it on every reveal, as registering them once would let them age out of the
   * registry while the secret, and so they, are still in use.
   */
  constructor(value: string, options: { alsoScrub?: readonly string[] } = {}) {
    this.#value = value;
    this.#alsoScrub = options.alsoScrub ?? [];
    this.#register();
  }

  reveal(): string {
    // Whatever the caller does with the plain text may end up in a log: keep it among the scrubbed values.
    this.#register();
    return this.#value;
  }

  /** The same secret, with more values derived from it kept registered with it. */
  alsoScrubbing(values: readonly string[]): Secret {
    const added = values.filter((value) => !this.#alsoScrub.includes(value));
    return added.length === 0 ? this : new Secret(this.#value, { alsoScrub: [...this.#alsoScrub, ...added] });
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }

  #register(): void {
    registry.touch(this.#value);
    for (const value of this.#alsoScrub) registry.touch(value);
  }
}

/** Replaces every known secret value inside `text` with a redaction marker. */
export function scrubSecrets(text: string): string {
  return registry.scrub(text);
}

/** How many values the registry holds now (tests and diagnostics; never the values themselves). */
export function knownSecretCount(): number {
  return registry.size;
}

/**
 * Tests only: until the returned function is called, secrets go to a fresh registry with these bounds, so
 * a test can fill it without evicting what other tests registered.
 */
export function isolateSecretRegistryForTests(limits: Partial<SecretRegistryLimits> = {}): () => void {
  const saved = registry;
  registry = new SecretRegistry({ ...DEFAULT_SECRET_REGISTRY_LIMITS, ...limits });
  return () => {
    registry = saved;
  };
}
