import restify from 'restify';
import type { CloudAdapter } from 'botbuilder';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../services/logging/logger';
import type { VppBooksBot } from './VppBooksBot';
import { describeInvalidActivity } from './inboundActivity';
import { registerExportRoute, type ExportRouteLimits, type ExportSource } from './exportRoute';
import { redactExportPath } from './memberExports';
import type { DownstreamState } from '../services/health/DownstreamHealth';

/**
 * What `/readyz` says: whether the bot can serve (its store answers) and which dependency is down, and
 * nothing else: no version, mode, endpoints or errors, since the probe is unauthenticated. `vpp` is whoever
 * holds the tokens, Apple or (in Intune mode) Microsoft Graph, under one name so the answer does not tell the mode.
 */
interface ReadinessReport {
  status: 'ready' | 'degraded' | 'unavailable';
  store: 'up' | 'down';
  vpp: 'up' | 'down';
}

export interface BotServerDependencies {
  adapter: CloudAdapter;
  bot: VppBooksBot;
  logger: Logger;
  /** Downstream health for `/readyz`, cached: probes never reach Cosmos, Apple or Graph more than once per period. */
  readiness: { read(): Promise<DownstreamState> };
  /** Download links (`GET /api/exports/<secret>`): the CSV of members who could not be reached. */
  exports?: ExportSource | undefined;
  exportLimits?: ExportRouteLimits | undefined;
}

export interface BotServer {
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

/** Body size cap for /api/messages: Teams activities are small; anything bigger is not from Teams. */
const MAX_BODY_BYTES = 1024 * 1024;

export function createBotServer(deps: BotServerDependencies): BotServer {
  const server = restify.createServer({ name: 'vpp-books-bot', handleUncaughtExceptions: false });
  server.use(restify.plugins.bodyParser({ maxBodySize: MAX_BODY_BYTES, mapParams: false }));

  server.post('/api/messages', async (req: restify.Request, res: restify.Response) => {
    const invalid = describeInvalidActivity(req.body);
    if (invalid) {
      res.status(400);
      res.json({ error: invalid });
      return;
    }
    await deps.adapter.process(req, res, (context) => deps.bot.run(context));
  });

  // The Playground probes the endpoint with HEAD before connecting.
  server.head('/api/messages', async (_req: restify.Request, res: restify.Response) => {
    res.send(200);
  });

  // Liveness: the process serves HTTP. Touches nothing and says nothing, so any number of probes is free.
  server.get('/healthz', async (_req: restify.Request, res: restify.Response) => {
    res.header('cache-control', 'no-store');
    res.status(200);
    res.json({ status: 'ok' });
  });

  // Readiness: only the store decides (Apple or Graph being down must not take the bot out of rotation: chat still works).
  server.get('/readyz', async (_req: restify.Request, res: restify.Response) => {
    const { store, vpp } = await deps.readiness.read();
    const report: ReadinessReport = { status: !store ? 'unavailable' : vpp ? 'ready' : 'degraded', store: store ? 'up' : 'down', vpp: vpp ? 'up' : 'down' };
    res.header('cache-control', 'no-store');
    res.status(store ? 200 : 503);
    res.json(report);
  });

  if (deps.exports) registerExportRoute(server, deps.exports, deps.logger, deps.exportLimits);

  server.on('restifyError', (req: restify.Request, _res: restify.Response, err: Error, callback: () => void) => {
    deps.logger.warn({ err: { name: err.name, message: err.message }, method: req.method, url: redactExportPath(req.url) }, 'request rejected');
    callback();
  });

  const http = server.server as Server;
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        server.listen(port, host, () => {
          const actual = (http.address() as AddressInfo).port;
          resolve({ port: actual, url: `http://${host}:${actual}` });
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!http.listening) return resolve();
        http.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
        http.closeIdleConnections();
      }),
  };
}
