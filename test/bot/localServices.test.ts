import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { silentLogger } from '../../services/logging/logger';

describe('local mode with a Cosmos server of its own', function () {
  this.timeout(30_000);

  it('uses COSMOS_ENDPOINT instead of starting the embedded server, so state outlives the bot process', async () => {
    const shared = new EmbeddedCosmos();
    await shared.start();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-shared-cosmos-'));
    try {
      const app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, COSMOS_ENDPOINT: shared.endpoint }), silentLogger());
      assert.equal(app.cosmosEndpoint, shared.endpoint);
      await app.stop();
      const { resources } = await shared.client().database('vppbooks').containers.readAll().fetchAll();
      assert.ok(resources.some((c) => c.id === 'tokens'), 'the bot created its containers on the shared server');
    } finally {
      await shared.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
