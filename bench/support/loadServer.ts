import http from 'node:http';
import { LOAD_ADMIN_IDS } from './loadAdmins';
import { announceAndServe } from '../../local/announceAndServe';
import { spawnServer, stopServer } from './childServer';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import restify from 'restify';
import { ActivityHandler, CloudAdapter, ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import { startApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { silentLogger } from '../../services/logging/logger';

/**
 * One bot under load, in its own process so its CPU and memory are measured apart from the load
 * generator: `vpp` is the real application in local mode (Apple sandbox and directory embedded; Cosmos in
 * a process of its own, as Azure Cosmos DB is elsewhere in production), `echo` is
 * the plainest botbuilder bot on the same restify setup. Both reply to a connector sink in this process,
 * so the reply path costs the same. Prints one JSON line `{ url, sinkUrl }` when ready.
 * The botbuilder echo bot lives here, outside bot/, on purpose: it is the baseline, not product code.
 */

const MAX_BODY_BYTES = 1024 * 1024;

async function startSink(): Promise<{ url: string; close: () => Promise<void> }> {
  let replies = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/bench/stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ replies, memory: process.memoryUsage() }));
      return;
    }
    req.resume();
    req.on('end', () => {
      replies += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: `reply-${replies}` }));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

async function startEcho(): Promise<{ url: string; close: () => Promise<void> }> {
  const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
  const bot = new ActivityHandler();
  bot.onMessage(async (context, next) => {
    await context.sendActivity(`Echo: ${context.activity.text ?? ''}`);
    await next();
  });
  const server = restify.createServer({ name: 'echo-bot', handleUncaughtExceptions: false });
  server.use(restify.plugins.bodyParser({ maxBodySize: MAX_BODY_BYTES, mapParams: false }));
  server.post('/api/messages', async (req: restify.Request, res: restify.Response) => {
    await adapter.process(req, res, (context) => bot.run(context));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const http = server.server as http.Server;
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (http.closeAllConnections(), http.close(() => resolve()))),
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const sink = await startSink();
  let url: string;
  let close: () => Promise<void>;
  if (mode === 'echo') {
    ({ url, close } = await startEcho());
  } else if (mode === 'vpp') {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-load-'));
    // Azure Cosmos DB is another machine in production; here it is at least another process.
    // argv[3]: the cores the load generator uses; the database shares those, not the bot's core.
    const cosmos = await spawnServer<{ endpoint: string }>(path.join(__dirname, 'cosmosServer.ts'), [], { cpus: process.argv[3] });
    const app = await startApplication(
      loadConfig({
        PORT: '0',
        LOCAL_DATA_DIR: dataDir,
        PLAYGROUND_ENABLED: 'false',
        LOG_LEVEL: 'silent',
        BOT_ADMIN_USER_IDS: LOAD_ADMIN_IDS.join(','),
        // Each load admin sends ~10 turns a second: limits high enough never to trip, so the limiter's cost is measured, not its refusals.
        RATE_LIMIT_USER_PER_MINUTE: '1000000',
        RATE_LIMIT_CONVERSATION_PER_MINUTE: '1000000',
        COSMOS_ENDPOINT: cosmos.info.endpoint,
      }),
      silentLogger(),
    );
    url = app.url;
    close = async () => {
      await app.stop();
      await stopServer(cosmos.child);
      await rm(dataDir, { recursive: true, force: true });
    };
  } else {
    throw new Error(`usage: loadServer.ts echo|vpp (got ${String(mode)})`);
  }
  announceAndServe({ url, sinkUrl: sink.url }, async () => {
    await close();
    await sink.close();
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
