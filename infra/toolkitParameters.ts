/**
 * Builds the parameters file that the Agents Toolkit's arm/deploy step hands to infra/main.bicep
 * (m365agents.yml, `atk provision`).
 *
 * Why not a static parameters file: the Toolkit fails on any `${{VAR}}` left in it, and it leaves a
 * placeholder unresolved when the variable is missing *or empty*. A static file naming the first-time
 * secrets (the bot's client secret, the token encryption key) would then need them on every re-provision,
 * and passing the encryption key again is exactly what must not happen. Here each optional parameter is
 * written only when its variable has a value.
 *
 *   node --import tsx infra/toolkitParameters.ts [out.json]     (default .tmp/m365agents.parameters.json)
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { KeyConfigurationError } from '../services/crypto/errors';
import { parseOldKeys } from '../services/crypto/keyConfig';

export const DEFAULT_OUT = '.tmp/m365agents.parameters.json';

const blankToUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optional = z.preprocess(blankToUndefined, z.string().trim().optional());
const flag = z.preprocess(blankToUndefined, z.enum(['true', 'false']).optional());

/** The variables of env/.env.<env> and env/.env.<env>.user that reach the template. */
const toolkitEnvironmentSchema = z.object({
  RESOURCE_BASE_NAME: z.preprocess(blankToUndefined, z.string({ error: 'is required (short prefix for resource names)' }).regex(/^[A-Za-z0-9]{3,16}$/, '3 to 16 letters and digits')),
  BOT_TENANT_ID: z.preprocess(blankToUndefined, z.string({ error: 'is required (the Entra tenant id)' }).regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a tenant id (GUID)')),
  BOT_APP_TYPE: z.preprocess(blankToUndefined, z.enum(['SingleTenant', 'UserAssignedMSI']).default('SingleTenant')),
  BOT_ID: optional,
  SECRET_BOT_PASSWORD: optional,
  SECRET_TOKEN_ENCRYPTION_KEY: optional,
  TOKEN_ENCRYPTION_KEY_ID: z.preprocess(blankToUndefined, z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'letters, digits and dashes (it names a Key Vault secret)').optional()),
  SECRET_TOKEN_ENCRYPTION_OLD_KEYS: optional,
  TOKEN_ENCRYPTION_USE_OLD_KEYS: flag,
  /** Written by the previous provision (a template output): the key id whose secret already holds a key. */
  DEPLOYED_TOKEN_ENCRYPTION_KEY_ID: optional,
  /** Also an output; provisions made before DEPLOYED_TOKEN_ENCRYPTION_KEY_ID existed only ever stored k1. */
  KEY_VAULT_NAME: optional,
  BOT_ADMIN_GROUP_ID: optional,
  VPP_BACKEND: z.enum(['apple', 'intune']).optional(),
  BOT_ADMIN_USER_IDS: optional,
  APPROVER_USER_IDS: optional,
  PRIVATE_NETWORKING: flag,
  KEY_VAULT_CREATE_MODE: z.preprocess(blankToUndefined, z.enum(['default', 'recover']).optional()),
  KEY_VAULT_SECRETS_OFFICER_IDS: optional,
});

export type ToolkitEnvironment = z.infer<typeof toolkitEnvironmentSchema>;

export class ToolkitParametersError extends Error {
  override readonly name = 'ToolkitParametersError';
}

export interface ParametersFile {
  $schema: string;
  contentVersion: string;
  parameters: Record<string, { value: string | boolean | string[] }>;
}

const SECRET_PARAMETERS = new Set(['botAppPassword', 'tokenEncryptionKey', 'tokenEncryptionOldKeys']);

