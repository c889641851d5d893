import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { validate as isValidCron } from 'node-cron';
import { ConfigError } from '../errors';
import { APPLE_PRODUCTION_METADATA_URL } from '../apple/BookMetadataClient';
import { DEFAULT_DOWNLOAD_HOSTS, normaliseHostSuffix } from '../tokens/fileDownload';

export const APPLE_PRODUCTION_BASE_URL = 'https://vpp.itunes.apple.com/mdm/v2';

const GRAPH_PRODUCTION_BASE_URL = 'https://graph.microsoft.com';

/** The Agents Playground's built-in tenant and default user (Alex Wilber): local mode's admin. */
export const PLAYGROUND_TENANT_ID = '00000000-0000-0000-0000-0000000000001';
export const PLAYGROUND_ADMIN_USER_ID = '00000000-0000-0000-0000-0000000000020';
/** Megan Bowen, the Playground's second user: local mode's other approver. */
export const PLAYGROUND_SECOND_USER_ID = '00000000-0000-0000-0000-0000000000021';
/** Adele Vance, an English teacher and no admin: local mode's member, who gets Available books with `my books`. */
export const PLAYGROUND_MEMBER_USER_ID = '00000000-0000-0000-0000-0000000000022';

const emptyToUndefined = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optionalString = z.preprocess(emptyToUndefined, z.string().trim().optional());
const PORT_EXPECTED = 'expected a port number from 0 to 65535';
const port = (fallback: number) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce.number({ error: PORT_EXPECTED }).int({ error: PORT_EXPECTED }).min(0, { error: PORT_EXPECTED }).max(65535, { error: PORT_EXPECTED }).default(fallback),
  );
const POSITIVE_EXPECTED = 'expected a whole number above 0';
const positiveInt = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number({ error: POSITIVE_EXPECTED }).int({ error: POSITIVE_EXPECTED }).positive({ error: POSITIVE_EXPECTED }).default(fallback));
const NON_NEGATIVE_EXPECTED = 'expected a whole number, 0 or more';
const nonNegativeInt = (fallback: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce.number({ error: NON_NEGATIVE_EXPECTED }).int({ error: NON_NEGATIVE_EXPECTED }).min(0, { error: NON_NEGATIVE_EXPECTED }).max(max, { error: `expected a whole number from 0 to ${max}` }).default(fallback),
  );
const booleanFlag = (fallback: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );
const httpUrl = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .url()
    .refine((v) => /^https?:\/\//.test(v), 'an http(s) URL')
    .transform((v) => v.replace(/\/+$/, ''))
    .optional(),
);
const idList = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
);

