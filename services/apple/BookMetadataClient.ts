import { z } from 'zod';
import type { Logger } from '../logging/logger';
import { silentLogger } from '../logging/logger';
import type { Secret } from '../secrets/Secret';
import type { FetchFn } from './VppTransport';

/** Apple's documented content metadata lookup; /service/config also names it as `urls.contentMetadataLookup`. */
export const APPLE_PRODUCTION_METADATA_URL = 'https://uclient-api.itunes.apple.com/WebObjects/MZStorePlatform.woa/wa/lookup';

/** What a card shows for a book. The VPP API has no titles; Apple's store lookup does. */
export interface BookMetadata {
  adamId: string;
  title: string;
  author: string | undefined;
  coverUrl: string | undefined;
  /** False when the lookup failed and the title is the "Book <adamId>" stand-in. */
  fromStore: boolean;
}

/**
 * Which store to ask, from the organisation's client config. The same adamId can have a different
 * title, cover or availability in another storefront, so answers are cached per storefront.
 */
export interface BookStorefront {
  /** ClientConfig `defaultPlatform`: `volumestore` for education, `enterprisestore` (the default) otherwise. */
  platform?: string;
  /** ClientConfig `countryISO2ACode`; Apple wants it lowercased as `cc`. Defaults to `us`. */
  country?: string;
}

export interface BookMetadataClientOptions {
  /** Apple's lookup endpoint (or the sandbox's); the standard query parameters are added when missing. */
  lookupUrl: string;
  /** Sent as `Cookie: itvt=<token>`; the lookup works without it for most public books. */
  token?: Secret;
  fetch?: FetchFn;
  logger?: Logger;
  /** Ids per lookup request. */
  batchSize?: number;
  /** Books kept in memory; the least recently used are dropped first. */
  maxCacheEntries?: number;
  cacheTtlMs?: number;
  /** How long an id that Apple answered without (unknown, no access) is not asked for again. */
  unknownTtlMs?: number;
  /** Pause after a failed lookup before that storefront is asked again; doubles per consecutive failure. */
  failureBackoffMs?: { initial: number; max: number };
  timeoutMs?: number;
  /** Cover size asked for in Apple's artwork URL template, or the least size picked from a list of images. */
  coverSize?: { width: number; height: number };
  now?: () => number;
}

const DEFAULT_QUERY: Record<string, string> = {
  version: '2',
  p: 'mdm-lockup',
  caller: 'MDM',
  l: 'en',
};
const DEFAULT_PLATFORM = 'enterprisestore';
const DEFAULT_COUNTRY = 'us';

// Items are parsed one by one (itemSchema) so that one odd item cannot cost the titles of the rest.
const lookupSchema = z.object({ results: z.record(z.string(), z.unknown()) });

const imageSchema = z.object({ url: z.string().min(1), width: z.number().positive(), height: z.number().positive() });
type Image = z.infer<typeof imageSchema>;

// Apple's own examples disagree: an object with a `{w}x{h}bb.{f}` template, or an array of concrete sizes.
const artworkSchema = z.union([z.object({ url: z.string().min(1) }), z.array(z.unknown())]);

// Optional fields fall back to undefined rather than failing the item: a title without a cover still beats "Book <id>".
const itemSchema = z.object({
  id: z.union([z.string(), z.number()]).optional().catch(undefined),
  name: z.string().trim().min(1),
  artistName: z.string().optional().catch(undefined),
  artwork: artworkSchema.optional().catch(undefined),
});
type Item = z.infer<typeof itemSchema>;

interface ResolvedStorefront {
  platform: string;
  cc: string;
  key: string;
}

export function fallbackBook(adamId: string): BookMetadata {
  return { adamId, title: `Book ${adamId}`, author: undefined, coverUrl: undefined, fromStore: false };
}

/**
 * Looks up titles, authors and covers in batches and caches them. It never throws: a failed lookup
 * degrades to "Book <adamId>" so a sync or a card never fails for want of a title.
 */
