import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { ClientSecretCredential, ManagedIdentityCredential, type AccessToken } from '@azure/identity';
import { loadConfig } from '../../../services/config/config';
import { ConfigError } from '../../../services/errors';
import { GRAPH_BASE_URL, GraphDirectory, graphSignInFor } from '../../../services/directory/GraphDirectory';
import { createAdapter } from '../../../bot/adapter';
import { silentLogger } from '../../../services/logging/logger';

const MSI_CLIENT_ID = '11111111-2222-3333-4444-555555555555';
const TENANT_ID = '00000000-0000-0000-0000-0000000000aa';

/** What infra/main.bicep sets for botAppType=UserAssignedMSI: no MicrosoftAppPassword at all. */
const managedIdentityBot = {
  MicrosoftAppId: MSI_CLIENT_ID,
  MicrosoftAppTenantId: TENANT_ID,
  MicrosoftAppType: 'UserAssignedMSI',
  AZURE_CLIENT_ID: MSI_CLIENT_ID,
  COSMOS_ENDPOINT: 'https://example.documents.azure.com:443/',
  COSMOS_USE_MANAGED_IDENTITY: 'true',
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  BOT_ADMIN_GROUP_ID: '00000000-0000-0000-0000-0000000000a1',
};

const token = (value: string): AccessToken => ({ token: value, expiresOnTimestamp: Date.now() + 3_600_000 });

/** A Graph that answers every request with an empty page and remembers the Authorization header it saw. */
function recordingGraph() {
  const authorizations: Array<string | undefined> = [];
  const fetchImpl: typeof fetch = async (_url, init) => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    authorizations.push(headers['authorization']);
    return new Response(JSON.stringify({ value: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { authorizations, fetchImpl };
}

describe('a bot that runs as a user-assigned managed identity (MicrosoftAppType=UserAssignedMSI)', () => {
  afterEach(() => sinon.restore());

  it('starts in production mode without a client secret', () => {
    const config = loadConfig(managedIdentityBot);
    assert.equal(config.mode, 'production');
    assert.deepEqual(config.botAuth, { appId: MSI_CLIENT_ID, appPassword: undefined, tenantId: TENANT_ID, appType: 'UserAssignedMSI' });
  });

  it('refuses a client secret next to it, naming the variable (botbuilder would only assert)', () => {
    assert.throws(
      () => loadConfig({ ...managedIdentityBot, MicrosoftAppPassword: 'left-over-secret' }),
      (err: unknown) => err instanceof ConfigError && /MicrosoftAppPassword must be empty when MicrosoftAppType=UserAssignedMSI/.test(err.message),
    );
  });

  it('builds the Bot Framework adapter with the managed identity (no password assertion)', () => {
    const config = loadConfig(managedIdentityBot);
    assert.doesNotThrow(() => createAdapter(config, silentLogger()));
  });

  it('calls Microsoft Graph with a managed identity token for that client id, never a client secret', async () => {
    const msiToken = sinon.stub(ManagedIdentityCredential.prototype, 'getToken').resolves(token('msi-token'));
    const secretToken = sinon.stub(ClientSecretCredential.prototype, 'getToken').rejects(new Error('no secret in this mode'));
    const { authorizations, fetchImpl } = recordingGraph();
    const config = loadConfig(managedIdentityBot);

    const graph = new GraphDirectory({ baseUrl: GRAPH_BASE_URL, ...graphSignInFor(config.botAuth), fetch: fetchImpl });
    assert.deepEqual(await graph.searchGroups('Year 9'), []);

    assert.deepEqual(authorizations, ['Bearer msi-token']);
    assert.equal(msiToken.callCount, 1);
    assert.deepEqual(msiToken.firstCall.args[0], 'https://graph.microsoft.com/.default');
    assert.equal((msiToken.firstCall.thisValue as { clientId?: string }).clientId, MSI_CLIENT_ID, 'the user-assigned identity, not the system one');
    assert.equal(secretToken.callCount, 0);
  });

  it('keeps the app registration secret for a SingleTenant bot', async () => {
    const msiToken = sinon.stub(ManagedIdentityCredential.prototype, 'getToken').rejects(new Error('not a managed identity bot'));
    sinon.stub(ClientSecretCredential.prototype, 'getToken').resolves(token('secret-token'));
    const { authorizations, fetchImpl } = recordingGraph();
    const config = loadConfig({ ...managedIdentityBot, MicrosoftAppType: 'SingleTenant', MicrosoftAppPassword: 'app-secret' });

    const graph = new GraphDirectory({ baseUrl: GRAPH_BASE_URL, ...graphSignInFor(config.botAuth), fetch: fetchImpl });
    await graph.searchGroups('Year 9');

    assert.deepEqual(authorizations, ['Bearer secret-token']);
    assert.equal(msiToken.callCount, 0);
  });

  it('still refuses to call the real Graph with no credential at all', () => {
    assert.throws(
      () => new GraphDirectory({ baseUrl: GRAPH_BASE_URL, ...graphSignInFor({ appId: MSI_CLIENT_ID, appPassword: undefined, tenantId: TENANT_ID, appType: 'SingleTenant' }) }),
      (err: unknown) => err instanceof ConfigError && /managed identity/.test(err.message),
    );
  });
});
