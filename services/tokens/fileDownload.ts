import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where Teams keeps a file a user attaches in a personal chat: their OneDrive for Business, which is
 * SharePoint (`<tenant>-my.sharepoint.com`). Microsoft's own Agents SDK allows the same suffix for
 * attachment downloads. Operators can narrow it to their tenant with TOKEN_DOWNLOAD_HOSTS.
 */
export const DEFAULT_DOWNLOAD_HOSTS: readonly string[] = ['sharepoint.com'];

export type DownloadFailure =
  | 'invalid_url'
  | 'bad_url'
  | 'not_https'
  | 'host_not_allowed'
  | 'address_not_allowed'
  | 'unresolvable'
  | 'redirect_cross_site'
  | 'redirect_other_site'
  | 'too_many_redirects'
  | 'bad_redirect'
  | 'http_status'
  | 'too_large'
  | 'stalled'
  | 'network';

/** Why a download was refused or failed; the caller words it for its audience. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';

  constructor(
    readonly reason: DownloadFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Name resolution, injectable so tests can pretend an allowed name points anywhere. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * One request to a host whose addresses were all checked: the transport must connect to one of `addresses`
 * (in resolver order) and to nothing else.
 */
export interface PinnedTarget {
  url: URL;
  addresses: readonly PinnedAddress[];
}

export interface TransportResponse {
  status: number;
  location: string | undefined;
  contentLength: number | undefined;
  body: AsyncIterable<Uint8Array>;
  /** Stops the transfer and frees the connection. */
  discard(): void;
}
export type Transport = (target: PinnedTarget, signal: AbortSignal) => Promise<TransportResponse>;

export interface DownloadPolicy {
  /** Host suffixes: an entry allows itself and its subdomains. */
  allowedHosts: readonly string[];
  /**
   * Also allow this machine (127.0.0.1, ::1, localhost) over http or https. Only local mode sets it, for
   * the test file servers; production never does, so there a loopback address is refused like any other.
   */
  allowLoopback: boolean;
  maxBytes: number;
  maxRedirects: number;
  /** No byte for this long (waiting for the answer or in the body) ends the download as stalled. */
  stallMs: number;
  /** The whole download, redirects included, may take at most this long. */
  totalMs: number;
}

export interface DownloadDeps {
  resolve?: Resolver;
  transport?: Transport;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const LOOPBACK_NAME = 'localhost';

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true });

/**
 * Special-purpose IPv4 ranges (IANA registry): none of them is where SharePoint lives, and several are
 * where a cloud host keeps its secrets (169.254.169.254) or its neighbours (RFC 1918, CGNAT).
 */
const BLOCKED_V4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED_V4.addSubnet(network, prefix, 'ipv4');
}

/** Inside global unicast (2000::/3): protocol assignments incl. Teredo, documentation, 6to4 (tunnels hide the real IPv4 target). */
const BLOCKED_V6 = new BlockList();
for (const [network, prefix] of [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
] as const) {
  BLOCKED_V6.addSubnet(network, prefix, 'ipv6');
}

/** The 16 bytes of an IPv6 address (zone id dropped), or undefined when it is not one. */
function ipv6Bytes(raw: string): number[] | undefined {
  const address = raw.replace(/%.*$/, '');
  if (isIP(address) !== 6) return undefined;
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

const embeddedV4 = (bytes: number[]): string => bytes.slice(12).join('.');
const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const NAT64 = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
const startsWith = (bytes: number[], prefix: number[]): boolean => prefix.every((b, i) => bytes[i] === b);

/** True for an address on the public internet; false for loopback, private, link-local, multicast, reserved… */
export function isPublicAddress(address: string): boolean {
  if (isIP(address) === 4) return !BLOCKED_V4.check(address, 'ipv4');
  const bytes = ipv6Bytes(address);
  if (!bytes) return false;
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach an IPv4 host: judge that host.
  if (startsWith(bytes, V4_MAPPED) || startsWith(bytes, NAT64)) return isPublicAddress(embeddedV4(bytes));
  // Everything outside 2000::/3 (::1, ::, fc00::/7, fe80::/10, ff00::/8, …) is not global unicast.
  if ((bytes[0]! & 0xe0) !== 0x20) return false;
  return !BLOCKED_V6.check(address.replace(/%.*$/, ''), 'ipv6');
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  const bytes = ipv6Bytes(address);
  if (!bytes) return false;
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return true;
  return startsWith(bytes, V4_MAPPED) && bytes[12] === 127;
}

/** A host suffix as configured: lower case, without a leading `*.`/`.` or a trailing dot. */
export function normaliseHostSuffix(entry: string): string {
  return entry.trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');
}

function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
}