export class BookMetadataClient {
  readonly #options: BookMetadataClientOptions;
  readonly #batchSize: number;
  readonly #maxCacheEntries: number;
  readonly #cacheTtlMs: number;
  readonly #unknownTtlMs: number;
  readonly #backoffMs: { initial: number; max: number };
  readonly #timeoutMs: number;
  readonly #coverSize: { width: number; height: number };
  /** A platform or cc written into the configured URL stands in for the built-in defaults. */
  readonly #urlStorefront: BookStorefront;
  readonly #fetch: FetchFn;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Map keeps insertion order; re-inserting on read makes it an LRU. Unknown ids are kept as their stand-in. */
  readonly #cache = new Map<string, { value: BookMetadata; expiresAt: number }>();
  /** Per storefront key: consecutive failed lookups and when the next one may be tried. */
  readonly #backoff = new Map<string, { failures: number; until: number }>();

  constructor(options: BookMetadataClientOptions) {
    this.#options = options;
    this.#batchSize = options.batchSize ?? 50;
    this.#maxCacheEntries = options.maxCacheEntries ?? 5000;
    this.#cacheTtlMs = options.cacheTtlMs ?? 24 * 3600_000;
    this.#unknownTtlMs = options.unknownTtlMs ?? 6 * 3600_000;
    this.#backoffMs = options.failureBackoffMs ?? { initial: 5 * 60_000, max: 6 * 3600_000 };
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#coverSize = options.coverSize ?? { width: 200, height: 300 };
    this.#urlStorefront = storefrontInUrl(options.lookupUrl);
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#logger = options.logger ?? silentLogger();
    this.#now = options.now ?? Date.now;
  }

