import { TeamsInfo, TurnContext, type CloudAdapter, type ConversationParameters, type ConversationReference } from 'botbuilder';
import { forEachLimited } from '../services/common/forEachLimited';
import type { ApproverReach } from '../services/approvals/ApprovalService';
import type { Logger } from '../services/logging/logger';
import type { ConversationReferenceRepository } from '../services/store/repositories/ConversationReferenceRepository';
import { PLAYGROUND_ADMIN_USER_ID, PLAYGROUND_SECOND_USER_ID, type AppConfig } from '../services/config/config';

/** Installs the bot for a user through Microsoft Graph (GraphDirectory in production). */
export interface BotInstaller {
  installForUser(aadObjectId: string): Promise<void>;
}

/** A chat whose address is known in advance: local mode's second Playground, which has its own connector. */
export interface KnownChat {
  serviceUrl: string;
  /** The user's id as that connector knows it. */
  memberId: string;
}

export interface TeamsApproverReachOptions {
  conversations: ConversationReferenceRepository;
  adapter: Pick<CloudAdapter, 'createConversationAsync'>;
  appId: string | undefined;
  installer?: BotInstaller | undefined;
  /** By Entra object id (lower case). */
  knownChats?: ReadonlyMap<string, KnownChat> | undefined;
  /**
   * Teams' service URL when no chat of the tenant is stored yet (a new tenant): Teams' global one, which
   * routes to the tenant's region.
   */
  defaultServiceUrl?: string | undefined;
  /** Waits between the Graph install and a second try at the chat (Teams may not know the install yet). */
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger | undefined;
}

/** Chats started at once: a large admin group must not take a whole turn one approver at a time. */
const REACH_CONCURRENCY = 5;
const RETRY_AFTER_INSTALL_MS = 2_000;
const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Stands in for the app id in local mode, where the embedded directory keeps its own app catalog. */
export const LOCAL_MANIFEST_ID = 'vpp-books-bot-local';

/** The audience of Bot Framework's public cloud; the adapter's credentials pick the token for it. */
const BOT_FRAMEWORK_AUDIENCE = 'https://api.botframework.com';

/**
 * Gets an approver a personal chat with the bot: the stored one, or a new one. A new one needs the bot
 * installed for the user (Graph, `TeamsAppInstallation.ReadWriteSelfForUser.All`), then a conversation
 * created through the Bot Connector; its reference is stored like any other, so cards reach the user
 * whether or not they ever opened the bot.
 */
export class TeamsApproverReach implements ApproverReach {
  constructor(private readonly options: TeamsApproverReachOptions) {}

  async ensureReachable(tenantId: string, aadObjectIds: readonly string[]): Promise<{ reachable: string[]; unreachable: string[] }> {
    const reached = new Set<string>();
    const serviceUrl = (await this.tenantServiceUrl(tenantId)) ?? this.options.defaultServiceUrl;
    await forEachLimited(aadObjectIds, REACH_CONCURRENCY, async (id) => {
      if (await this.options.conversations.getForUser(tenantId, id)) {
        reached.add(id);
        return;
      }
      try {
        await this.startChat(tenantId, id, serviceUrl);
        reached.add(id);
      } catch (err) {
        this.options.logger?.warn({ err, tenantId, user: id }, 'could not start a chat with an approver');
      }
    });
    // In the order given, so messages name approvers the way the configuration lists them.
    return { reachable: aadObjectIds.filter((id) => reached.has(id)), unreachable: aadObjectIds.filter((id) => !reached.has(id)) };
  }

