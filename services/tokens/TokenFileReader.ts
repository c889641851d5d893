import { UserFacingError } from '../errors';
import { APPLE_PORTALS } from '../common/appleTerms';
import { formatCount } from '../common/format';
import { MAX_TOKEN_FILE_BYTES } from '../apple/VppTokenFile';
import { DEFAULT_DOWNLOAD_HOSTS, DownloadError, downloadFile, type DownloadFailure, type Resolver, type Transport } from './fileDownload';

/** Where a token file came from in chat, already stripped of any Bot Framework types. */
export type TokenUpload =
  | { kind: 'text'; text: string }
  | { kind: 'url'; url: string; name?: string | undefined }
  | { kind: 'inline'; content: string; name?: string | undefined };

export interface TokenFileReaderOptions {
  /** Production downloads only over https from `allowedHosts` at public addresses. */
  production: boolean;
  /** Host suffixes Teams serves files from (TOKEN_DOWNLOAD_HOSTS); default SharePoint. */
  allowedHosts?: readonly string[];
  /**
   * Local mode also downloads from this machine (127.0.0.1, ::1, localhost), over http too: the tests'
   * file servers live there. Defaults to `!production`; production refuses to turn it on.
   */
  allowLoopback?: boolean;
  maxBytes?: number;
  /** No byte for this long ends the download as stalled. */
  stallMs?: number;
  /** The whole download, redirects included. */
  timeoutMs?: number;
  /** SharePoint's download links may redirect within SharePoint; a few hops are enough. */
  maxRedirects?: number;
  resolve?: Resolver;
  transport?: Transport;
}

const ATTACH_AGAIN = 'Please attach the .vpptoken file again in this chat.';

export const DOWNLOAD_STALLED_MESSAGE = 'The download of the token file stalled; try uploading it again.';

const tooBig = (max: number) =>
  new UserFacingError(`That file is larger than ${formatCount(Math.round(max / 1024))} KB, so it cannot be a VPP token. Download the .vpptoken file again from ${APPLE_PORTALS}.`, 'token_file_too_large');

/** What the admin reads for each way a download can fail; none of them echoes the link. */
function chatMessage(err: DownloadError, maxBytes: number): UserFacingError {
  const byReason: Record<DownloadFailure, () => UserFacingError> = {
    invalid_url: () => new UserFacingError(`I could not read that attachment (its link is not valid). ${ATTACH_AGAIN}`, 'token_file_bad_url'),
    bad_url: () => new UserFacingError(`I only download token files from Teams file storage over https. ${ATTACH_AGAIN}`, 'token_file_bad_url'),
    not_https: () => new UserFacingError(`I only download token files from Teams file storage over https. ${ATTACH_AGAIN}`, 'token_file_bad_url'),
    host_not_allowed: () =>
      new UserFacingError(`That attachment link does not point to Teams file storage (SharePoint or OneDrive), so I did not download it. ${ATTACH_AGAIN}`, 'token_file_host_refused'),
    address_not_allowed: () =>
      new UserFacingError(`That attachment link leads to a private or local network address, so I did not download it. ${ATTACH_AGAIN}`, 'token_file_address_refused'),
    unresolvable: () => new UserFacingError(`I could not find the server of that attachment link. ${ATTACH_AGAIN}`, 'token_file_download_failed'),
    redirect_cross_site: () =>
      new UserFacingError(`The file link redirected away from Teams file storage, so I stopped. ${ATTACH_AGAIN}`, 'token_file_redirect'),
    redirect_other_site: () =>
      new UserFacingError(
        `The file link redirected to a different file storage site than the one it started on, so I stopped: I follow redirects only within one TOKEN_DOWNLOAD_HOSTS entry. ${ATTACH_AGAIN}`,
        'token_file_redirect',
      ),
    too_many_redirects: () => new UserFacingError(`The file link redirected too many times, so I stopped. ${ATTACH_AGAIN}`, 'token_file_redirect'),
    bad_redirect: () => new UserFacingError(`The file link redirected to something I cannot follow. ${ATTACH_AGAIN}`, 'token_file_redirect'),
    http_status: () => new UserFacingError(`I could not download that file (HTTP ${err.status ?? '?'}). ${ATTACH_AGAIN}`, 'token_file_download_failed'),
    too_large: () => tooBig(maxBytes),
    stalled: () => new UserFacingError(DOWNLOAD_STALLED_MESSAGE, 'token_file_download_stalled'),
    network: () => new UserFacingError(`I could not download that file. ${ATTACH_AGAIN}`, 'token_file_download_failed'),
  };
  return byReason[err.reason]();
}

/**
 * Fetches the content of an uploaded token file with the limits a chat upload deserves: only from the
 * hosts Teams keeps files on, never to an internal address (checked after name resolution, and the
 * connection pinned to the checked address), few same-site redirects, a size cap and a stall timeout.
 */
export class TokenFileReader {
  private readonly maxBytes: number;

  constructor(private readonly options: TokenFileReaderOptions) {
    if (options.production && options.allowLoopback) throw new Error('allowLoopback is for local mode only');
    this.maxBytes = options.maxBytes ?? MAX_TOKEN_FILE_BYTES;
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
    // A data: link never leaves the process, so no host rule applies; only the cap does.
    if (/^data:/i.test(raw.trim())) return this.capped(decodeDataUrl(raw.trim()));
    const { production } = this.options;
    try {
      const body = await downloadFile(
        raw,
        {
          allowedHosts: this.options.allowedHosts ?? DEFAULT_DOWNLOAD_HOSTS,
          allowLoopback: !production && (this.options.allowLoopback ?? true),
          maxBytes: this.maxBytes,
          maxRedirects: this.options.maxRedirects ?? 3,
          stallMs: this.options.stallMs ?? 10_000,
          totalMs: this.options.timeoutMs ?? 30_000,
        },
        { resolve: this.options.resolve, transport: this.options.transport },
      );
      return body.toString('utf8');
    } catch (err) {
      if (err instanceof DownloadError) throw chatMessage(err, this.maxBytes);
      throw err;
    }
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