const HOST_SUFFIX = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/;
/** Host suffixes such as `sharepoint.com` or `contoso-my.sharepoint.com`; at least two labels, no addresses. */
const hostSuffixList = (fallback: readonly string[]) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v) => (v === undefined ? [...fallback] : v.split(',').map(normaliseHostSuffix).filter((h) => h.length > 0)))
      .refine((hosts) => hosts.length > 0 && hosts.every((h) => HOST_SUFFIX.test(h)), 'comma-separated host names such as "contoso-my.sharepoint.com,sharepoint.com"'),
  );

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Every environment variable the bot reads. README's configuration table mirrors this schema. */
export const environmentSchema = z.object({
  MicrosoftAppId: optionalString,
  MicrosoftAppPassword: optionalString,
  MicrosoftAppTenantId: optionalString,
  MicrosoftAppType: z.preprocess(emptyToUndefined, z.enum(['SingleTenant', 'UserAssignedMSI']).default('SingleTenant')),
  HOST: optionalString,
  PORT: port(3978),
  PLAYGROUND_PORT: port(56150),
  PLAYGROUND_ENABLED: booleanFlag(true),
  PLAYGROUND_APPROVER_PORT: port(56151),
  PLAYGROUND_APPROVER_ENABLED: booleanFlag(true),
  PLAYGROUND_MEMBER_PORT: port(56152),
  PLAYGROUND_MEMBER_ENABLED: booleanFlag(true),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  LOCAL_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('.data')),
  COSMOS_ENDPOINT: httpUrl,
  COSMOS_KEY: optionalString,
  COSMOS_USE_MANAGED_IDENTITY: booleanFlag(false),
  COSMOS_DATABASE: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9_-]{1,255}$/).default('vppbooks')),
  LOCAL_COSMOS_PORT: port(0),
  APPLE_VPP_BASE_URL: httpUrl,
  APPLE_METADATA_URL: httpUrl,
  APPLE_RETRY_DEADLINE_SECONDS: positiveInt(300),
  APPLE_STATUS_POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number({ error: POSITIVE_EXPECTED }).int({ error: POSITIVE_EXPECTED }).positive({ error: POSITIVE_EXPECTED }).optional()),
  LOCAL_APPLE_PORT: port(0),
  GRAPH_BASE_URL: httpUrl,
  TEAMS_SERVICE_URL: httpUrl,
  GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: optionalString,
  LOCAL_DIRECTORY_PORT: port(0),
  VPP_BACKEND: z.preprocess(emptyToUndefined, z.enum(['apple', 'intune'], { error: 'either "apple" (the bot is the content manager) or "intune" (Microsoft Intune holds the tokens)' }).default('apple')),
  INTUNE_GRAPH_BASE_URL: httpUrl,
  INTUNE_SYNC_POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number({ error: POSITIVE_EXPECTED }).int({ error: POSITIVE_EXPECTED }).positive({ error: POSITIVE_EXPECTED }).optional()),
  LOCAL_INTUNE_PORT: port(0),
  INSTANCE_ID: optionalString,
  WEBSITE_INSTANCE_ID: optionalString,
  CONTAINER_APP_REPLICA_NAME: optionalString,
  MDM_ID: optionalString,
  MDM_NAME: z.preprocess(emptyToUndefined, z.string().min(1).max(100).default('VPP Books bot')),
  BOT_ADMIN_GROUP_ID: optionalString,
  BOT_ADMIN_USER_IDS: idList,
  TOKEN_ENCRYPTION_KEY: optionalString,
  TOKEN_ENCRYPTION_KEY_ID: z.preprocess(emptyToUndefined, z.string().min(1).max(64).default('k1')),
  TOKEN_ENCRYPTION_OLD_KEYS: optionalString,
  TOKEN_DOWNLOAD_HOSTS: hostSuffixList(DEFAULT_DOWNLOAD_HOSTS),
  LOCAL_TENANT_ID: z.preprocess(emptyToUndefined, z.string().default(PLAYGROUND_TENANT_ID)),
  LOCAL_ADMIN_USER_ID: z.preprocess(emptyToUndefined, z.string().default(PLAYGROUND_ADMIN_USER_ID)),
  SYNC_CRON: z.preprocess(emptyToUndefined, z.string().default('0 6,18 * * *').refine(isValidCron, 'a cron expression such as "0 6,18 * * *"')),
  EXPIRY_CHECK_CRON: z.preprocess(emptyToUndefined, z.string().default('0 7 * * *').refine(isValidCron, 'a cron expression such as "0 7 * * *"')),
  LOW_LICENSE_COUNT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(5)),
  LOW_LICENSE_PERCENT: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(100).default(10)),
  NOTIFY_CONVERSATION_ID: optionalString,
  APPROVER_USER_IDS: idList,
  APPROVAL_EXPIRY_HOURS: z.preprocess(emptyToUndefined, z.coerce.number().positive().max(24 * 90).default(72)),
  ASSIGN_PROGRESS_EVERY_USERS: positiveInt(5000),
  RATE_LIMIT_USER_PER_MINUTE: nonNegativeInt(30),
  RATE_LIMIT_CONVERSATION_PER_MINUTE: nonNegativeInt(120),
  // Cosmos takes a TTL of up to 2^31 - 1 seconds (about 24,855 days).
  AUDIT_RETENTION_DAYS: nonNegativeInt(365, 24_000),
  SYNC_TIMEZONE: z.preprocess(emptyToUndefined, z.string().default('UTC').refine(isTimeZone, 'an IANA time zone such as "Europe/Berlin"')),
});

type Environment = z.infer<typeof environmentSchema>;

export interface CosmosSettings {
  /** Null in local mode until the embedded server has started and told us its port. */
  endpoint: string | undefined;
  key: string | undefined;
  useManagedIdentity: boolean;
  database: string;
}