  private async startChat(tenantId: string, aadObjectId: string, tenantServiceUrl: string | undefined): Promise<void> {
    const known = this.options.knownChats?.get(aadObjectId.toLowerCase());
    const serviceUrl = known?.serviceUrl ?? tenantServiceUrl;
    if (!serviceUrl) throw new Error('no Teams service URL is known for this tenant yet (nobody has chatted with the bot)');
    if (!known) await this.options.installer?.installForUser(aadObjectId);
    const member = { id: known?.memberId ?? aadObjectId, aadObjectId };
    const appId = this.options.appId ?? '';
    const parameters = {
      isGroup: false,
      bot: { id: appId, name: 'VPP Books' },
      members: [member],
      tenantId,
      channelData: { tenant: { id: tenantId } },
    } as ConversationParameters;
    let reference: Partial<ConversationReference> | undefined;
    // The user's Teams id (29:…) is what card refresh needs; the new chat's member list has it.
    let teamsUserId = member.id;
    const create = () =>
      this.options.adapter.createConversationAsync(appId, 'msteams', serviceUrl, BOT_FRAMEWORK_AUDIENCE, parameters, async (context) => {
        reference = TurnContext.getConversationReference(context.activity);
        teamsUserId = (await TeamsInfo.getMember(context, aadObjectId).catch(() => undefined))?.id ?? member.id;
      });
    try {
      await create();
    } catch (err) {
      if (known) throw err;
      // Right after the install Teams may not know it yet: one more try shortly after.
      this.options.logger?.debug({ err, user: aadObjectId }, 'starting a chat right after the install failed; trying once more');
      await (this.options.sleep ?? defaultSleep)(RETRY_AFTER_INSTALL_MS);
      await create();
    }
    const conversationId = reference?.conversation?.id;
    if (!reference || !conversationId) throw new Error('the Bot Connector created no conversation');
    // The install event may have stored this user's chat meanwhile, with everything Teams knows: keep it.
    if (await this.options.conversations.getForUser(tenantId, aadObjectId)) return;
    await this.options.conversations.save({
      tenantId,
      scope: 'personal',
      userAadObjectId: aadObjectId,
      conversationId,
      reference: {
        ...(JSON.parse(JSON.stringify(reference)) as Record<string, unknown>),
        user: { id: teamsUserId, aadObjectId },
        bot: { id: appId || 'bot', name: 'VPP Books' },
        conversation: { id: conversationId, conversationType: 'personal', tenantId },
        channelId: 'msteams',
        serviceUrl,
      },
    });
  }

  /** Teams' service URL is per region, the same for every chat of a tenant: any stored reference tells it. */
  private async tenantServiceUrl(tenantId: string): Promise<string | undefined> {
    const [any] = await this.options.conversations.listByTenant(tenantId);
    return any?.reference.serviceUrl;
  }
}

/** What Graph's app installation needs from the directory (GraphDirectory). */
export interface AppCatalog {
  catalogAppId(manifestId: string): Promise<string | undefined>;
  installAppForUser(userId: string, catalogAppId: string): Promise<'installed' | 'alreadyInstalled'>;
}

/** Installs the bot for a user through Graph, finding its catalog id once from its manifest id (the app id). */
export class GraphBotInstaller implements BotInstaller {
  private catalogId: Promise<string | undefined> | undefined;

  constructor(
    private readonly catalog: AppCatalog,
    private readonly manifestId: string,
  ) {}

  async installForUser(aadObjectId: string): Promise<void> {
    this.catalogId ??= this.catalog.catalogAppId(this.manifestId).catch((err: unknown) => {
      this.catalogId = undefined;
      throw err;
    });
    const appId = await this.catalogId;
    if (!appId) {
      this.catalogId = undefined;
      throw new Error("the bot is not in the organisation's Teams app catalog, so it cannot install itself for approvers");
    }
    await this.catalog.installAppForUser(aadObjectId, appId);
  }
}

/**
 * Local mode: each Playground is its own Teams with its own connector, and knows its signed-in user by
 * its own id. Alex (the main Playground) and Megan (the approver's) can be reached there before either
 * window was opened.
 */
export function localPlaygroundChats(config: AppConfig): ReadonlyMap<string, KnownChat> | undefined {
  if (config.mode !== 'local' || !config.playground.enabled) return undefined;
  const chats = new Map<string, KnownChat>([[PLAYGROUND_ADMIN_USER_ID, { serviceUrl: `http://localhost:${config.playground.port}/_connector`, memberId: 'user-id-0' }]]);
  if (config.playground.approver.enabled) chats.set(PLAYGROUND_SECOND_USER_ID, { serviceUrl: `http://localhost:${config.playground.approver.port}/_connector`, memberId: 'user-id-1' });
  return chats;
}
