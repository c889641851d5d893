import { ConnectorFactory, JwtTokenValidation, type ClaimsIdentity, type ConnectorClient } from 'botframework-connector';

/** Service URLs are a handful per region; the bound only guards against a flood of forged ones. */
const MAX_CLIENTS = 256;

/**
 * Bounded cache of clients by key; a client whose creation failed is forgotten so the next turn retries.
 * Bot Framework clients are safe to share: each request takes its token from the credentials, which
 * renew it themselves (the older BotFrameworkAdapter kept one ConnectorClient per service URL too).
 */
export class ClientCache<T> {
  private readonly clients = new Map<string, Promise<T>>();

  get(key: string, create: () => Promise<T>): Promise<T> {
    const known = this.clients.get(key);
    if (known) return known;
    const created = create();
    this.clients.set(key, created);
    created.catch(() => this.clients.delete(key));
    if (this.clients.size > MAX_CLIENTS) {
      const oldest = this.clients.keys().next().value;
      if (oldest !== undefined) this.clients.delete(oldest);
    }
    return created;
  }
}

export function appIdOf(identity: ClaimsIdentity | undefined): string {
  return identity ? (JwtTokenValidation.getAppIdFromClaims(identity.claims) ?? '') : '';
}

/**
 * CloudAdapter builds a new ConnectorClient (credentials, HTTP pipeline, serializers) for every turn;
 * that is a large share of a short turn's CPU. This factory hands out one client per app id, audience
 * and service URL instead.
 */
export class ReusedConnectorFactory extends ConnectorFactory {
  constructor(
    private readonly inner: ConnectorFactory,
    private readonly cache: ClientCache<ConnectorClient>,
    private readonly appId: string,
  ) {
    super();
  }

  override create(serviceUrl: string, audience?: string): Promise<ConnectorClient> {
    return this.cache.get(`${this.appId}|${audience ?? ''}|${serviceUrl}`, () => this.inner.create(serviceUrl, audience));
  }
}