export interface AppConfig {
  mode: 'local' | 'production';
  version: string;
  /**
   * Names this process in leases and claims. Stable across restarts on the same host, so a restarted
   * bot takes back the syncs and assignments its previous life was running instead of waiting for
   * their leases to run out.
   */
  instanceId: string;
  host: string;
  port: number;
  playground: {
    enabled: boolean;
    port: number;
    /** A second Playground signed in as Megan Bowen, the other local approver. */
    approver: { enabled: boolean; port: number };
    /** A third Playground signed in as Adele Vance, a member who is not an admin (`my books`). */
    member: { enabled: boolean; port: number };
  };
  logLevel: Environment['LOG_LEVEL'];
  localDataDir: string;
  botAuth: {
    appId: string | undefined;
    appPassword: string | undefined;
    tenantId: string | undefined;
    appType: Environment['MicrosoftAppType'];
  };
  cosmos: CosmosSettings;
  localCosmosPort: number;
  apple: {
    /** Undefined in local mode: the embedded sandbox's URL is filled in when it starts. */
    baseUrl: string | undefined;
    metadataUrl: string | undefined;
    statusPollIntervalMs: number;
    /** How long one Apple request keeps retrying 429/5xx before the run pauses (or the sync fails) and resumes later. */
    retryDeadlineMs: number;
    /** Our identity in Apple's mdmInfo: a token claimed under another id belongs to another MDM. */
    mdmId: string;
    mdmName: string;
  };
  /** The only Entra tenant whose users may use the bot. */
  tenantId: string;
  directory: {
    /** Undefined in local mode: the embedded directory's URL is filled in when it starts. */
    graphBaseUrl: string | undefined;
    /** Where a user's Managed Apple Account is kept (extensionAttributeN or a directory extension). */
    managedAppleIdAttribute: string | undefined;
  };
  localDirectoryPort: number;
  localApplePort: number;
  /** Who holds the tokens and spends licenses: the bot itself at Apple, or Microsoft Intune through Graph. */
  backend: 'apple' | 'intune';
  intune: {
    /** Graph's origin for Intune's resources (the client picks beta or v1.0 per call); undefined in local mode until the local Intune starts. */
    graphBaseUrl: string | undefined;
    /** Time between reads of a token's lastSyncStatus while Intune syncs it with Apple. */
    syncPollIntervalMs: number;
  };
  localIntunePort: number;
  /** Where the bot starts a chat with an approver when no chat of the tenant is known yet (production). */
  teamsServiceUrl: string | undefined;
  admins: { groupId: string | undefined; userIds: string[] };
  approvals: {
    /** Who may approve assignments; empty means every bot admin (but never the requester). */
    approverUserIds: string[];
    expiryMs: number;
  };
  assignProgressEveryUsers: number;
  /** Messages and card clicks a user, and a conversation, may send per minute before the bot stops answering for the minute; 0 = no limit. */
  rateLimits: { userPerMinute: number; conversationPerMinute: number };
  /** Days an audit document is kept (the audit container's TTL); 0 = for ever. */
  audit: { retentionDays: number };
  encryption: { key: string | undefined; keyId: string; oldKeys: string | undefined };
  /** Host suffixes an attached token file may be downloaded from (local mode also allows loopback). */
  tokenDownload: { hosts: string[] };
  sync: { cron: string; timeZone: string; expiryCheckCron: string };
  notifications: {
    lowLicenses: { count: number; percent: number };
    /** A Teams channel conversation for admin notices instead of each admin's personal chat. */
    adminChannelConversationId: string | undefined;
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const variable = issue.path.join('.') || 'environment';
  return `${variable}: ${issue.message}`;
}

/**
 * Reads and validates the configuration. Throws ConfigError with one line naming the first wrong
 * variable, so start-up stops with something an operator can act on.
 */
export function loadConfig(env: NodeJS.ProcessEnv, version = '0.0.0'): AppConfig {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ConfigError(`Invalid configuration: ${first ? describeIssue(first) : 'unknown error'}`);
  }
  const e = parsed.data;
  const mode = e.MicrosoftAppId ? 'production' : 'local';

