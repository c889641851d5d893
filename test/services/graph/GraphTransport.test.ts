import { strict as assert } from 'node:assert';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { z } from 'zod';
import { ConfigError } from '../../../services/errors';
import { GraphCallFailure, GraphTransport, type GraphTransportOptions } from '../../../services/graph/GraphTransport';
import { Secret } from '../../../services/secrets/Secret';

/** The shared Graph request layer, on a scripted fetch and an injected clock: nothing waits. */

type Scripted = Response | Error;

function scripted(...answers: Scripted[]) {
  const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push({ url: String(input), init });
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    if (answer === undefined) throw new Error('nothing scripted');
    if (answer instanceof Error) throw answer;
    return answer.clone();
  };
  return { fetchImpl, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('GraphTransport', () => {
  let clock: number;
  let slept: number[];
  const transport = (fetchImpl: typeof fetch, options: Partial<GraphTransportOptions> = {}) =>
    new GraphTransport({
      baseUrl: 'http://127.0.0.1:9',
      retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 30_000 },
      timeoutMs: 1_000,
      fetch: fetchImpl,
      sleep: async (ms) => {
        slept.push(ms);
        clock += ms;
      },
      now: () => clock,
      random: () => 0,
      ...options,
    });

  beforeEach(() => {
    clock = Date.parse('2026-01-01T00:00:00Z');
    slept = [];
  });

  it('retries a read after a dropped connection, but never sends a create twice', async () => {
    const read = scripted(new TypeError('fetch failed'), json(200, { ok: true }));
    assert.deepEqual(await transport(read.fetchImpl).json('/v1.0/x', z.object({ ok: z.boolean() })), { ok: true });
    assert.equal(read.calls.length, 2);

    const create = scripted(new TypeError('fetch failed'), json(201, {}));
    const err = await transport(create.fetchImpl)
      .text('/beta/x', { method: 'POST', body: {}, idempotent: false })
      .catch((e: unknown) => e);
    assert.ok(err instanceof GraphCallFailure && err.kind === 'network', String(err));
    assert.equal(create.calls.length, 1);
  });

  it('gives up after maxAttempts, honouring a Retry-After date, and reports the last status', async () => {
    const busy = scripted(json(503, { error: { code: 'serviceNotAvailable', message: 'busy' } }, { 'retry-after': new Date(clock + 3_000).toUTCString() }));
    const err = await transport(busy.fetchImpl)
      .text('/v1.0/x?secret=query')
      .catch((e: unknown) => e);
    assert.ok(err instanceof GraphCallFailure);
    assert.equal(err.kind, 'status');
    assert.equal(err.info.status, 503);
    assert.equal(err.info.attempts, 4);
    assert.equal(err.info.path, '/v1.0/x', 'no query string in what is logged');
    // The date is reached after the first wait: then the backoff decides.
    assert.deepEqual(slept, [3_000, 100, 200]);
  });

  it('stops retrying at the deadline, however many attempts remain', async () => {
    const busy = scripted(json(429, { error: { code: 'TooManyRequests' } }, { 'retry-after': '4' }));
    const err = await transport(busy.fetchImpl, { retry: { maxAttempts: Number.POSITIVE_INFINITY, deadlineMs: 10_000, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 30_000 } })
      .text('/v1.0/x')
      .catch((e: unknown) => e);
    assert.ok(err instanceof GraphCallFailure && err.info.status === 429);
    assert.deepEqual(slept, [4_000, 4_000]);
  });

  it("reads Graph's error envelope: code, request id (the header first), message scrubbed and cut for the log", async () => {
    const secret = new Secret('s3cr3t-token-value-0123456789abcdef');
    const long = `${secret.reveal()} ${'x'.repeat(2_000)}`;
    const refused = scripted(json(400, { error: { code: 'BadRequest', message: long, innerError: { 'request-id': 'inner-id' } } }, { 'request-id': 'header-id' }));
    const err = await transport(refused.fetchImpl)
      .text('/v1.0/x')
      .catch((e: unknown) => e);
    assert.ok(err instanceof GraphCallFailure);
    assert.equal(err.info.graphCode, 'BadRequest');
    assert.equal(err.info.requestId, 'header-id');
    assert.ok(!err.message.includes(secret.reveal()));
    assert.ok((err.info.graphMessage?.length ?? 0) <= 501);
    assert.equal(slept.length, 0, 'a 400 is not retried');
  });

  it('follows nextLinks on the base URL only, and names the path of an answer of the wrong shape', async () => {
    const pages = scripted(json(200, { value: [1, 2], '@odata.nextLink': 'http://127.0.0.1:9/v1.0/x?$skiptoken=2' }), json(200, { value: [3] }));
    const seen: number[][] = [];
    for await (const page of transport(pages.fetchImpl).pages('/v1.0/x', z.number())) seen.push(page);
    assert.deepEqual(seen, [[1, 2], [3]]);
    assert.equal(pages.calls[1]?.url, 'http://127.0.0.1:9/v1.0/x?$skiptoken=2');

    const away = scripted(json(200, { value: [], '@odata.nextLink': 'http://127.0.0.1:99/v1.0/x?$skiptoken=2' }));
    await assert.rejects(
      (async () => {
        for await (const _ of transport(away.fetchImpl).pages('/v1.0/x', z.number())) void _;
      })(),
      (err: unknown) => err instanceof GraphCallFailure && err.kind === 'response' && /outside/.test(err.message),
    );
    assert.equal(away.calls.length, 1);

    const odd = scripted(json(200, { value: ['one'] }));
    await assert.rejects(transport(odd.fetchImpl).json('/v1.0/x', z.object({ value: z.array(z.number()) })), (err: unknown) => err instanceof GraphCallFailure && /unexpected shape from \/v1\.0\/x at value\.0/.test(err.message));
  });

  it('sends the bearer token of its credential; a loopback Graph takes none, the real one refuses to start without', async () => {
    const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'access', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const withToken = scripted(json(204, undefined));
    assert.equal(await transport(withToken.fetchImpl, { credential }).text('/v1.0/x', { method: 'DELETE' }), '');
    assert.equal((withToken.calls[0]?.init?.headers as Record<string, string>)['authorization'], 'Bearer access');
    const local = scripted(json(200, {}));
    await transport(local.fetchImpl).text('/v1.0/x');
    assert.equal((local.calls[0]?.init?.headers as Record<string, string>)['authorization'], undefined);
    assert.throws(() => transport(local.fetchImpl, { baseUrl: 'https://graph.microsoft.com' }), ConfigError);
  });
});