/** The parameters for infra/main.bicep from the Toolkit's environment; throws ToolkitParametersError naming the variable. */
export function toolkitParameters(env: NodeJS.ProcessEnv): ParametersFile {
  const parsed = toolkitEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ToolkitParametersError(`${issue?.path.join('.') ?? 'environment'}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  if (e.BOT_APP_TYPE === 'SingleTenant' && !e.BOT_ID) {
    throw new ToolkitParametersError('BOT_ID: is required (the app registration\'s client id) unless BOT_APP_TYPE=UserAssignedMSI');
  }
  if (!e.BOT_ADMIN_GROUP_ID && !e.BOT_ADMIN_USER_IDS) {
    throw new ToolkitParametersError('BOT_ADMIN_GROUP_ID or BOT_ADMIN_USER_IDS: one is required (who may use the bot)');
  }
  const keyId = e.TOKEN_ENCRYPTION_KEY_ID ?? 'k1';
  const deployedKeyId = e.DEPLOYED_TOKEN_ENCRYPTION_KEY_ID ?? (e.KEY_VAULT_NAME ? 'k1' : undefined);
  if (e.SECRET_TOKEN_ENCRYPTION_KEY && deployedKeyId === keyId) {
    // Writing it would replace the key every stored VPP token is encrypted under.
    throw new ToolkitParametersError(
      `SECRET_TOKEN_ENCRYPTION_KEY: key "${keyId}" is already in Key Vault. Remove SECRET_TOKEN_ENCRYPTION_KEY from the .user env file, ` +
        'or give TOKEN_ENCRYPTION_KEY_ID a new id to rotate (docs/deploy.md, "Rotating the token encryption key").',
    );
  }
  if (!e.SECRET_TOKEN_ENCRYPTION_KEY && !deployedKeyId) {
    throw new ToolkitParametersError('SECRET_TOKEN_ENCRYPTION_KEY: is required on the first provision (openssl rand -base64 32)');
  }
  if (deployedKeyId && keyId !== deployedKeyId) checkRotation(e, deployedKeyId, keyId);

  const parameters: ParametersFile['parameters'] = {
    baseName: { value: e.RESOURCE_BASE_NAME },
    botTenantId: { value: e.BOT_TENANT_ID },
    botAppType: { value: e.BOT_APP_TYPE },
  };
  const add = (name: string, value: string | boolean | string[] | undefined): void => {
    if (value !== undefined) parameters[name] = { value };
  };
  // Required by the template (a forgotten id must fail the deployment); a managed identity bot ignores it.
  add('botAppId', e.BOT_APP_TYPE === 'SingleTenant' ? e.BOT_ID : '');
  add('botAppPassword', e.BOT_APP_TYPE === 'SingleTenant' ? e.SECRET_BOT_PASSWORD : undefined);
  add('tokenEncryptionKey', e.SECRET_TOKEN_ENCRYPTION_KEY);
  add('tokenEncryptionKeyId', e.TOKEN_ENCRYPTION_KEY_ID);
  add('tokenEncryptionOldKeys', e.SECRET_TOKEN_ENCRYPTION_OLD_KEYS);
  add('useOldEncryptionKeys', e.TOKEN_ENCRYPTION_USE_OLD_KEYS === undefined ? undefined : e.TOKEN_ENCRYPTION_USE_OLD_KEYS === 'true');
  add('botAdminGroupId', e.BOT_ADMIN_GROUP_ID);
  add('vppBackend', e.VPP_BACKEND);
  add('botAdminUserIds', e.BOT_ADMIN_USER_IDS);
  add('approverUserIds', e.APPROVER_USER_IDS);
  add('privateNetworking', e.PRIVATE_NETWORKING === undefined ? undefined : e.PRIVATE_NETWORKING === 'true');
  add('keyVaultCreateMode', e.KEY_VAULT_CREATE_MODE);
  add(
    'keyVaultSecretsOfficerIds',
    e.KEY_VAULT_SECRETS_OFFICER_IDS?.split(',')
      .map((id) => id.trim())
      .filter((id) => id.length > 0),
  );
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#',
    contentVersion: '1.0.0.0',
    parameters,
  };
}

const ROTATION_DOCS = 'docs/deploy.md, "Rotating the token encryption key"';

/**
 * A changed TOKEN_ENCRYPTION_KEY_ID is a key rotation, and each half-done one breaks the bot: without the new
 * key the app setting names a Key Vault secret that doesn't exist and the bot can't start; without the
 * deployed key among the old keys (or once TOKEN_ENCRYPTION_USE_OLD_KEYS is not true on a later provision)
 * every stored VPP token is unreadable.
 */
function checkRotation(e: ToolkitEnvironment, deployedKeyId: string, keyId: string): void {
  const rotating = `TOKEN_ENCRYPTION_KEY_ID changes from "${deployedKeyId}" to "${keyId}" (a key rotation)`;
  if (!e.SECRET_TOKEN_ENCRYPTION_KEY) {
    throw new ToolkitParametersError(
      `SECRET_TOKEN_ENCRYPTION_KEY: is required because ${rotating}: the bot would look for key "${keyId}" in a Key Vault secret that doesn't exist. ` +
        `Put a new key (openssl rand -base64 32) in the .user env file, or set TOKEN_ENCRYPTION_KEY_ID back to "${deployedKeyId}" (${ROTATION_DOCS}).`,
    );
  }
  let oldKeys: Map<string, Buffer>;
  try {
    oldKeys = parseOldKeys(e.SECRET_TOKEN_ENCRYPTION_OLD_KEYS);
  } catch (err) {
    // KeyConfigurationError messages name key ids only, never key material.
    throw new ToolkitParametersError(`SECRET_TOKEN_ENCRYPTION_OLD_KEYS: ${err instanceof KeyConfigurationError ? err.message : 'is not "id:base64,id:base64"'}`);
  }
  if (!oldKeys.has(deployedKeyId)) {
    throw new ToolkitParametersError(
      `SECRET_TOKEN_ENCRYPTION_OLD_KEYS: must hold "${deployedKeyId}:<the current key>" because ${rotating}: the stored VPP tokens are encrypted under "${deployedKeyId}" ` +
        `and would all be unreadable without it (${ROTATION_DOCS}).`,
    );
  }
  if (e.TOKEN_ENCRYPTION_USE_OLD_KEYS !== 'true') {
    throw new ToolkitParametersError(
      `TOKEN_ENCRYPTION_USE_OLD_KEYS: must be true in env/.env.<env> because ${rotating}: the bot needs key "${deployedKeyId}" until the re-encryption sweep is done, ` +
        `and the next provision, without SECRET_TOKEN_ENCRYPTION_OLD_KEYS, would otherwise drop it (${ROTATION_DOCS}).`,
    );
  }
}

/** One line for the provision log: which parameters were passed, secrets by name only. */
export function describeParameters(file: ParametersFile): string {
  return Object.entries(file.parameters)
    .map(([name, { value }]) => (SECRET_PARAMETERS.has(name) ? `${name}=(secret)` : `${name}=${JSON.stringify(value)}`))
    .join(' ');
}

/**
 * Writes the file readable by its owner only: it may hold the first-time secrets. Whatever an earlier run
 * left there goes first, also when this environment is refused, so a refusal never leaves secrets behind.
 */
export function writeToolkitParameters(env: NodeJS.ProcessEnv, out: string): ParametersFile {
  fs.rmSync(out, { force: true });
  const file = toolkitParameters(env);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  return file;
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? DEFAULT_OUT);
  try {
    const file = writeToolkitParameters(process.env, out);
    process.stdout.write(`infra/main.bicep parameters (${path.relative(process.cwd(), out)}): ${describeParameters(file)}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof ToolkitParametersError ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
