import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FileRoute = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * A file server for token-file download links on 127.0.0.1: answers each path from `routes` (404
 * otherwise) and records every request path, so "refused before any request" is checkable.
 */
export class FileServer {
  private server: http.Server | undefined;
  routes = new Map<string, FileRoute>();
  requests: string[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests.push(req.url ?? '');
      const route = this.routes.get(req.url ?? '');
      if (route) return route(req, res);
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
