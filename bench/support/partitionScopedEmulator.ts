import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Documents from '@vercel/cosmosdb-server/lib/account/documents';

/**
 * Gives the in-memory Cosmos emulator the one thing Azure has that a sync of hundreds of thousands of
 * documents cannot do without: a query sent with a partition key reads that partition only.
 *
 * The emulator answers every query page by copying the whole container into an array one element at a
 * time (`[...acc, doc]` in @zeit/cosmosdb-query's generated code: quadratic in the container size), then
 * filtering. With 512,000 VPP users in one container a single query takes minutes; Azure reads one
 * partition through its index. Here each container keeps a map per partition value, and a query whose
 * request carries the `x-ms-documentdb-partitionkey` header (the SDK sends it for single-partition
 * queries) runs over that partition's documents only. Results are the same as without the index as long
 * as the query filters on its partition (DocumentStore writes that filter into every single-partition
 * query), only the work is proportional to the partition instead of the square of the container.
 * The query-plan request the SDK sends beside each query is answered without reading (see partitionOf).
 *
 * Benchmark only: it patches emulator internals (pinned @vercel/cosmosdb-server 1.x), process-wide.
 */

type DocumentsInternals = Documents & { _byPartition?: Map<unknown, Map<string, unknown>> };
type DocumentBody = Parameters<Documents['_set']>[0];

const requestPartition = new AsyncLocalStorage<unknown>();
let patched = false;

function partitionsOf(docs: DocumentsInternals): Map<unknown, Map<string, unknown>> {
  docs._byPartition ??= new Map();
  return docs._byPartition;
}

function patchDocuments(): void {
  if (patched) return;
  patched = true;
  const proto = Documents.prototype as DocumentsInternals;
  const { _set: set, delete: remove, query } = Documents.prototype;

  proto._set = function (this: DocumentsInternals, data: DocumentBody) {
    const result = set.call(this, data);
    const partition = this._getPartition(data);
    const docs = partitionsOf(this);
    let members = docs.get(partition);
    if (!members) docs.set(partition, (members = new Map()));
    const rid = String(data._rid);
    members.set(rid, this._data.get(rid));
    return result;
  };

  proto.delete = function (this: DocumentsInternals, idOrRid: string, partition: unknown) {
    const data = this._item('/id', idOrRid, partition).read() as { _rid?: string } | undefined;
    remove.call(this, idOrRid, partition);
    if (data?._rid) partitionsOf(this).get(this._getPartition(data))?.delete(data._rid);
  };

  proto.query = function (this: DocumentsInternals, params: Parameters<Documents['query']>[0], options: Parameters<Documents['query']>[1]) {
    const partition = requestPartition.getStore();
    if (partition === undefined) return query.call(this, params, options);
    // The emulator's query reads `this._data`; for this synchronous call it sees one partition.
    const all = this._data;
    this._data = (partitionsOf(this).get(partition) ?? new Map()) as typeof all;
    try {
      return query.call(this, params, options);
    } finally {
      this._data = all;
    }
  };
}

/** Matches no partition: a query scoped to it reads nothing. */
const NO_DOCUMENTS = Symbol('no documents');

/** The partition key value a request is scoped to, if it names one (`["tok-1"]` → `tok-1`). */
function partitionOf(req: IncomingMessage): unknown {
  // The SDK asks the gateway for a query plan beside every query and uses it only if the query itself
  // is refused; Azure plans without reading data, the emulator runs the whole query over the whole
  // container (and the SDK discards the answer). Answer it from no documents instead.
  if (req.headers['x-ms-cosmos-is-query-plan-request']) return NO_DOCUMENTS;
  const header = req.headers['x-ms-documentdb-partitionkey'];
  const raw = Array.isArray(header) ? header[0] : header;
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? (parsed as unknown[])[0] : parsed;
  } catch {
    return undefined;
  }
}

/** Installs the per-partition index and routes each request's partition key header to the queries it runs. */
export function scopeQueriesByPartition(server: Server): void {
  patchDocuments();
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const partition = partitionOf(req);
    for (const handler of handlers) {
      if (partition === undefined) handler.call(server, req, res);
      else requestPartition.run(partition, () => handler.call(server, req, res));
    }
  });
}
