import { TeamsInfo, TurnContext, type CloudAdapter, type ConversationParameters, type ConversationReference } from 'botbuilder';
import { escapeMarkdown } from '../services/common/chatText';
import { forEachLimited } from '../services/common/forEachLimited';
import type { ApproverReach } from '../services/approvals/ApprovalService';
import { DirectoryError, DirectoryUnavailableError } from '../services/directory/errors';
import type { Logger } from '../services/logging/logger';
import type { StoredConversation } from '../services/store/entities/conversation';
import type { ConversationReferenceRepository } from '../services/store/repositories/ConversationReferenceRepository';
import { PLAYGROUND_ADMIN_USER_ID, PLAYGROUND_MEMBER_USER_ID, PLAYGROUND_SECOND_USER_ID, type AppConfig } from '../services/config/config';

/** Installs the bot for a user through Microsoft Graph (GraphDirectory in production). */
interface BotInstaller {
  installForUser(aadObjectId: string): Promise<void>;
}

/** A chat whose address is known in advance: local mode's second Playground, which has its own connector. */
export interface KnownChat {
  serviceUrl: string;
  /** The user's id as that connector knows it. */
  memberId: string;
}

export interface TeamsUserReachOptions {
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
/** Teams' service URL of a tenant changes only if the tenant moves region: reading it once a while is enough. */
const SERVICE_URL_TTL_MS = 10 * 60_000;
const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Stands in for the app id in local mode, where the embedded directory keeps its own app catalog. */
export const LOCAL_MANIFEST_ID = 'vpp-books-bot-local';

/** The audience of Bot Framework's public cloud; the adapter's credentials pick the token for it. */
const BOT_FRAMEWORK_AUDIENCE = 'https://api.botframework.com';

/** Why a user could not be reached, in words an admin can act on; `transient` failures may succeed later. */
export class ReachFailure extends Error {
  override readonly name = 'ReachFailure';