/** Which allow-list entry admits the URL's host ("loopback" for local mode's own machine), if any. */
function siteOf(url: URL, policy: DownloadPolicy): string | undefined {
  const host = bareHost(url);
  if (policy.allowLoopback && (host === LOOPBACK_NAME || (isIP(host) !== 0 && isLoopbackAddress(host)))) return 'loopback';
  // A literal address is nobody's file storage, whatever suffix list is configured.
  if (isIP(host) !== 0) return undefined;
  const site = policy.allowedHosts.map(normaliseHostSuffix).find((suffix) => suffix !== '' && (host === suffix || host.endsWith(`.${suffix}`)));
  if (site && (url.protocol !== 'https:' || (url.port !== '' && url.port !== '443'))) throw new DownloadError('not_https', 'file storage is reached over https on port 443 only');
  return site;
}

function checkUrl(url: URL): void {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DownloadError('bad_url', `unsupported scheme ${url.protocol}`);
  // Credentials in a link are never Teams', and `https://sharepoint.com@evil` tricks readers, not URL.
  if (url.username || url.password) throw new DownloadError('bad_url', 'credentials in the link');
}

/** Resolves (unless the host is a literal) and accepts only if every address may be contacted. */
async function pinAddress(url: URL, site: string, resolve: Resolver): Promise<PinnedTarget> {
  const host = bareHost(url);
  let addresses: readonly ResolvedAddress[];
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      throw new DownloadError('unresolvable', `cannot resolve the host: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (addresses.length === 0) throw new DownloadError('unresolvable', 'the host has no address');
  const allowed = (address: string) => (site === 'loopback' ? isLoopbackAddress(address) : isPublicAddress(address));
  // Any bad answer refuses: picking the good one would leave the choice to whoever controls the DNS.
  const bad = addresses.find((a) => !allowed(a.address));
  if (bad) throw new DownloadError('address_not_allowed', `the host resolves to ${bad.address}`);
  // All of them, not the first only: a host without an IPv6 route must still reach the IPv4 ones.
  return { url, addresses: addresses.map((a) => ({ address: a.address, family: isIP(a.address) === 6 ? 6 : 4 })) };
}

/**
 * Downloads a file from an allow-listed host: every hop's name is resolved once, each address checked,
 * and the connection made to exactly that address (no second lookup for a rebinding DNS to answer
 * differently). Same-site redirects are followed up to `maxRedirects`; the body is capped as it streams.
 */
export async function downloadFile(raw: string | URL, policy: DownloadPolicy, deps: DownloadDeps = {}): Promise<Buffer> {
  const resolve = deps.resolve ?? systemResolver;
  const transport = deps.transport ?? nodeTransport;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DownloadError('invalid_url', 'not a URL');
  }
  checkUrl(url);
  const site = siteOf(url, policy);
  if (!site) throw new DownloadError('host_not_allowed', 'the host is not on the download allow-list');

  const controller = new AbortController();
  const { signal } = controller;
  const stall = () => controller.abort(new DownloadError('stalled', 'no data arrived in time'));
  let stallTimer = setTimeout(stall, policy.stallMs);
  const progress = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(stall, policy.stallMs);
  };
  const totalTimer = setTimeout(() => controller.abort(new DownloadError('stalled', 'the download took too long')), policy.totalMs);
  const aborted = new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  aborted.catch(() => undefined);
  const orAbort = <T>(promise: Promise<T>): Promise<T> => {
    // Whichever loses the race may still reject later; that rejection has nobody left to tell.
    promise.catch(() => undefined);
    return Promise.race([promise, aborted]);
  };

  try {
    for (let redirects = 0; ; redirects++) {
      const target = await orAbort(pinAddress(url, site, resolve));
      const response = await orAbort(transport(target, signal));
      progress();
      if (REDIRECT_STATUSES.has(response.status)) {
        response.discard();
        url = nextHop(url, response.location, site, policy);
        if (redirects >= policy.maxRedirects) throw new DownloadError('too_many_redirects', `more than ${policy.maxRedirects} redirects`);
        continue;
      }
      if (response.status < 200 || response.status >= 300) {
        response.discard();
        throw new DownloadError('http_status', `HTTP ${response.status}`, response.status);
      }
      if (response.contentLength !== undefined && response.contentLength > policy.maxBytes) {
        response.discard();
        throw new DownloadError('too_large', 'declared length over the cap');
      }
      return await readCapped(response, policy.maxBytes, orAbort, progress);
    }
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    // A timer's abort surfaces from http as a plain AbortError; its reason says which.
    if (signal.aborted && signal.reason instanceof DownloadError) throw signal.reason;
    throw new DownloadError('network', `download failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(stallTimer);
    clearTimeout(totalTimer);
  }
}

