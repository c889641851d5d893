import { z } from 'zod';
import type { Logger } from '../logging/logger';
import { silentLogger } from '../logging/logger';
import type { Secret } from '../secrets/Secret';
import type { FetchFn } from './VppTransport';

/** What a card shows for a book. The VPP API has no titles; Apple's store lookup does. */
export interface BookMetadata {
  adamId: string;
  title: string;
  author: string | undefined;
  coverUrl: string | undefined;
  /** False when the lookup failed and the title is the "Book <adamId>" stand-in. */
  fromStore: boolean;
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
  timeoutMs?: number;
  /** Cover size asked for in Apple's artwork URL template. */
  coverSize?: { width: number; height: number };
  now?: () => number;
}

const DEFAULT_QUERY: Record<string, string> = {
  version: '2',
  p: 'mdm-lockup',
  caller: 'MDM',
  platform: 'enterprisestore',
  cc: 'us',
  l: 'en',
};

const lookupSchema = z.object({
  results: z.record(
    z.string(),
    z.object({
      id: z.union([z.string(), z.number()]).optional(),
      name: z.string().optional(),
      artistName: z.string().optional(),
      artwork: z.object({ url: z.string() }).optional(),
    }),
  ),
});

export function fallbackBook(adamId: string): BookMetadata {
  return { adamId, title: `Book ${adamId}`, author: undefined, coverUrl: undefined, fromStore: false };
}

/**
 * Looks up titles, authors and covers in batches and caches them. It never throws: a failed lookup
 * degrades to "Book <adamId>" so a sync or a card never fails for want of a title.
 */
export class BookMetadataClient {
  readonly #options: Required<Pick<BookMetadataClientOptions, 'batchSize' | 'maxCacheEntries' | 'cacheTtlMs' | 'timeoutMs'>> & BookMetadataClientOptions;
  readonly #fetch: FetchFn;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Map keeps insertion order; re-inserting on read makes it an LRU. */
  readonly #cache = new Map<string, { value: BookMetadata; storedAt: number }>();

  constructor(options: BookMetadataClientOptions) {
    this.#options = { batchSize: 50, maxCacheEntries: 5000, cacheTtlMs: 24 * 3600_000, timeoutMs: 10_000, ...options };
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#logger = options.logger ?? silentLogger();
    this.#now = options.now ?? Date.now;
  }

  async getBook(adamId: string): Promise<BookMetadata> {
    return (await this.getBooks([adamId])).get(adamId) ?? fallbackBook(adamId);
  }

  /**
   * Metadata for every id, from cache where possible; unknown or unreachable ones get the stand-in.
   * `token` overrides the client's own for this lookup: one client (and cache) serves every VPP token.
   */
  async getBooks(adamIds: readonly string[], token?: Secret): Promise<Map<string, BookMetadata>> {
    const result = new Map<string, BookMetadata>();
    const missing: string[] = [];
    for (const adamId of new Set(adamIds)) {
      const cached = this.#fromCache(adamId);
      if (cached) result.set(adamId, cached);
      else missing.push(adamId);
    }
    for (let i = 0; i < missing.length; i += this.#options.batchSize) {
      const batch = missing.slice(i, i + this.#options.batchSize);
      const found = await this.#lookup(batch, token ?? this.#options.token);
      for (const adamId of batch) {
        const book = found.get(adamId);
        if (book) this.#store(book);
        result.set(adamId, book ?? fallbackBook(adamId));
      }
    }
    return result;
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  #fromCache(adamId: string): BookMetadata | undefined {
    const entry = this.#cache.get(adamId);
    if (!entry) return undefined;
    this.#cache.delete(adamId);
    if (this.#now() - entry.storedAt > this.#options.cacheTtlMs) return undefined;
    this.#cache.set(adamId, entry);
    return entry.value;
  }

  #store(book: BookMetadata): void {
    this.#cache.delete(book.adamId);
    this.#cache.set(book.adamId, { value: book, storedAt: this.#now() });
    while (this.#cache.size > this.#options.maxCacheEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  async #lookup(adamIds: string[], token: Secret | undefined): Promise<Map<string, BookMetadata>> {
    const found = new Map<string, BookMetadata>();
    try {
      const url = new URL(this.#options.lookupUrl);
      for (const [key, value] of Object.entries(DEFAULT_QUERY)) if (!url.searchParams.has(key)) url.searchParams.set(key, value);
      url.searchParams.set('id', adamIds.join(','));
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token) headers.cookie = `itvt=${token.reveal()}`;
      const response = await this.#fetch(url, { headers, signal: AbortSignal.timeout(this.#options.timeoutMs) });
      if (!response.ok) {
        this.#logger.warn({ status: response.status, books: adamIds.length }, 'Book metadata lookup failed; showing ids instead of titles');
        return found;
      }
      const parsed = lookupSchema.safeParse(await response.json());
      if (!parsed.success) {
        this.#logger.warn({ books: adamIds.length }, 'Book metadata lookup answered in an unknown format; showing ids instead of titles');
        return found;
      }
      for (const [key, item] of Object.entries(parsed.data.results)) {
        const adamId = item.id === undefined ? key : String(item.id);
        if (!item.name) continue;
        found.set(adamId, { adamId, title: item.name, author: item.artistName, coverUrl: this.#coverUrl(item.artwork?.url), fromStore: true });
      }
    } catch (error) {
      this.#logger.warn({ books: adamIds.length, reason: error instanceof Error ? error.name : 'unknown' }, 'Book metadata lookup unreachable; showing ids instead of titles');
    }
    return found;
  }

  /** Apple's artwork URLs are templates: `{w}x{h}bb.{f}`. */
  #coverUrl(template: string | undefined): string | undefined {
    if (!template) return undefined;
    const { width, height } = this.#options.coverSize ?? { width: 200, height: 300 };
    return template.replace('{w}', String(width)).replace('{h}', String(height)).replace('{c}', 'bb').replace('{f}', 'png');
  }
}
