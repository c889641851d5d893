import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isGraphReachable } from '../../../services/graph/reachability';

/** A server that answers every request with `status` and Graph's error shape; answers its base URL and the paths asked. */
async function answering(status: number): Promise<{ baseUrl: string; paths: string[]; close: () => Promise<void> }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: status === 401 ? 'InvalidAuthenticationToken' : 'ServiceUnavailable', message: 'Access token is empty.' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, paths, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('isGraphReachable (the Intune mode readiness check)', () => {
  it("counts Graph's 401 to a request without a token as reachable, asking the service root only", async () => {
    const graph = await answering(401);
    try {
      assert.equal(await isGraphReachable(graph.baseUrl), true);
      assert.deepEqual(graph.paths, ['GET /v1.0/'], 'one small request, not $metadata');
    } finally {
      await graph.close();
    }
  });

  it('counts a 503 and a closed port as down', async () => {
    const graph = await answering(503);
    const { baseUrl } = graph;
    try {
      assert.equal(await isGraphReachable(baseUrl), false);
    } finally {
      await graph.close();
    }
    assert.equal(await isGraphReachable(baseUrl), false, 'nothing listens there any more');
  });
});