/** Where a redirect leads, if it stays on the site the download started on. */
function nextHop(from: URL, location: string | undefined, site: string, policy: DownloadPolicy): URL {
  if (!location) throw new DownloadError('bad_redirect', 'a redirect without a location');
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new DownloadError('bad_redirect', 'a redirect to something that is not a URL');
  }
  if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new DownloadError('redirect_cross_site', `a redirect to ${next.protocol}`);
  checkUrl(next);
  if (from.protocol === 'https:' && next.protocol !== 'https:') throw new DownloadError('redirect_cross_site', 'a redirect from https to http');
  let nextSite: string | undefined;
  try {
    nextSite = siteOf(next, policy);
  } catch {
    nextSite = undefined;
  }
  if (nextSite === undefined) throw new DownloadError('redirect_cross_site', `a redirect from ${bareHost(from)} to ${bareHost(next)}, which is not on the download allow-list`);
  // Each allow-list entry is its own site; the default, sharepoint.com, already spans a tenant's hosts
  // (contoso.sharepoint.com, contoso-my.sharepoint.com), so only an operator's own narrower entries part them.
  if (nextSite !== site) {
    throw new DownloadError(
      'redirect_other_site',
      `a redirect from ${bareHost(from)} (allow-list entry "${site}") to ${bareHost(next)} (entry "${nextSite}"): redirects are followed within one entry only`,
    );
  }
  return next;
}

async function readCapped(response: TransportResponse, maxBytes: number, orAbort: <T>(p: Promise<T>) => Promise<T>, progress: () => void): Promise<Buffer> {
  const iterator = response.body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await orAbort(iterator.next());
      if (done) break;
      progress();
      total += value.byteLength;
      // Stop the transfer instead of buffering an oversized body.
      if (total > maxBytes) throw new DownloadError('too_large', 'body over the cap');
      chunks.push(value);
    }
  } catch (err) {
    response.discard();
    throw err;
  }
  return Buffer.concat(chunks);
}

/**
 * Node's http(s) client, connecting only to the checked addresses while TLS still verifies the host name.
 * Given them all (`all: true`), net's autoSelectFamily tries the next address when one can't be reached.
 */
export const nodeTransport: Transport = (target, signal) =>
  new Promise<TransportResponse>((resolve, reject) => {
    if (target.addresses.length === 0) {
      reject(new DownloadError('unresolvable', 'the host has no address'));
      return;
    }
    const lookup: LookupFunction = (_hostname, options, callback) => {
      const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
      const wanted = family === 4 || family === 6 ? target.addresses.filter((a) => a.family === family) : target.addresses;
      if (wanted.length === 0) {
        callback(Object.assign(new Error(`no checked IPv${String(family)} address`), { code: 'ENOTFOUND' }), options.all ? [] : '', 0);
        return;
      }
      if (options.all) callback(null, wanted.map((a) => ({ address: a.address, family: a.family })));
      else callback(null, wanted[0]!.address, wanted[0]!.family);
    };
    const client = target.url.protocol === 'https:' ? https : http;
    const request = client.request(
      target.url,
      // No agent: a pooled connection could belong to an address checked for another request.
      { method: 'GET', agent: false, lookup, signal, headers: { accept: '*/*' } },
      (res) => {
        const declared = res.headers['content-length'];
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          contentLength: declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined,
          body: res,
          discard: () => res.destroy(),
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
