import { strict as assert } from 'node:assert';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationServiceClientCredentialFactory } from 'botbuilder';
import { startApplication, type RunningApplication } from '../../bot/application';
import type { CredentialsFactory } from '../../bot/adapter';
import { loadConfig } from '../../services/config/config';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { startAppleSandbox, type RunningAppleSandbox } from '../../local/appleSandbox/AppleSandboxServer';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, teamsMessage } from '../support/FakeConnector';

const APP_ID = '11111111-2222-3333-4444-555555555555';
const TENANT_ID = '00000000-0000-0000-0000-0000000000001';
const ADMIN_ID = '00000000-0000-0000-0000-0000000000020';
const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';

interface Jwk {
  kty: string;
  kid: string;
  use: string;
  n: string;
  e: string;
  endorsements?: string[];
}

/**
 * Stands in for https://login.botframework.com/v1/.well-known/openidconfiguration and its JWKS: the keys
 * the Bot Framework channel service signs inbound activities with, each endorsed for the channels it may
 * speak for.
 */
class LocalOpenIdProvider {
  private server: http.Server | undefined;
  url = '';
  keys: Jwk[] = [];
  requests = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests += 1;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openidconfiguration') {
        res.end(JSON.stringify({ issuer: BOT_FRAMEWORK_ISSUER, jwks_uri: `${this.url}/keys`, id_token_signing_alg_values_supported: ['RS256'] }));
      } else if (req.url === '/keys') {
        res.end(JSON.stringify({ keys: this.keys }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get metadataUrl(): string {
    return `${this.url}/.well-known/openidconfiguration`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function rsaKey(kid: string, endorsements: string[] | undefined): { kid: string; privateKey: KeyObject; jwk: Jwk } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const exported = publicKey.export({ format: 'jwk' });
  const jwk: Jwk = { kty: 'RSA', kid, use: 'sig', n: String(exported.n), e: String(exported.e), ...(endorsements ? { endorsements } : {}) };
  return { kid, privateKey, jwk };
}

const b64url = (value: object | Buffer) => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** An RS256 JWT signed here, shaped like the Bot Connector's tokens to bots. */
function signJwt(key: { kid: string; privateKey: KeyObject }, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const head = b64url({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header });
  const body = b64url(claims);
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), key.privateKey);
  return `${head}.${body}.${b64url(signature)}`;
}

/**
 * The real password credential factory for everything inbound (isValidAppId decides the audience check),
 * but outbound replies are signed with a placeholder instead of a token from login.microsoftonline.com,
 * which this machine cannot reach.
 */
class OfflineCredentialsFactory extends ConfigurationServiceClientCredentialFactory {
  override async createCredentials(appId: string, audience: string | undefined, loginEndpoint: string, validateAuthority: boolean) {
    if (!(await this.isValidAppId(appId))) return super.createCredentials(appId, audience ?? '', loginEndpoint, validateAuthority);
    type Credentials = Awaited<ReturnType<ConfigurationServiceClientCredentialFactory['createCredentials']>>;
    const credentials: Credentials = {
      signRequest: async (request) => {
        request.headers.set('authorization', 'Bearer offline-outbound-token');
        return request;
      },
    };
    return credentials;
  }
}

describe('Bot Framework authentication on /api/messages (production mode)', function () {
  this.timeout(30_000);
  const openId = new LocalOpenIdProvider();
  const connector = new FakeConnector();
  const cosmos = new EmbeddedCosmos();
  const { logger, lines } = capturingLogger();
  let sandbox: RunningAppleSandbox;
  let app: RunningApplication;
  const channelKey = rsaKey('channel-key-1', ['msteams', 'webchat']);
  const webchatOnlyKey = rsaKey('webchat-only-key', ['webchat']);
  // Same kid as the published key, different private key: a forger who read the JWKS.
  const forgedKey = { ...rsaKey('channel-key-1', undefined), kid: 'channel-key-1' };
  const unpublishedKey = rsaKey('unpublished-key', undefined);

  const consoleError = console.error;
  const botbuilderConsole: unknown[][] = [];

  before(async () => {
    // botbuilder prints every rejected token (and the public key) with console.error; keep the test output readable.
    console.error = (...args: unknown[]) => void botbuilderConsole.push(args);
    openId.keys = [channelKey.jwk, webchatOnlyKey.jwk];
    await openId.start();
    await connector.start();
    await cosmos.start();
    sandbox = await startAppleSandbox({ port: 0 });
    const config = loadConfig({
      MicrosoftAppId: APP_ID,
      MicrosoftAppPassword: 'not-a-real-secret',
      MicrosoftAppTenantId: TENANT_ID,
      MicrosoftAppType: 'SingleTenant',
      HOST: '127.0.0.1',
      PORT: '0',
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: `auth-${randomBytes(4).toString('hex')}`,
      APPLE_VPP_BASE_URL: sandbox.baseUrl,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      BOT_ADMIN_USER_IDS: ADMIN_ID,
    });
    assert.equal(config.mode, 'production');
    const credentialsFactory: CredentialsFactory = new OfflineCredentialsFactory({
      MicrosoftAppId: APP_ID,
      MicrosoftAppPassword: 'not-a-real-secret',
      MicrosoftAppTenantId: TENANT_ID,
      MicrosoftAppType: 'SingleTenant',
    });
    app = await startApplication(config, logger, {
      auth: {
        // Setting any endpoint makes botbuilder take every endpoint from here, so all are given: the
        // public cloud's values except the two key sources, which point at the local provider.
        overrides: {
          ToBotFromChannelOpenIdMetadataUrl: openId.metadataUrl,
          ToBotFromEmulatorOpenIdMetadataUrl: `${openId.url}/emulator/.well-known/openidconfiguration`,
          ToBotFromChannelTokenIssuer: BOT_FRAMEWORK_ISSUER,
          ToChannelFromBotLoginUrl: `https://login.microsoftonline.com/${TENANT_ID}`,
          ToChannelFromBotOAuthScope: BOT_FRAMEWORK_ISSUER,
          OAuthUrl: 'https://api.botframework.com',
          CallerId: 'urn:botframework:azure',
        },
        credentialsFactory,
      },
    });
  });

  after(async () => {
    console.error = consoleError;
    await app?.stop();
    await sandbox?.close();
    await cosmos.stop();
    await connector.stop();
    await openId.stop();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const validClaims = (overrides: Record<string, unknown> = {}) => ({
    iss: BOT_FRAMEWORK_ISSUER,
    aud: APP_ID,
    serviceurl: connector.url,
    nbf: now() - 60,
    iat: now() - 60,
    exp: now() + 3600,
    ...overrides,
  });

  function activity(text: string, conversationId: string): Record<string, unknown> {
    return teamsMessage(connector.url, text, {
      conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT_ID },
      from: { id: 'user-1', name: 'Admin', aadObjectId: ADMIN_ID },
      recipient: { id: `28:${APP_ID}`, name: 'VPP Books' },
    });
  }

  async function post(body: Record<string, unknown>, authorization?: string): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization !== undefined) headers.authorization = authorization;
    return fetch(`${app.url}/api/messages`, { method: 'POST', headers, body: JSON.stringify(body) });
  }

  it('accepts a channel token signed by a published key and answers through the connector', async () => {
    const response = await post(activity('help', 'auth-valid'), `Bearer ${signJwt(channelKey, validClaims())}`);
    assert.equal(response.status, 200, await response.text());
    const reply = await connector.waitFor((a) => a.conversation?.id === 'auth-valid');
    assert.ok(cardText(reply).includes('VPP Books: commands'), 'the bot replied with the help card');
    assert.ok(openId.requests >= 2, 'the keys came from the local OpenID metadata and JWKS');
  });

  const rejected: Array<{ name: string; authorization: () => string | undefined; body?: () => Record<string, unknown> }> = [
    { name: 'no Authorization header', authorization: () => undefined },
    { name: 'an empty Authorization header', authorization: () => '' },
    { name: 'a scheme other than Bearer', authorization: () => `Basic ${signJwt(channelKey, validClaims())}` },
    { name: 'a bearer value that is not a JWT', authorization: () => 'Bearer not-a-jwt' },
    { name: 'a key that the JWKS does not publish', authorization: () => `Bearer ${signJwt(unpublishedKey, validClaims())}` },
    { name: 'an expired token (beyond the 5 minute clock skew)', authorization: () => `Bearer ${signJwt(channelKey, validClaims({ exp: now() - 600, iat: now() - 4000, nbf: now() - 4000 }))}` },
    { name: 'a token not valid yet', authorization: () => `Bearer ${signJwt(channelKey, validClaims({ nbf: now() + 3600 }))}` },
    { name: 'another bot as audience', authorization: () => `Bearer ${signJwt(channelKey, validClaims({ aud: '99999999-9999-9999-9999-999999999999' }))}` },
    { name: 'no audience', authorization: () => `Bearer ${signJwt(channelKey, validClaims({ aud: undefined }))}` },
    { name: 'an issuer other than the Bot Framework', authorization: () => `Bearer ${signJwt(channelKey, validClaims({ iss: 'https://evil.example.com' }))}` },
    { name: 'a serviceurl claim for another service URL', authorization: () => `Bearer ${signJwt(channelKey, validClaims({ serviceurl: 'https://smba.example.com/' }))}` },
    { name: 'a key endorsed only for another channel', authorization: () => `Bearer ${signJwt(webchatOnlyKey, validClaims())}` },
    {
      name: 'an unsigned token (alg none)',
      authorization: () => `Bearer ${b64url({ alg: 'none', typ: 'JWT', kid: channelKey.kid })}.${b64url(validClaims())}.`,
    },
  ];

  for (const c of rejected) {
    it(`answers 401 and runs no turn for ${c.name}`, async () => {
      const conversationId = `auth-${c.name.replace(/\W+/g, '-')}`;
      const response = await post(activity('help', conversationId), c.authorization());
      assert.equal(response.status, 401, await response.text());
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(!connector.activities.some((a) => a.conversation?.id === conversationId), 'the bot did not answer');
    });
  }

  // jsonwebtoken throws its own error types for these; without the mapping in bot/adapter.ts CloudAdapter
  // would answer 500 (and the channel would retry).
  it('answers 401 for a token signed with a different key under a published key id', async () => {
    const response = await post(activity('help', 'auth-forged'), `Bearer ${signJwt(forgedKey, validClaims())}`);
    assert.equal(response.status, 401, await response.text());
    assert.ok(!connector.activities.some((a) => a.conversation?.id === 'auth-forged'), 'the bot did not answer');
  });

  it('answers 401 for a token whose signature algorithm is not RSA (HS256 with the public key)', async () => {
    const head = b64url({ alg: 'HS256', typ: 'JWT', kid: channelKey.kid });
    const body = b64url(validClaims());
    const response = await post(activity('help', 'auth-hs256'), `Bearer ${head}.${body}.${b64url(randomBytes(32))}`);
    assert.equal(response.status, 401, await response.text());
  });

  it('stays up: /healthz answers and a valid token still works after the rejections', async () => {
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
    const response = await post(activity('help', 'auth-valid-again'), `Bearer ${signJwt(channelKey, validClaims())}`);
    assert.equal(response.status, 200);
    await connector.waitFor((a) => a.conversation?.id === 'auth-valid-again');
    assert.ok(!lines.some((l) => l.includes('not-a-real-secret')), 'the app password never reaches the log');
  });
});
