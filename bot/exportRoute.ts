import type restify from 'restify';
import type { Logger } from '../services/logging/logger';
import { EXPORT_PATH, exportSecretSchema, type CsvFile } from './memberExports';

/** Serves a download link's file: undefined when the link is unknown or expired. */
export interface ExportSource {
  exportCsv(secret: string): Promise<CsvFile | undefined>;
}

export interface ExportRouteLimits {
  /** Requests per client per window. */
  perClient: number;
  /** Requests from everyone per window: each unknown link costs a query across partitions. */
  total: number;
  windowMs: number;
}

/** A person downloads a list a few times; nobody needs more than this. */
const DEFAULT_EXPORT_LIMITS: ExportRouteLimits = { perClient: 20, total: 120, windowMs: 60_000 };

/** Fixed windows per key: enough to stop guessing and hammering, with no timers to clean up. */
class WindowCounter {
  private readonly counts = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one request; false (and how long to wait) when the key is over its limit. */
  take(key: string, now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    if (this.counts.size > 10_000) this.prune(now);
    let entry = this.counts.get(key);
    if (!entry || now - entry.start >= this.windowMs) {
      entry = { start: now, count: 0 };
      this.counts.set(key, entry);
    }
    if (entry.count >= this.limit) return { ok: false, retryAfterMs: entry.start + this.windowMs - now };
    entry.count++;
    return { ok: true };
  }

  private prune(now: number): void {
    for (const [key, entry] of this.counts) if (now - entry.start >= this.windowMs) this.counts.delete(key);
  }
}

/**
 * The client as far as we can tell: App Service and most proxies put it first in X-Forwarded-For (App
 * Service as `ip:port`). Spoofable, which is why the total limit exists as well.
 */
function clientKey(req: restify.Request): string {
  const header = req.headers['x-forwarded-for'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  const forwarded = first?.replace(/^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/, '$1');
  return forwarded || req.socket.remoteAddress || 'unknown';
}

const NO_STORE = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex, nofollow',
};

/**
 * `GET /api/exports/<secret>`: a capability link to a CSV. The secret (256 random bits) is the only
 * credential, so it is never logged, it expires, unknown and expired links look alike (404), and requests
 * are rate limited. The route takes the whole rest of the path so that no malformed link reaches restify's
 * not-found handling, which logs URLs.
 */
export function registerExportRoute(server: restify.Server, source: ExportSource, logger: Logger, limits: ExportRouteLimits = DEFAULT_EXPORT_LIMITS): void {
  const perClient = new WindowCounter(limits.perClient, limits.windowMs);
  const total = new WindowCounter(limits.total, limits.windowMs);
  const plain = (res: restify.Response, status: number, text: string, headers: Record<string, string> = {}) =>
    res.sendRaw(status, text, { 'content-type': 'text/plain; charset=utf-8', ...NO_STORE, ...headers });

  server.get(`${EXPORT_PATH}/*`, async (req: restify.Request, res: restify.Response) => {
    const now = Date.now();
    const client = perClient.take(clientKey(req), now);
    const all = client.ok ? total.take('*', now) : client;
    if (!all.ok) {
      plain(res, 429, 'Too many requests. Try again in a minute.', { 'retry-after': String(Math.max(1, Math.ceil(all.retryAfterMs / 1000))) });
      return;
    }
    const raw = req.getPath().slice(EXPORT_PATH.length + 1);
    const secret = exportSecretSchema.safeParse(raw);
    let file: CsvFile | undefined;
    try {
      file = secret.success ? await source.exportCsv(secret.data) : undefined;
    } catch (err) {
      logger.warn({ err }, 'could not serve an export');
      plain(res, 503, 'The list cannot be read right now. Try again in a few minutes.');
      return;
    }
    if (!file) {
      plain(res, 404, 'This download link is unknown or has expired.');
      return;
    }
    res.sendRaw(200, Buffer.from(file.csv, 'utf8'), {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${file.fileName}"`,
      ...NO_STORE,
    });
  });
}