  if (mode === 'production') {
    const missing = (['MicrosoftAppPassword', 'MicrosoftAppTenantId'] as const).find((k) => !e[k]);
    if (missing && e.MicrosoftAppType === 'SingleTenant') {
      throw new ConfigError(`Invalid configuration: ${missing} is required when MicrosoftAppId is set (SingleTenant bot)`);
    }
    if (!e.MicrosoftAppTenantId) {
      throw new ConfigError('Invalid configuration: MicrosoftAppTenantId is required when MicrosoftAppId is set');
    }
    // botbuilder refuses a password for a managed identity bot with an assertion that names no variable.
    if (e.MicrosoftAppType === 'UserAssignedMSI' && e.MicrosoftAppPassword) {
      throw new ConfigError(
        'Invalid configuration: MicrosoftAppPassword must be empty when MicrosoftAppType=UserAssignedMSI (MicrosoftAppId is then the managed identity\'s client id, which needs no secret)',
      );
    }
    if (!e.COSMOS_ENDPOINT) {
      throw new ConfigError('Invalid configuration: COSMOS_ENDPOINT is required in production (the Azure Cosmos DB account URL)');
    }
    if (!e.COSMOS_KEY && !e.COSMOS_USE_MANAGED_IDENTITY) {
      throw new ConfigError('Invalid configuration: COSMOS_KEY is required in production unless COSMOS_USE_MANAGED_IDENTITY=true');
    }
    if (!e.TOKEN_ENCRYPTION_KEY) {
      throw new ConfigError('Invalid configuration: TOKEN_ENCRYPTION_KEY is required in production (32 bytes, base64)');
    }
    if (!e.BOT_ADMIN_GROUP_ID && e.BOT_ADMIN_USER_IDS.length === 0) {
      throw new ConfigError('Invalid configuration: BOT_ADMIN_USER_IDS (Entra object ids) or BOT_ADMIN_GROUP_ID is required in production');
    }
  }
  if (e.TOKEN_ENCRYPTION_KEY && Buffer.from(e.TOKEN_ENCRYPTION_KEY, 'base64').length !== 32) {
    throw new ConfigError('Invalid configuration: TOKEN_ENCRYPTION_KEY must be 32 bytes encoded as base64');
  }