  constructor(
    readonly reason: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

export type ReachOutcome = { reached: true; conversation: StoredConversation } | { reached: false; failure: ReachFailure };

/**
 * Gets a user (an approver, or a member of an assigned group) a personal chat with the bot: the stored
 * one, or a new one. A new one needs the bot installed for the user (Graph,
 * `TeamsAppInstallation.ReadWriteSelfForUser.All`), then a conversation created through the Bot Connector;
 * its reference is stored like any other, so messages reach the user whether or not they ever opened the bot.
 */
export class TeamsUserReach implements ApproverReach {
  private readonly serviceUrls = new Map<string, { url: string; at: number }>();

  constructor(private readonly options: TeamsUserReachOptions) {}

  async ensureReachable(tenantId: string, aadObjectIds: readonly string[]): Promise<{ reachable: string[]; unreachable: string[] }> {
    const reached = new Set<string>();
    await forEachLimited(aadObjectIds, REACH_CONCURRENCY, async (id) => {
      const outcome = await this.reach(tenantId, id);
      if (outcome.reached) reached.add(id);
      else this.options.logger?.warn({ err: outcome.failure.cause ?? outcome.failure, tenantId, user: id }, 'could not start a chat with an approver');
    });
    // In the order given, so messages name approvers the way the configuration lists them.
    return { reachable: aadObjectIds.filter((id) => reached.has(id)), unreachable: aadObjectIds.filter((id) => !reached.has(id)) };
  }

  /** The user's personal chat with the bot, started (installing the bot for them) when there is none yet. */
  async reach(tenantId: string, aadObjectId: string): Promise<ReachOutcome> {
    const stored = await this.options.conversations.getForUser(tenantId, aadObjectId);
    if (stored) return { reached: true, conversation: stored };
    try {
      await this.startChat(tenantId, aadObjectId, (await this.tenantServiceUrl(tenantId)) ?? this.options.defaultServiceUrl);
      const started = await this.options.conversations.getForUser(tenantId, aadObjectId);
      if (!started) throw new ReachFailure('The chat was started but its address could not be stored; it is tried again later.', true);
      return { reached: true, conversation: started };
    } catch (err) {
      return { reached: false, failure: describeReachFailure(err) };
    }
  }

  private async startChat(tenantId: string, aadObjectId: string, tenantServiceUrl: string | undefined): Promise<void> {
    const known = this.options.knownChats?.get(aadObjectId.toLowerCase());
    const serviceUrl = known?.serviceUrl ?? tenantServiceUrl;
    if (!serviceUrl) throw new ReachFailure("Nobody in the organisation has chatted with the bot yet, so Teams' address for it is unknown (set TEAMS_SERVICE_URL).", false);
    if (!known) {
      try {
        await this.options.installer?.installForUser(aadObjectId);
      } catch (err) {
        throw installFailure(err);
      }
    }
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
      try {
        await create();
      } catch (err) {
        if (known) throw err;
        // Right after the install Teams may not know it yet: one more try shortly after.
        this.options.logger?.debug({ err, user: aadObjectId }, 'starting a chat right after the install failed; trying once more');
        await (this.options.sleep ?? defaultSleep)(RETRY_AFTER_INSTALL_MS);
        await create();
      }
    } catch (err) {
      throw conversationFailure(err);
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

  /**
   * Teams' service URL is per region, the same for every chat of a tenant: any stored reference tells it.
   * Remembered for a while: reaching thousands of members must not read every stored chat each time.
   */
  private async tenantServiceUrl(tenantId: string): Promise<string | undefined> {
    const cached = this.serviceUrls.get(tenantId);
    if (cached && Date.now() - cached.at < SERVICE_URL_TTL_MS) return cached.url;
    const [any] = await this.options.conversations.listByTenant(tenantId);
    const url = any?.reference.serviceUrl;
    if (url) this.serviceUrls.set(tenantId, { url, at: Date.now() });
    return url;
  }
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof DirectoryError) return err.status;
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; response?: { status?: unknown } };
  if (typeof e.statusCode === 'number') return e.statusCode;
  return typeof e.response?.status === 'number' ? e.response.status : undefined;
}

/** Graph refused or failed the install: what it means for this user. */
function installFailure(err: unknown): ReachFailure {
  if (err instanceof ReachFailure) return err;
  const status = statusOf(err);
  if (err instanceof DirectoryUnavailableError) return new ReachFailure('Microsoft Graph was busy or unreachable when the bot tried to install itself for them.', true, { cause: err });
  if (status === 403) {
    return new ReachFailure(
      'Teams would not let the bot install itself for them: the app may be blocked for them by a Teams app permission policy, or the bot lacks TeamsAppInstallation.ReadWriteSelfForUser.All.',
      false,
      { cause: err },
    );
  }
  if (status === 404) return new ReachFailure('Microsoft Graph found no Teams user for them (no Teams license, or the account was removed).', false, { cause: err });
  // Reasons reach chat and cards as Markdown: text the bot did not write is escaped.
  const detail = err instanceof DirectoryError ? err.userMessage : escapeMarkdown(err instanceof Error ? err.message : String(err));
  return new ReachFailure(`The bot could not install itself for them: ${detail}`, status === undefined || status === 429 || status >= 500, { cause: err });
}

/** The Bot Connector refused or failed to start the chat. */
function conversationFailure(err: unknown): ReachFailure {
  if (err instanceof ReachFailure) return err;
  const status = statusOf(err);
  const transient = status === undefined || status === 412 || status === 429 || status >= 500;
  return new ReachFailure(`Teams did not start a chat with them${status === undefined ? '' : ` (HTTP ${status})`}.`, transient, { cause: err });
}

/** Anything reach() may meet, as a ReachFailure. */
function describeReachFailure(err: unknown): ReachFailure {
  if (err instanceof ReachFailure) return err;
  // A store failure (Cosmos busy) is worth another try; anything else is unexpected and said as is.
  const message = err instanceof Error ? err.message : String(err);
  return new ReachFailure(`Reaching them failed: ${escapeMarkdown(message.slice(0, 300))}`, true, { cause: err });
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
      throw new ReachFailure("The bot is not in the organisation's Teams app catalog, so it cannot install itself for people who never opened it.", false);
    }
    await this.catalog.installAppForUser(aadObjectId, appId);
  }
}

/**
 * Local mode: each Playground is its own Teams with its own connector, and knows its signed-in user by
 * its own id. Alex (the main Playground), Megan (the approver's) and Adele (the member's) can be reached
 * there before any window was opened.
 */
export function localPlaygroundChats(config: AppConfig): ReadonlyMap<string, KnownChat> | undefined {
  if (config.mode !== 'local' || !config.playground.enabled) return undefined;
  const chats = new Map<string, KnownChat>([[PLAYGROUND_ADMIN_USER_ID, { serviceUrl: `http://localhost:${config.playground.port}/_connector`, memberId: 'user-id-0' }]]);
  if (config.playground.approver.enabled) chats.set(PLAYGROUND_SECOND_USER_ID, { serviceUrl: `http://localhost:${config.playground.approver.port}/_connector`, memberId: 'user-id-1' });
  // Adele, local mode's member, in the third Playground: told there that a book is available to her.
  if (config.playground.member.enabled) chats.set(PLAYGROUND_MEMBER_USER_ID, { serviceUrl: `http://localhost:${config.playground.member.port}/_connector`, memberId: 'user-id-2' });
  return chats;
}
