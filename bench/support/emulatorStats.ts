import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Documents from '@vercel/cosmosdb-server/lib/account/documents';

/**
 * Write counts as the Cosmos emulator saw them, per container: documents written (created, replaced,
 * deleted; a transactional batch counts each of its operations) and write requests (a batch is one).
 * `GET /_bench/stats` answers them with this process's memory; `POST /_bench/stats` answers the same,
 * then starts counting from zero. Benchmark only: it wraps emulator internals, process-wide.
 */

type Counts = Record<string, number>;

interface Stats {
  documents: Counts;
  requests: Counts;
}

const WRITE_METHODS = new Set(['PUT', 'DELETE', 'PATCH']);

let stats: Stats = { documents: {}, requests: {} };

function add(counts: Counts, container: string): void {
  counts[container] = (counts[container] ?? 0) + 1;
}

/** The container a document request is about: /dbs/<db>/colls/<container>/docs[/<id>]. */
function containerOf(url: string | undefined): string | undefined {
  return /^\/dbs\/[^/]+\/colls\/([^/]+)\/docs(?:\/|$|\?)/.exec(url ?? '')?.[1];
}

function isWriteRequest(req: IncomingMessage): boolean {
  if (WRITE_METHODS.has(req.method ?? '')) return true;
  // POST to /docs is a create, upsert or batch unless it is a query or the SDK's query-plan request.
  return req.method === 'POST' && !req.headers['x-ms-documentdb-isquery'] && !req.headers['x-ms-cosmos-is-query-plan-request'];
}

function containerIdOf(documents: Documents): string {
  return String((documents._parent.read() as { id?: unknown } | undefined)?.id ?? '?');
}

/** Counts a document write once it succeeded; a replace is a delete and a create inside the emulator. */
function countDocumentWrites(): void {
  const proto = Documents.prototype;
  const { create, replace, delete: remove } = proto;
  let replacing = false;
  proto.create = function (this: Documents, data: Parameters<Documents['create']>[0]) {
    const result = create.call(this, data);
    if (!replacing) add(stats.documents, containerIdOf(this));
    return result;
  };
  proto.replace = function (this: Documents, data: Parameters<Documents['replace']>[0], original: Parameters<Documents['replace']>[1]) {
    replacing = true;
    try {
      const result = replace.call(this, data, original);
      add(stats.documents, containerIdOf(this));
      return result;
    } finally {
      replacing = false;
    }
  };
  proto.delete = function (this: Documents, idOrRid: string, partition: unknown) {
    remove.call(this, idOrRid, partition);
    if (!replacing) add(stats.documents, containerIdOf(this));
  };
}

export function countWrites(server: Server): void {
  countDocumentWrites();
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/_bench/stats') {
      const body = JSON.stringify({ ...stats, maxRssBytes: process.resourceUsage().maxRSS * 1024, memory: process.memoryUsage() });
      if (req.method === 'POST') stats = { documents: {}, requests: {} };
      res.setHeader('content-type', 'application/json');
      res.end(body);
      return;
    }
    const container = containerOf(req.url);
    if (container && isWriteRequest(req)) add(stats.requests, container);
    for (const handler of handlers) handler.call(server, req, res);
  });
}
