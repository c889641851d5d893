import { strict as assert } from 'node:assert';
import type { CloudAdapter } from 'botbuilder';
import sinon from 'sinon';
import { createBotServer, type BotServer } from '../../bot/server';
import type { VppBooksBot } from '../../bot/VppBooksBot';
import { DownstreamHealth } from '../../services/health/DownstreamHealth';
import { silentLogger } from '../../services/logging/logger';

/** A downstream check that counts its calls and answers what `up` says, after `delayMs`. */
function countingCheck(delayMs = 20): { calls: number; up: boolean; check: () => Promise<boolean> } {
  const probe = {
    calls: 0,
    up: true,
    check: async (): Promise<boolean> => {
      probe.calls += 1;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return probe.up;
    },
  };
  return probe;
}

describe('health probes', () => {
  let clock: sinon.SinonFakeTimers;
  let server: BotServer;
  let url: string;
  let store: ReturnType<typeof countingCheck>;
  let apple: ReturnType<typeof countingCheck>;

  beforeEach(async () => {
    // Only Date is faked: the HTTP server and the checks' own delays run on real timers.
    clock = sinon.useFakeTimers({ now: new Date('2026-03-01T08:00:00Z'), toFake: ['Date'] });
    store = countingCheck();
    apple = countingCheck();
    server = createBotServer({
      // The probes never reach the adapter or the bot.
      adapter: undefined as unknown as CloudAdapter,
      bot: undefined as unknown as VppBooksBot,
      logger: silentLogger(),
      readiness: new DownstreamHealth({ store: store.check, vpp: apple.check }),
    });
    url = (await server.listen(0, '127.0.0.1')).url;
  });

  afterEach(async () => {
    await server.close();
    clock.restore();
  });

  const probe = async (path: string): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${url}${path}`);
    return { status: response.status, body: await response.json() };
  };

  it('/healthz says only "ok" and calls neither Cosmos nor Apple, however often it is asked', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => probe('/healthz')));
    for (const answer of answers) assert.deepEqual(answer, { status: 200, body: { status: 'ok' } });
    assert.deepEqual([store.calls, apple.calls], [0, 0]);
  });

  it('/readyz: 50 concurrent and 50 sequential probes cost one Cosmos and one Apple call; 30 s later, one more each', async () => {
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => probe('/readyz')));
    for (const answer of concurrent) assert.deepEqual(answer, { status: 200, body: { status: 'ready', store: 'up', vpp: 'up' } });
    assert.deepEqual([store.calls, apple.calls], [1, 1], 'concurrent probes shared one check');

    for (let i = 0; i < 50; i++) {
      assert.equal((await probe('/readyz')).status, 200);
      clock.tick(500);
    }
    assert.deepEqual([store.calls, apple.calls], [1, 1], '25 s of probes every half second: still the first check');

    clock.tick(4_999);
    await probe('/readyz');
    assert.deepEqual([store.calls, apple.calls], [1, 1], 'just under 30 s');
    clock.tick(1);
    await Promise.all(Array.from({ length: 50 }, () => probe('/readyz')));
    assert.deepEqual([store.calls, apple.calls], [2, 2], 'at 30 s, one new check for all 50 probes');
  });

  it('/readyz: store down is 503 "unavailable"; Apple down is 200 "degraded"; nothing else is said', async () => {
    store.up = false;
    assert.deepEqual(await probe('/readyz'), { status: 503, body: { status: 'unavailable', store: 'down', vpp: 'up' } });
    clock.tick(30_000);
    store.up = true;
    apple.up = false;
    assert.deepEqual(await probe('/readyz'), { status: 200, body: { status: 'degraded', store: 'up', vpp: 'down' } });
  });
});

describe('DownstreamHealth', () => {
  it('counts a check that hangs or throws as down, without holding the probe', async () => {
    const health = new DownstreamHealth(
      {
        store: () => new Promise<boolean>(() => undefined),
        vpp: async () => {
          throw new Error('ECONNREFUSED');
        },
      },
      { checkTimeoutMs: 30 },
    );
    assert.deepEqual(await health.read(), { store: false, vpp: false });
  });

  it('shares one check among reads that arrive while it runs', async () => {
    let calls = 0;
    let release: (up: boolean) => void = () => undefined;
    const gate = new Promise<boolean>((resolve) => (release = resolve));
    const health = new DownstreamHealth({
      store: () => {
        calls += 1;
        return gate;
      },
      vpp: async () => true,
    });
    const reads = Array.from({ length: 50 }, () => health.read());
    assert.equal(calls, 1);
    release(true);
    for (const state of await Promise.all(reads)) assert.deepEqual(state, { store: true, vpp: true });
    assert.equal(calls, 1);
  });
});
