import { isIP } from 'node:net';
import { UserFacingError } from '../errors';
import { MAX_TOKEN_FILE_BYTES } from '../apple/VppTokenFile';

/** Where a token file came from in chat, already stripped of any Bot Framework types. */
export type TokenUpload =
  | { kind: 'text'; text: string }
  | { kind: 'url'; url: string; name?: string | undefined }
  | { kind: 'inline'; content: string; name?: string | undefined };

export interface TokenFileReaderOptions {
  /** Local mode serves files over http from loopback; production accepts https from public hosts only. */
  production: boolean;
  maxBytes?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const PRIVATE_V4 = [/^10\./, /^127\./, /^169\.254\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^0\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];

function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) return true;
  const family = isIP(host);
  if (family === 4) return PRIVATE_V4.some((r) => r.test(host));
  if (family === 6) return host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith('::ffff:');
  return false;
}

const tooBig = (max: number) =>
  new UserFacingError(`That file is larger than ${Math.round(max / 1024)} KB, so it cannot be a VPP token. Download the .vpptoken file again from Apple Business Manager or Apple School Manager.`, 'token_file_too_large');

/**
 * Fetches the content of an uploaded token file with the limits a chat upload deserves: a size cap, a
 * timeout, no redirects, and in production https only and never an internal address.
 */
export class TokenFileReader {
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: TokenFileReaderOptions) {
    this.maxBytes = options.maxBytes ?? MAX_TOKEN_FILE_BYTES;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetch = options.fetch ?? fetch;
  }

  async read(upload: TokenUpload): Promise<string> {
    switch (upload.kind) {
      case 'text':
        return this.capped(upload.text);
      case 'inline':
        return this.capped(upload.content);
      case 'url':
        return this.download(upload.url);
    }
  }

  private capped(text: string): string {
    if (Buffer.byteLength(text) > this.maxBytes) throw tooBig(this.maxBytes);
    return text;
  }

  private async download(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UserFacingError('I could not read that attachment (its link is not valid). Please attach the .vpptoken file again.', 'token_file_bad_url');
    }
    if (url.protocol === 'data:') return this.capped(decodeDataUrl(raw));
    const allowed = this.options.production ? url.protocol === 'https:' && !isPrivateHost(url.hostname) : url.protocol === 'https:' || url.protocol === 'http:';
    if (!allowed) {
      throw new UserFacingError('I only download token files from Teams file storage over https. Please attach the .vpptoken file again in this chat.', 'token_file_bad_url');
    }
    let response: Response;
    try {
      response = await this.fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new UserFacingError(
        timedOut ? 'Downloading the file took too long. Please try again.' : 'I could not download that file. Please attach it again.',
        'token_file_download_failed',
      );
    }
    if (response.status >= 300 && response.status < 400) {
      throw new UserFacingError('The file link redirected elsewhere, which a Teams upload never does. Please attach the .vpptoken file again.', 'token_file_redirect');
    }
    if (!response.ok) throw new UserFacingError(`I could not download that file (HTTP ${response.status}). Please attach it again.`, 'token_file_download_failed');
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > this.maxBytes) {
      await response.body?.cancel();
      throw tooBig(this.maxBytes);
    }
    return this.readCapped(response);
  }

  /** Reads at most maxBytes, stopping the transfer instead of buffering an oversized body. */
  private async readCapped(response: Response): Promise<string> {
    const reader = response.body?.getReader();
    if (!reader) return '';
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > this.maxBytes) {
        await reader.cancel();
        throw tooBig(this.maxBytes);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

function decodeDataUrl(raw: string): string {
  const comma = raw.indexOf(',');
  if (comma < 0) throw new UserFacingError('I could not read that attachment (its inline data is malformed). Please attach the .vpptoken file again.', 'token_file_bad_url');
  const meta = raw.slice(5, comma);
  const data = raw.slice(comma + 1);
  if (meta.endsWith(';base64')) return Buffer.from(data, 'base64').toString('utf8');
  try {
    return decodeURIComponent(data);
  } catch {
    throw new UserFacingError('I could not read that attachment (its inline data is malformed). Please attach the .vpptoken file again.', 'token_file_bad_url');
  }
}
