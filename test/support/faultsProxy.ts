import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  body: string;
}

/** What the proxy does with a request: pass it on, answer it itself, or never answer (the client hangs). */
export type ProxyDecision = 'forward' | 'hold' | { status: number; headers?: Record<string, string>; body?: string };

/**
 * A tiny HTTP forwarder the test owns, put between a bot process and a service (the Apple sandbox,
 * Cosmos) so the test sees every request the bot made and can fail or hold any of them, whatever
 * process the bot runs in. Survives the bot being killed, since it lives in the test process.
 */
export class FaultsProxy {
  readonly requests: ProxiedRequest[] = [];
  decide: (request: ProxiedRequest) => ProxyDecision = () => 'forward';
  private server: http.Server | undefined;
  private readonly held = new Set<http.ServerResponse>();
  private readonly heldWaiters: Array<(request: ProxiedRequest) => void> = [];
  url = '';

  constructor(private readonly target: string) {}

  async start(port = 0): Promise<this> {
    const targetUrl = new URL(this.target);
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(request);
        const decision = this.decide(request);
        if (decision === 'hold') {
          this.held.add(res);
          res.on('close', () => this.held.delete(res));
          for (const waiter of this.heldWaiters.splice(0)) waiter(request);
          return;
        }
        if (decision !== 'forward') {
          res.writeHead(decision.status, { 'content-type': 'application/json', ...decision.headers });
          res.end(decision.body ?? '{}');
          return;
        }
        const headers = { ...req.headers, host: targetUrl.host };
        const upstream = http.request({ host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        // A service that went away looks to the bot like a dropped connection, as it would without us.
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves when the next request is held (decide returned 'hold'). */
  nextHeld(timeoutMs = 30_000): Promise<ProxiedRequest> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no request was held within ${timeoutMs} ms`)), timeoutMs);
      this.heldWaiters.push((r) => (clearTimeout(timer), resolve(r)));
    });
  }

  /** Requests (after `from`) whose method and path (without query) match. */
  matching(method: string, pathname: string, from = 0): ProxiedRequest[] {
    return this.requests.slice(from).filter((r) => r.method === method && r.url.split('?')[0] === pathname);
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
