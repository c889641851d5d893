import {
  ActivityEventNames,
  ActivityTypes,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  StatusCodes,
  type Activity,
  type ConfigurationBotFrameworkAuthenticationOptions,
  type TurnContext,
} from 'botbuilder';
// botbuilder 4.23.3 pins this exact version and does not re-export its AuthenticationError, the only error
// type CloudAdapter answers with 401.
import { AuthenticationError, type AuthenticateRequestResult, type ClaimsIdentity, type ConnectorClient, type ConnectorFactory } from 'botframework-connector';
import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';
import { toChatError } from '../dialogs/chatErrors';
import { appIdOf, ClientCache, ReusedConnectorFactory } from './ReusedConnectorClients';

/** botframework-connector's ServiceClientCredentialsFactory, named without depending on that package directly. */
export type CredentialsFactory = NonNullable<ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[1]>;

/**
 * Test seams for Bot Framework authentication: where inbound JWT keys come from (OpenID metadata URL,
 * issuer) and how outbound replies get a token. Production passes none; tests point them at local
 * endpoints because the real ones need the network.
 */
export interface AdapterAuthOptions {
  overrides?: Partial<ConfigurationBotFrameworkAuthenticationOptions>;
  credentialsFactory?: CredentialsFactory;
}

/** Errors jsonwebtoken throws for a forged, unsigned or not-yet-valid token. */
const JWT_ERRORS = new Set(['JsonWebTokenError', 'NotBeforeError', 'TokenExpiredError']);

/**
 * botbuilder lets jsonwebtoken's own errors (a bad signature under a published key id, alg none, nbf in the
 * future) escape token validation, and CloudAdapter answers every error that is not an AuthenticationError
 * with 500, which the channel would retry. A token that fails validation is a 401.
 */
class StrictBotFrameworkAuthentication extends ConfigurationBotFrameworkAuthentication {
  private readonly connectorClients = new ClientCache<ConnectorClient>();
  private readonly userTokenClients = new ClientCache<Awaited<ReturnType<ConfigurationBotFrameworkAuthentication['createUserTokenClient']>>>();

  override async authenticateRequest(activity: Activity, authHeader: string): Promise<AuthenticateRequestResult> {
    let result: AuthenticateRequestResult;
    try {
      result = await super.authenticateRequest(activity, authHeader);
    } catch (err) {
      if (err instanceof Error && JWT_ERRORS.has(err.name)) throw new AuthenticationError(`Unauthorized. ${err.message}`, StatusCodes.UNAUTHORIZED);
      throw err;
    }
    // Validation above runs for every request; only the clients built after it are reused.
    if (result.connectorFactory) result.connectorFactory = this.reuse(result.connectorFactory, result.claimsIdentity);
    return result;
  }

  override createConnectorFactory(claimsIdentity: ClaimsIdentity): ConnectorFactory {
    return this.reuse(super.createConnectorFactory(claimsIdentity), claimsIdentity);
  }

  /** botbuilder asks for one on every turn; the bot never signs users in, so one per app id serves all. */
  override createUserTokenClient(claimsIdentity: ClaimsIdentity) {
    return this.userTokenClients.get(appIdOf(claimsIdentity), () => super.createUserTokenClient(claimsIdentity));
  }

  private reuse(factory: ConnectorFactory, claimsIdentity: ClaimsIdentity | undefined): ConnectorFactory {
    return factory instanceof ReusedConnectorFactory ? factory : new ReusedConnectorFactory(factory, this.connectorClients, appIdOf(claimsIdentity));
  }
}

/**
 * botbuilder-dialogs wraps whatever a dialog throws in a DialogContextError whose `error` is the original;
 * unwrapped, a UserFacingError thrown inside a flow reaches the admin as its own message, not as an incident.
 */
function thrownByFlow(error: Error): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth++) {
    const inner = current instanceof Error && 'error' in current ? current.error : undefined;
    if (!(inner instanceof Error)) break;
    current = inner;
  }
  return current;
}

/**
 * CloudAdapter with SingleTenant credentials in production (JWT validation on every request) and no
 * credentials in local mode, where the server only listens on loopback.
 */
export function createAdapter(
  config: AppConfig,
  logger: Logger,
  overrides: Partial<ConfigurationBotFrameworkAuthenticationOptions> = {},
  credentialsFactory?: CredentialsFactory,
): CloudAdapter {
  const options: ConfigurationBotFrameworkAuthenticationOptions = {
    MicrosoftAppId: config.botAuth.appId ?? '',
    MicrosoftAppPassword: config.botAuth.appPassword ?? '',
    MicrosoftAppTenantId: config.botAuth.tenantId ?? '',
    MicrosoftAppType: config.botAuth.appId ? config.botAuth.appType : '',
    ...overrides,
  } as ConfigurationBotFrameworkAuthenticationOptions;
  const adapter = new CloudAdapter(new StrictBotFrameworkAuthentication(options, credentialsFactory));

  adapter.onTurnError = async (context: TurnContext, error: Error) => {
    // A proactive send (continueConversationAsync) has no user waiting for an answer, and its caller needs
    // the error itself: the outbox retries 429s and forgets conversations that answer 403/404.
    if (isProactiveTurn(context)) throw error;
    const chat = toChatError(thrownByFlow(error));
    logger.error(
      { err: error, incidentId: chat.incidentId, activityType: context.activity.type, conversationType: context.activity.conversation?.conversationType },
      'turn failed',
    );
    try {
      await context.sendActivity(chat.text);
    } catch (sendError) {
      logger.warn({ err: sendError }, 'could not tell the user about a failed turn');
    }
  };
  return adapter;
}

/** The turn continueConversationAsync runs: an event named ContinueConversation, not a user's message. */
function isProactiveTurn(context: TurnContext): boolean {
  return context.activity.type === ActivityTypes.Event && context.activity.name === ActivityEventNames.ContinueConversation;
}
