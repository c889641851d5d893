import { strict as assert } from 'node:assert';
import { loadConfig, APPLE_PRODUCTION_BASE_URL } from '../../../services/config/config';
import { ConfigError } from '../../../services/errors';

const production = {
  MicrosoftAppId: '00000000-0000-0000-0000-000000000001',
  MicrosoftAppPassword: 'secret',
  MicrosoftAppTenantId: '00000000-0000-0000-0000-0000000000aa',
  COSMOS_ENDPOINT: 'https://example.documents.azure.com:443/',
  COSMOS_KEY: 'a2V5',
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  BOT_ADMIN_USER_IDS: '00000000-0000-0000-0000-0000000000a1, 00000000-0000-0000-0000-0000000000a2',
};

describe('configuration', () => {
  it('runs in local mode with embedded defaults when no app id is set', () => {
    const config = loadConfig({});
    assert.equal(config.mode, 'local');
    assert.equal(config.port, 3978);
    assert.equal(config.playground.port, 56150);
    assert.deepEqual(config.playground.member, { enabled: true, port: 56152 }, 'a third Playground for the member (Adele)');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.apple.baseUrl, undefined, 'local mode points at the embedded sandbox');
  });

  it('binds loopback only in local mode even when HOST asks for more', () => {
    assert.equal(loadConfig({ HOST: '0.0.0.0' }).host, '127.0.0.1');
  });

  it('accepts a complete production configuration and defaults Apple to the real service', () => {
    const config = loadConfig(production);
    assert.equal(config.mode, 'production');
    assert.equal(config.apple.baseUrl, APPLE_PRODUCTION_BASE_URL);
    assert.equal(config.playground.enabled, false);
    assert.equal(config.playground.member.enabled, false);
    assert.equal(config.host, '0.0.0.0');
  });

  const refusals: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    ['a non-numeric port', { PORT: 'abc' }, /^Invalid configuration: PORT: /],
    ['a port out of range', { PLAYGROUND_PORT: '70000' }, /PLAYGROUND_PORT/],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    ['a Cosmos endpoint that is not a URL', { COSMOS_ENDPOINT: 'not a url' }, /COSMOS_ENDPOINT/],
    ['production without a password', { ...production, MicrosoftAppPassword: '' }, /MicrosoftAppPassword is required/],
    ['production without a tenant', { ...production, MicrosoftAppTenantId: undefined }, /MicrosoftAppTenantId is required/],
    ['production without Cosmos', { ...production, COSMOS_ENDPOINT: undefined }, /COSMOS_ENDPOINT is required/],
    ['production without a Cosmos key or identity', { ...production, COSMOS_KEY: undefined }, /COSMOS_KEY is required/],
    ['production without any admin', { ...production, BOT_ADMIN_USER_IDS: '' }, /BOT_ADMIN_USER_IDS .* is required/],
    ['a schedule that is not a cron expression', { SYNC_CRON: 'twice a day' }, /SYNC_CRON: a cron expression/],
    ['an unknown time zone', { SYNC_TIMEZONE: 'Mars/Olympus' }, /SYNC_TIMEZONE: an IANA time zone/],
    ['an encryption key of the wrong size', { TOKEN_ENCRYPTION_KEY: 'c2hvcnQ=' }, /TOKEN_ENCRYPTION_KEY must be 32 bytes/],
  ];
  for (const [what, env, message] of refusals) {
    it(`stops start-up on ${what} with one line naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'),
      );
    });
  }

  it('makes both Playground users (Alex and Megan) admins in local mode unless admins are configured', () => {
    assert.deepEqual(loadConfig({}).admins.userIds, ['00000000-0000-0000-0000-0000000000020', '00000000-0000-0000-0000-0000000000021']);
    assert.deepEqual(loadConfig({ BOT_ADMIN_USER_IDS: 'a, b' }).admins.userIds, ['a', 'b']);
    assert.deepEqual(loadConfig(production).admins.userIds, ['00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000a2']);
  });

  it('claims tokens under an MDM id tied to the bot registration', () => {
    assert.equal(loadConfig(production).apple.mdmId, `vpp-books-bot:${production.MicrosoftAppId}`);
    assert.equal(loadConfig(production).tenantId, production.MicrosoftAppTenantId);
  });

  it('accepts managed identity instead of a Cosmos key in production', () => {
    const config = loadConfig({ ...production, COSMOS_KEY: undefined, COSMOS_USE_MANAGED_IDENTITY: 'true' });
    assert.equal(config.cosmos.useManagedIdentity, true);
  });
});

describe('instance id', () => {
  it('is stable for a host and data folder, and taken from the platform when it names the instance', () => {
    assert.equal(loadConfig({}).instanceId, loadConfig({}).instanceId, 'a restart gets the same id back');
    assert.notEqual(loadConfig({ LOCAL_DATA_DIR: '/tmp/a' }).instanceId, loadConfig({ LOCAL_DATA_DIR: '/tmp/b' }).instanceId);
    assert.equal(loadConfig({ WEBSITE_INSTANCE_ID: 'app-service-vm-1' }).instanceId, 'app-service-vm-1');
    assert.equal(loadConfig({ WEBSITE_INSTANCE_ID: 'vm-1', INSTANCE_ID: 'mine' }).instanceId, 'mine');
  });
});

describe('abuse bounds', () => {
  it('limits 30 messages a minute per user and 60 per conversation, keeps audit entries 365 days, by default', () => {
    const config = loadConfig(production);
    assert.deepEqual(config.rateLimits, { userPerMinute: 30, conversationPerMinute: 120 });
    assert.deepEqual(config.audit, { retentionDays: 365 });
  });

  it('takes 0 for "no limit" and "keep for ever", and refuses what is not a whole number or beyond Cosmos TTL', () => {
    const config = loadConfig({ RATE_LIMIT_USER_PER_MINUTE: '0', RATE_LIMIT_CONVERSATION_PER_MINUTE: '45', AUDIT_RETENTION_DAYS: '0' });
    assert.deepEqual([config.rateLimits, config.audit.retentionDays], [{ userPerMinute: 0, conversationPerMinute: 45 }, 0]);
    assert.throws(() => loadConfig({ RATE_LIMIT_USER_PER_MINUTE: '-1' }), /RATE_LIMIT_USER_PER_MINUTE: expected a whole number, 0 or more/);
    assert.throws(() => loadConfig({ RATE_LIMIT_CONVERSATION_PER_MINUTE: 'lots' }), /RATE_LIMIT_CONVERSATION_PER_MINUTE/);
    assert.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: '30000' }), /AUDIT_RETENTION_DAYS: expected a whole number from 0 to 24000/);
  });
});
