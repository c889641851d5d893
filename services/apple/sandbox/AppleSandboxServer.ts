import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AppleSandboxOptions {
  port?: number;
  host?: string;
}

export interface RunningAppleSandbox {
  /** Base URL of the v2 API, e.g. http://127.0.0.1:PORT/mdm/v2 — what APPLE_VPP_BASE_URL points at. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Placeholder local Apple sandbox: answers GET /mdm/v2/service/config only. The full stateful sandbox
 * (issue "Apple Apps and Books API client and a faithful local Apple sandbox") replaces this body and
 * keeps this function's signature.
 */
export async function startAppleSandbox(options: AppleSandboxOptions = {}): Promise<RunningAppleSandbox> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && url.pathname === '/mdm/v2/service/config') {
      res.end(
        JSON.stringify({
          limits: { maxAssets: 25, maxClientUserIds: 1000, maxUsers: 100, maxRequestPerSecond: 15 },
          urls: {},
          errorCodes: [],
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ errorNumber: 9602, errorMessage: 'Not implemented in the placeholder sandbox' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/mdm/v2`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
