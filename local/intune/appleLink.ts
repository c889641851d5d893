import { z } from 'zod';
import { parseAppleDate } from '../../services/apple/VppTokenFile';
import type { AppleBookSnapshot } from './IntuneState';

/**
 * The local Intune's side of Apple's Apps and Books API, over HTTP, the way an MDM uses it: the whole
 * .vpptoken content as Bearer, `client/config` to read and claim the location, `assets` page by page,
 * and the metadata lookup named in `service/config` for titles and covers. Written from Apple's pages
 * (test/fixtures/apple/NOTES.md), not from the bot's Apple client.
 */

/** Who Intune says it is when it claims a token (client-config-71glv: id, name and metadata are all required). */
export interface MdmIdentity {
  id: string;
  name: string;
  metadata: string;
}

const mdmInfoSchema = z.looseObject({ id: z.string().optional(), name: z.string().optional(), metadata: z.string().optional() });

const clientConfigSchema = z.looseObject({
  uId: z.string().optional(),
  locationName: z.string().optional(),
  countryISO2ACode: z.string().optional(),
  defaultPlatform: z.string().optional(),
  tokenExpirationDate: z.string().optional(),
  mdmInfo: mdmInfoSchema.optional(),
});
export type AppleClientConfig = z.infer<typeof clientConfigSchema>;

const appleErrorSchema = z.looseObject({ errorNumber: z.number(), errorMessage: z.string().optional() });

const assetsPageSchema = z.looseObject({
  assets: z
    .array(
      z.looseObject({
        adamId: z.string(),
        productType: z.string().optional(),
        assignedCount: z.number().int().nonnegative().default(0),
        totalCount: z.number().int().nonnegative().default(0),
      }),
    )
    .default([]),
  nextPageIndex: z.number().int().optional(),
});

const serviceConfigSchema = z.looseObject({ urls: z.looseObject({ contentMetadataLookup: z.url() }) });

const artworkSchema = z.union([
  z.looseObject({ url: z.string() }),
  z.array(z.looseObject({ url: z.string(), width: z.number().optional() })),
]);
const lookupSchema = z.looseObject({
  results: z.record(
    z.string(),
    z.looseObject({
      name: z.string().optional(),
      artistName: z.string().optional(),
      description: z.unknown().optional(),
      genreNames: z.array(z.string()).optional(),
      releaseDate: z.string().optional(),
      artwork: artworkSchema.optional(),
    }),
  ),
});
type LookupResult = z.infer<typeof lookupSchema>['results'][string];

/** Apple refused the token: the number says why (9621 expired, 9622 unknown, 9625 revoked …). */
export class AppleRefusal extends Error {
  constructor(
    readonly status: number,
    readonly errorNumber: number | undefined,
  ) {
    super(`Apple answered ${status}${errorNumber === undefined ? '' : ` (${errorNumber})`}`);
  }

  /** The token itself is no good (as opposed to Apple being unwell). */
  get tokenExpired(): boolean {
    return this.errorNumber === 9621;
  }

  get tokenInvalid(): boolean {
    return this.errorNumber === 9622 || this.errorNumber === 9625 || this.errorNumber === 9722 || this.errorNumber === 9601;
  }
}

/** Apple ids per lookup request; Apple's page does not give a limit, so stay modest. */
const LOOKUP_BATCH = 50;
/** Covers fetched at once. */
const COVER_CONCURRENCY = 6;

export class AppleLink {
  #metadataUrl: string | undefined;

  constructor(
    /** Apple's API base, e.g. http://127.0.0.1:PORT/mdm/v2 (what APPLE_VPP_BASE_URL names). */
    readonly baseUrl: string,
    private readonly options: { fetchCovers?: boolean } = {},
  ) {}

