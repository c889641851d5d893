import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type ConfigurationBotFrameworkAuthenticationOptions,
  type TurnContext,
} from 'botbuilder';
import type { AppConfig } from '../services/config/config';
import type { Logger } from '../services/logging/logger';
import { toChatError } from '../dialogs/chatErrors';

/**
 * CloudAdapter with SingleTenant credentials in production (JWT validation on every request) and no
 * credentials in local mode, where the server only listens on loopback.
 */
export function createAdapter(config: AppConfig, logger: Logger, overrides: Partial<ConfigurationBotFrameworkAuthenticationOptions> = {}): CloudAdapter {
  const options: ConfigurationBotFrameworkAuthenticationOptions = {
    MicrosoftAppId: config.botAuth.appId ?? '',
    MicrosoftAppPassword: config.botAuth.appPassword ?? '',
    MicrosoftAppTenantId: config.botAuth.tenantId ?? '',
    MicrosoftAppType: config.botAuth.appId ? config.botAuth.appType : '',
    ...overrides,
  } as ConfigurationBotFrameworkAuthenticationOptions;
  const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication(options));

  adapter.onTurnError = async (context: TurnContext, error: Error) => {
    const chat = toChatError(error);
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