  /**
   * Metadata for every id, from cache where possible; unknown or unreachable ones get the stand-in.
   * `token` overrides the client's own for this lookup: one client (and cache) serves every VPP token.
   * `storefront` is the token's organisation's store; without it the enterprise store in the US is asked.
   */
  async getBooks(adamIds: readonly string[], token?: Secret, storefront?: BookStorefront): Promise<Map<string, BookMetadata>> {
    const store = this.#resolve(storefront);
    const result = new Map<string, BookMetadata>();
    const missing: string[] = [];
    for (const adamId of new Set(adamIds)) {
      const cached = this.#fromCache(cacheKey(store, adamId));
      if (cached) result.set(adamId, cached);
      else missing.push(adamId);
    }
    for (let i = 0; i < missing.length; i += this.#batchSize) {
      const batch = missing.slice(i, i + this.#batchSize);
      const found = this.#backingOff(store) ? undefined : await this.#lookup(batch, token ?? this.#options.token, store);
      for (const adamId of batch) {
        const book = found?.get(adamId);
        if (book) this.#store(cacheKey(store, adamId), book, this.#cacheTtlMs);
        // Apple answered without this id: asking again on every sync would get the same answer.
        else if (found) this.#store(cacheKey(store, adamId), fallbackBook(adamId), this.#unknownTtlMs);
        result.set(adamId, book ?? fallbackBook(adamId));
      }
    }
    return result;
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  #resolve(storefront: BookStorefront | undefined): ResolvedStorefront {
    const platform = nonEmpty(storefront?.platform) ?? nonEmpty(this.#urlStorefront.platform) ?? DEFAULT_PLATFORM;
    const cc = (nonEmpty(storefront?.country) ?? nonEmpty(this.#urlStorefront.country) ?? DEFAULT_COUNTRY).toLowerCase();
    return { platform, cc, key: `${platform}/${cc}` };
  }

  #fromCache(key: string): BookMetadata | undefined {
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    this.#cache.delete(key);
    if (this.#now() > entry.expiresAt) return undefined;
    this.#cache.set(key, entry);
    return entry.value;
  }

  #store(key: string, book: BookMetadata, ttlMs: number): void {
    this.#cache.delete(key);
    this.#cache.set(key, { value: book, expiresAt: this.#now() + ttlMs });
    while (this.#cache.size > this.#maxCacheEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  #backingOff(store: ResolvedStorefront): boolean {
    return (this.#backoff.get(store.key)?.until ?? 0) > this.#now();
  }

  /** The books Apple returned, or undefined when the lookup itself failed (and a backoff has started). */
  async #lookup(adamIds: string[], token: Secret | undefined, store: ResolvedStorefront): Promise<Map<string, BookMetadata> | undefined> {
    let failure: { status?: number; reason?: string };
    try {
      const url = new URL(this.#options.lookupUrl);
      for (const [key, value] of Object.entries(DEFAULT_QUERY)) if (!url.searchParams.has(key)) url.searchParams.set(key, value);
      url.searchParams.set('platform', store.platform);
      url.searchParams.set('cc', store.cc);
      url.searchParams.set('id', adamIds.join(','));
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token) headers.cookie = `itvt=${token.reveal()}`;
      const response = await this.#fetch(url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) });
      if (!response.ok) {
        // Frees the connection; what an error page says is of no use here.
        await response.body?.cancel().catch(() => undefined);
        failure = { status: response.status };
      } else {
        const parsed = lookupSchema.safeParse(await response.json());
        if (parsed.success) {
          this.#backoff.delete(store.key);
          return this.#books(parsed.data.results, adamIds);
        }
        failure = { reason: 'unknown format' };
      }
    } catch (error) {
      // The name only: a message could quote the request.
      failure = { reason: error instanceof Error ? error.name : 'unknown' };
    }
    this.#startBackoff(store, adamIds.length, failure);
    return undefined;
  }

  #startBackoff(store: ResolvedStorefront, books: number, failure: { status?: number; reason?: string }): void {
    const now = this.#now();
    const previous = this.#backoff.get(store.key);
    // A concurrent lookup that failed first has already started this backoff; counting it twice would double it.
    if (previous && previous.until > now) return;
    const failures = (previous?.failures ?? 0) + 1;
    const retryInMs = Math.min(this.#backoffMs.max, this.#backoffMs.initial * 2 ** Math.min(failures - 1, 30));
    this.#backoff.set(store.key, { failures, until: now + retryInMs });
    this.#logger.warn(
      { ...failure, books, platform: store.platform, cc: store.cc, failures, retryInMs },
      'Book metadata lookup failed; showing ids instead of titles until the lookup is retried',
    );
  }

  #books(results: Record<string, unknown>, requested: readonly string[]): Map<string, BookMetadata> {
    const wanted = new Set(requested);
    const found = new Map<string, BookMetadata>();
    let skipped = 0;
    for (const [key, raw] of Object.entries(results)) {
      const parsed = itemSchema.safeParse(raw);
      if (!parsed.success) {
        skipped += 1;
        continue;
      }
      const item = parsed.data;
      const id = item.id === undefined ? undefined : String(item.id);
      // Results are keyed by the requested id; `id` is the fallback should a key ever differ in form.
      const adamId = wanted.has(key) ? key : id !== undefined && wanted.has(id) ? id : undefined;
      if (adamId === undefined) continue;
      found.set(adamId, { adamId, title: item.name, author: item.artistName, coverUrl: this.#coverUrl(item.artwork), fromStore: true });
    }
    if (skipped > 0) this.#logger.debug({ skipped }, 'Book metadata lookup returned items in an unknown format; those show ids instead of titles');
    return found;
  }

  #coverUrl(artwork: Item['artwork']): string | undefined {
    if (!artwork) return undefined;
    const { width, height } = this.#coverSize;
    if (!Array.isArray(artwork)) {
      // Apple's artwork URLs are templates: `{w}x{h}bb.{f}`.
      return artwork.url.replaceAll('{w}', String(width)).replaceAll('{h}', String(height)).replaceAll('{c}', 'bb').replaceAll('{f}', 'png');
    }
    const images = artwork.flatMap((entry): Image[] => {
      const image = imageSchema.safeParse(entry);
      return image.success ? [image.data] : [];
    });
    const byArea = images.sort((a, b) => a.width * a.height - b.width * b.height);
    // The smallest that is sharp at the cover size; failing that, the sharpest there is.
    return (byArea.find((image) => image.width >= width && image.height >= height) ?? byArea.at(-1))?.url;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function cacheKey(store: ResolvedStorefront, adamId: string): string {
  return `${store.key}/${adamId}`;
}

function storefrontInUrl(lookupUrl: string): BookStorefront {
  try {
    const url = new URL(lookupUrl);
    return { platform: url.searchParams.get('platform') ?? undefined, country: url.searchParams.get('cc') ?? undefined };
  } catch {
    // An unusable URL fails each lookup instead, where failures are already handled.
    return {};
  }
}