  async #call(bearer: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${bearer}`, accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new AppleRefusal(response.status, undefined);
    }
    const error = appleErrorSchema.safeParse(json);
    // Apple's v1 habit of an errorNumber in a 200 is still a refusal.
    if (!response.ok || error.success) throw new AppleRefusal(response.status, error.success ? error.data.errorNumber : undefined);
    return json;
  }

  async clientConfig(bearer: string): Promise<AppleClientConfig> {
    return clientConfigSchema.parse(await this.#call(bearer, '/client/config'));
  }

  /** Client Config (POST): becomes the token's MDM. */
  async claim(bearer: string, mdm: MdmIdentity): Promise<AppleClientConfig> {
    return clientConfigSchema.parse(await this.#call(bearer, '/client/config', { method: 'POST', body: { mdmInfo: mdm } }));
  }

  /** Every book the location owns, with titles, authors and covers from the metadata lookup. */
  async books(bearer: string, config: AppleClientConfig): Promise<AppleBookSnapshot[]> {
    const counts = new Map<string, { totalCount: number; assignedCount: number }>();
    for (let pageIndex: number | undefined = 0; pageIndex !== undefined; ) {
      const page = assetsPageSchema.parse(await this.#call(bearer, `/assets?productType=Book${pageIndex > 0 ? `&pageIndex=${pageIndex}` : ''}`));
      for (const asset of page.assets) {
        if (asset.productType !== undefined && asset.productType !== 'Book') continue;
        // One book bought at two prices (STDQ, PLUS) is one ebook in Intune: its licenses add up.
        const known = counts.get(asset.adamId) ?? { totalCount: 0, assignedCount: 0 };
        counts.set(asset.adamId, { totalCount: Math.min(2_147_483_647, known.totalCount + asset.totalCount), assignedCount: known.assignedCount + asset.assignedCount });
      }
      pageIndex = page.nextPageIndex;
    }
    const metadata = await this.#lookup([...counts.keys()], config);
    const snapshots: AppleBookSnapshot[] = [...counts].map(([adamId, count]) => {
      const found = metadata.get(adamId);
      return {
        adamId,
        title: found?.name ?? `Book ${adamId}`,
        author: found?.artistName ?? null,
        totalCount: count.totalCount,
        assignedCount: count.assignedCount,
        description: typeof found?.description === 'string' ? found.description : null,
        genres: found?.genreNames ?? [],
        releaseDate: found?.releaseDate ? (parseAppleDate(found.releaseDate) ?? null) : null,
      };
    });
    if (this.options.fetchCovers !== false) await this.#covers(snapshots, metadata);
    return snapshots;
  }

  async #metadataLookupUrl(): Promise<string> {
    if (this.#metadataUrl) return this.#metadataUrl;
    const response = await fetch(`${this.baseUrl}/service/config`, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new AppleRefusal(response.status, undefined);
    this.#metadataUrl = serviceConfigSchema.parse(await response.json()).urls.contentMetadataLookup;
    return this.#metadataUrl;
  }

  async #lookup(adamIds: readonly string[], config: AppleClientConfig): Promise<Map<string, LookupResult>> {
    const found = new Map<string, LookupResult>();
    if (adamIds.length === 0) return found;
    const lookupUrl = await this.#metadataLookupUrl();
    for (let i = 0; i < adamIds.length; i += LOOKUP_BATCH) {
      const url = new URL(lookupUrl);
      url.searchParams.set('version', '2');
      url.searchParams.set('p', 'mdm-lockup');
      url.searchParams.set('caller', 'MDM');
      url.searchParams.set('platform', config.defaultPlatform ?? 'volumestore');
      url.searchParams.set('cc', (config.countryISO2ACode ?? 'US').toLowerCase());
      url.searchParams.set('l', 'en');
      url.searchParams.set('id', adamIds.slice(i, i + LOOKUP_BATCH).join(','));
      const response = await fetch(url, { headers: { accept: 'application/json' } });
      // Titles are a nicety: a failed lookup leaves the books with their Apple ids as names.
      if (!response.ok) continue;
      const parsed = lookupSchema.safeParse(await response.json());
      if (!parsed.success) continue;
      for (const [id, result] of Object.entries(parsed.data.results)) found.set(id, result);
    }
    return found;
  }

  async #covers(snapshots: AppleBookSnapshot[], metadata: ReadonlyMap<string, LookupResult>): Promise<void> {
    const queue = snapshots.filter((s) => metadata.get(s.adamId)?.artwork !== undefined);
    const worker = async (): Promise<void> => {
      for (let snapshot = queue.shift(); snapshot; snapshot = queue.shift()) {
        const url = artworkUrl(metadata.get(snapshot.adamId)?.artwork);
        if (!url) continue;
        try {
          const response = await fetch(url);
          if (!response.ok) continue;
          const type = (response.headers.get('content-type') ?? 'image/png').split(';')[0] ?? 'image/png';
          snapshot.cover = { type, value: Buffer.from(await response.arrayBuffer()).toString('base64') };
        } catch {
          // A missing cover is no reason to fail a sync.
        }
      }
    };
    await Promise.all(Array.from({ length: COVER_CONCURRENCY }, worker));
  }
}

/** The largest image of the lookup's `artwork`: a `{w}x{h}bb.{f}` template (filled in) or an array of sizes. */
function artworkUrl(artwork: z.infer<typeof artworkSchema> | undefined): string | undefined {
  if (!artwork) return undefined;
  if (Array.isArray(artwork)) return [...artwork].sort((a, b) => (b.width ?? 0) - (a.width ?? 0))[0]?.url;
  return artwork.url.replace('{w}', '400').replace('{h}', '600').replace('{f}', 'png');
}