  return {
    mode,
    version,
    instanceId:
      e.INSTANCE_ID ??
      e.WEBSITE_INSTANCE_ID ??
      e.CONTAINER_APP_REPLICA_NAME ??
      // Locally the data folder is the instance: two bots sharing one would share everything else too.
      `${os.hostname()}:${createHash('sha256').update(path.resolve(e.LOCAL_DATA_DIR)).digest('hex').slice(0, 12)}`,
    // Local mode has no JWT validation, so it must never be reachable from another machine.
    host: mode === 'local' ? '127.0.0.1' : (e.HOST ?? '0.0.0.0'),
    port: e.PORT,
    playground: {
      enabled: mode === 'local' && e.PLAYGROUND_ENABLED,
      port: e.PLAYGROUND_PORT,
      approver: { enabled: mode === 'local' && e.PLAYGROUND_ENABLED && e.PLAYGROUND_APPROVER_ENABLED, port: e.PLAYGROUND_APPROVER_PORT },
      member: { enabled: mode === 'local' && e.PLAYGROUND_ENABLED && e.PLAYGROUND_MEMBER_ENABLED, port: e.PLAYGROUND_MEMBER_PORT },
    },
    logLevel: e.LOG_LEVEL,
    localDataDir: e.LOCAL_DATA_DIR,
    botAuth: {
      appId: e.MicrosoftAppId,
      appPassword: e.MicrosoftAppPassword,
      tenantId: e.MicrosoftAppTenantId,
      appType: e.MicrosoftAppType,
    },
    cosmos: {
      endpoint: e.COSMOS_ENDPOINT,
      key: e.COSMOS_KEY,
      useManagedIdentity: e.COSMOS_USE_MANAGED_IDENTITY,
      database: e.COSMOS_DATABASE,
    },
    localCosmosPort: e.LOCAL_COSMOS_PORT,
    apple: {
      baseUrl: e.APPLE_VPP_BASE_URL ?? (mode === 'production' ? APPLE_PRODUCTION_BASE_URL : undefined),
      metadataUrl: e.APPLE_METADATA_URL ?? (mode === 'production' ? APPLE_PRODUCTION_METADATA_URL : undefined),
      // Apple asks for 30 s between polls; the local sandbox finishes events in about a second.
      statusPollIntervalMs: e.APPLE_STATUS_POLL_INTERVAL_MS ?? (mode === 'production' ? 30_000 : 2_000),
      retryDeadlineMs: e.APPLE_RETRY_DEADLINE_SECONDS * 1000,
      mdmId: e.MDM_ID ?? (e.MicrosoftAppId ? `vpp-books-bot:${e.MicrosoftAppId}` : 'vpp-books-bot:local'),
      mdmName: e.MDM_NAME,
    },
    tenantId: mode === 'production' ? (e.MicrosoftAppTenantId ?? '') : e.LOCAL_TENANT_ID,
    directory: {
      graphBaseUrl: e.GRAPH_BASE_URL ?? (mode === 'production' ? GRAPH_PRODUCTION_BASE_URL : undefined),
      managedAppleIdAttribute: e.GRAPH_MANAGED_APPLE_ID_ATTRIBUTE,
    },
    localDirectoryPort: e.LOCAL_DIRECTORY_PORT,
    // Teams' global service URL routes to the tenant's region; a stored chat's own URL is used when there is one.
    teamsServiceUrl: e.TEAMS_SERVICE_URL ?? (mode === 'production' ? 'https://smba.trafficmanager.net/teams' : undefined),
    localApplePort: e.LOCAL_APPLE_PORT,
    backend: e.VPP_BACKEND,
    intune: {
      // The same Graph as the directory's; locally the local Intune is a server of its own.
      graphBaseUrl: e.INTUNE_GRAPH_BASE_URL ?? (mode === 'production' ? (e.GRAPH_BASE_URL ?? GRAPH_PRODUCTION_BASE_URL) : undefined),
      // Intune syncs a token with Apple in the background, usually within a minute; locally within a second.
      syncPollIntervalMs: e.INTUNE_SYNC_POLL_INTERVAL_MS ?? (mode === 'production' ? 10_000 : 250),
    },
    localIntunePort: e.LOCAL_INTUNE_PORT,
    admins: {
      groupId: e.BOT_ADMIN_GROUP_ID,
      // Local mode needs an admin out of the box: the Playground's default user.
      // Both Playground users (Alex and Megan) are admins, so either can ask and the other approve.
      userIds: mode === 'local' && e.BOT_ADMIN_USER_IDS.length === 0 && !e.BOT_ADMIN_GROUP_ID ? [e.LOCAL_ADMIN_USER_ID, PLAYGROUND_SECOND_USER_ID] : e.BOT_ADMIN_USER_IDS,
    },
    approvals: {
      // Empty: the bot's admins approve (the admin group's members, and the listed admins; locally Alex and Megan).
      approverUserIds: e.APPROVER_USER_IDS,
      expiryMs: e.APPROVAL_EXPIRY_HOURS * 3_600_000,
    },
    assignProgressEveryUsers: e.ASSIGN_PROGRESS_EVERY_USERS,
    rateLimits: { userPerMinute: e.RATE_LIMIT_USER_PER_MINUTE, conversationPerMinute: e.RATE_LIMIT_CONVERSATION_PER_MINUTE },
    audit: { retentionDays: e.AUDIT_RETENTION_DAYS },
    encryption: { key: e.TOKEN_ENCRYPTION_KEY, keyId: e.TOKEN_ENCRYPTION_KEY_ID, oldKeys: e.TOKEN_ENCRYPTION_OLD_KEYS },
    tokenDownload: { hosts: e.TOKEN_DOWNLOAD_HOSTS },
    sync: { cron: e.SYNC_CRON, timeZone: e.SYNC_TIMEZONE, expiryCheckCron: e.EXPIRY_CHECK_CRON },
    notifications: {
      lowLicenses: { count: e.LOW_LICENSE_COUNT, percent: e.LOW_LICENSE_PERCENT },
      adminChannelConversationId: e.NOTIFY_CONVERSATION_ID,
    },
  };
}
