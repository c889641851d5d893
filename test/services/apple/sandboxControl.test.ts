import { strict as assert } from 'node:assert';
import { Secret } from '../../../services/secrets/Secret';
import { AppleBooksClient } from '../../../services/apple/AppleBooksClient';
import { VppError } from '../../../services/apple/VppError';
import { startAppleSandbox, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { NO_RATE_LIMIT } from './helpers';

describe('sandbox control API', () => {
  let sandbox: RunningAppleSandbox;
  before(async () => {
    sandbox = await startAppleSandbox({ seedDemoData: false, pageSize: 50, eventDelayMs: 0 });
  });
  after(async () => {
    await sandbox.close();
  });
  const control = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${sandbox.origin}/_sandbox/${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.equal(response.status, 200);
    return response.json();
  };

  it('seeds an organisation, injects faults and reports stats over HTTP', async () => {
    const { token } = (await control('POST', 'seed', { orgName: 'Seeded', books: 3, users: 20, assignments: 30 })) as { token: string };
    const client = new AppleBooksClient({ baseUrl: sandbox.baseUrl, token: new Secret(token), rateLimit: NO_RATE_LIMIT, retry: { maxAttempts: 1 } });
    assert.equal((await client.listAssignments()).items.length, 30);
    assert.equal((await client.listUsers()).items.length, 20);
    await control('POST', 'faults', { rules: [{ path: '/assets', fault: { kind: 'status', status: 400, errorNumber: 9602 } }] });
    await assert.rejects(client.listAssets(), (e: unknown) => e instanceof VppError && e.errorNumber === 9602);
    const stats = (await control('GET', 'stats')) as { requests: number; byPath: Record<string, number> };
    assert.equal(stats.byPath['GET /assets'], 1);
    await control('POST', 'stats/reset');
    await control('DELETE', 'faults');
    assert.equal((await client.listAssets()).items.length, 3);
    assert.equal(((await control('GET', 'stats')) as { requests: number }).requests, 1);
  });
});
