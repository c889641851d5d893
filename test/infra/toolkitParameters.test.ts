import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describeParameters, toolkitParameters, ToolkitParametersError, writeToolkitParameters } from '../../infra/toolkitParameters';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

const KEY = Buffer.alloc(32, 9).toString('base64');
const NEW_KEY = Buffer.alloc(32, 4).toString('base64');
const BOT_SECRET = 'bot~client.secret_value';

/** env/.env.dev plus env/.env.dev.user as the Toolkit merges them into the environment. */
const firstProvision = {
  RESOURCE_BASE_NAME: 'vppbooks',
  BOT_ID: '00000000-0000-0000-0000-0000000000b0',
  BOT_TENANT_ID: '00000000-0000-0000-0000-0000000000aa',
  BOT_ADMIN_GROUP_ID: '00000000-0000-0000-0000-0000000000a1',
  SECRET_BOT_PASSWORD: BOT_SECRET,
  SECRET_TOKEN_ENCRYPTION_KEY: KEY,
};

/** What the first provision wrote back to env/.env.dev (template outputs), with the secrets removed from .user. */
const reProvision = {
  RESOURCE_BASE_NAME: 'vppbooks',
  BOT_ID: '00000000-0000-0000-0000-0000000000b0',
  BOT_TENANT_ID: '00000000-0000-0000-0000-0000000000aa',
  BOT_ADMIN_GROUP_ID: '00000000-0000-0000-0000-0000000000a1',
  KEY_VAULT_NAME: 'vppbooks-kv-abcdefghij',
  DEPLOYED_TOKEN_ENCRYPTION_KEY_ID: 'k1',
};

const refusal = (pattern: RegExp) => (err: unknown) => err instanceof ToolkitParametersError && pattern.test(err.message);

describe('the Agents Toolkit parameters for infra/main.bicep (atk provision)', () => {
  it('passes the first-time secrets on the first provision', () => {
    const { parameters } = toolkitParameters(firstProvision);
    assert.equal(parameters.tokenEncryptionKey?.value, KEY);
    assert.equal(parameters.botAppPassword?.value, BOT_SECRET);
    assert.equal(parameters.botAppId?.value, firstProvision.BOT_ID);
    assert.equal(parameters.botAppType?.value, 'SingleTenant');
  });

  it('re-provisions without them: no secret parameter, so Key Vault keeps what it has', () => {
    const file = toolkitParameters(reProvision);
    assert.equal(file.parameters.tokenEncryptionKey, undefined);
    assert.equal(file.parameters.botAppPassword, undefined);
    assert.doesNotMatch(JSON.stringify(file), /\$\{\{/, 'no placeholder for the Toolkit to trip over');
  });

  it('refuses a left-over encryption key that would replace the one the stored tokens use', () => {
    assert.throws(() => toolkitParameters({ ...reProvision, SECRET_TOKEN_ENCRYPTION_KEY: NEW_KEY }), refusal(/SECRET_TOKEN_ENCRYPTION_KEY: key "k1" is already in Key Vault/));
    // A provision made before DEPLOYED_TOKEN_ENCRYPTION_KEY_ID existed left only KEY_VAULT_NAME behind.
    const legacy = { ...reProvision, DEPLOYED_TOKEN_ENCRYPTION_KEY_ID: undefined, SECRET_TOKEN_ENCRYPTION_KEY: NEW_KEY };
    assert.throws(() => toolkitParameters(legacy), refusal(/key "k1" is already in Key Vault/));
  });

  it('asks for the encryption key on the first provision', () => {
    assert.throws(() => toolkitParameters({ ...firstProvision, SECRET_TOKEN_ENCRYPTION_KEY: '' }), refusal(/^SECRET_TOKEN_ENCRYPTION_KEY: is required on the first provision/));
  });

  it('rotates: a new key under a new id, with the old keys kept for the re-encryption sweep', () => {
    const { parameters } = toolkitParameters({
      ...reProvision,
      TOKEN_ENCRYPTION_KEY_ID: 'k2',
      SECRET_TOKEN_ENCRYPTION_KEY: NEW_KEY,
      SECRET_TOKEN_ENCRYPTION_OLD_KEYS: `k1:${KEY}`,
      TOKEN_ENCRYPTION_USE_OLD_KEYS: 'true',
    });
    assert.equal(parameters.tokenEncryptionKeyId?.value, 'k2');
    assert.equal(parameters.tokenEncryptionKey?.value, NEW_KEY);
    assert.equal(parameters.tokenEncryptionOldKeys?.value, `k1:${KEY}`);
    assert.equal(parameters.useOldEncryptionKeys?.value, true);
  });

  describe('refuses a half-done rotation (a changed TOKEN_ENCRYPTION_KEY_ID)', () => {
    const rotation = {
      ...reProvision,
      TOKEN_ENCRYPTION_KEY_ID: 'k2',
      SECRET_TOKEN_ENCRYPTION_KEY: NEW_KEY,
      SECRET_TOKEN_ENCRYPTION_OLD_KEYS: `k1:${KEY}`,
      TOKEN_ENCRYPTION_USE_OLD_KEYS: 'true',
    };
    const expectRefusal = (env: NodeJS.ProcessEnv, pattern: RegExp) =>
      assert.throws(
        () => toolkitParameters(env),
        (err: unknown) => {
          assert.ok(err instanceof ToolkitParametersError);
          assert.match(err.message, pattern);
          assert.ok(!err.message.includes(KEY) && !err.message.includes(NEW_KEY), 'no key in the message');
          return true;
        },
      );

    it('without the new key: the app setting would name a Key Vault secret that does not exist', () => {
      expectRefusal({ ...rotation, SECRET_TOKEN_ENCRYPTION_KEY: '' }, /^SECRET_TOKEN_ENCRYPTION_KEY: is required because TOKEN_ENCRYPTION_KEY_ID changes from "k1" to "k2".*set TOKEN_ENCRYPTION_KEY_ID back to "k1"/);
      // A mistyped id with nothing else set is the same mistake.
      expectRefusal({ ...reProvision, TOKEN_ENCRYPTION_KEY_ID: 'k1-' }, /^SECRET_TOKEN_ENCRYPTION_KEY: is required because TOKEN_ENCRYPTION_KEY_ID changes from "k1" to "k1-"/);
    });

    it('without the deployed key among the old keys: every stored token would be unreadable', () => {
      expectRefusal({ ...rotation, SECRET_TOKEN_ENCRYPTION_OLD_KEYS: undefined }, /^SECRET_TOKEN_ENCRYPTION_OLD_KEYS: must hold "k1:<the current key>"/);
      expectRefusal({ ...rotation, SECRET_TOKEN_ENCRYPTION_OLD_KEYS: `k0:${KEY}` }, /^SECRET_TOKEN_ENCRYPTION_OLD_KEYS: must hold "k1:/);
      expectRefusal({ ...rotation, DEPLOYED_TOKEN_ENCRYPTION_KEY_ID: 'k2', TOKEN_ENCRYPTION_KEY_ID: 'k3' }, /^SECRET_TOKEN_ENCRYPTION_OLD_KEYS: must hold "k2:/);
      expectRefusal({ ...rotation, SECRET_TOKEN_ENCRYPTION_OLD_KEYS: 'k1:not-a-32-byte-key' }, /^SECRET_TOKEN_ENCRYPTION_OLD_KEYS: Encryption key "k1" must be 32 bytes/);
      expectRefusal({ ...rotation, SECRET_TOKEN_ENCRYPTION_OLD_KEYS: KEY }, /^SECRET_TOKEN_ENCRYPTION_OLD_KEYS: .*"id:base64,id:base64"/);
    });

    it('without TOKEN_ENCRYPTION_USE_OLD_KEYS=true: the next provision would drop the old keys', () => {
      expectRefusal({ ...rotation, TOKEN_ENCRYPTION_USE_OLD_KEYS: undefined }, /^TOKEN_ENCRYPTION_USE_OLD_KEYS: must be true/);
      expectRefusal({ ...rotation, TOKEN_ENCRYPTION_USE_OLD_KEYS: 'false' }, /^TOKEN_ENCRYPTION_USE_OLD_KEYS: must be true/);
    });

    it('accepts it complete, also next to keys of earlier rotations, and after it while the id stays', () => {
      assert.equal(toolkitParameters({ ...rotation, SECRET_TOKEN_ENCRYPTION_OLD_KEYS: `k0:${NEW_KEY}, k1:${KEY}` }).parameters.tokenEncryptionKeyId?.value, 'k2');
      // The provision after: the outputs say k2 is deployed, and the secrets are gone from the .user file.
      const after = toolkitParameters({ ...reProvision, DEPLOYED_TOKEN_ENCRYPTION_KEY_ID: 'k2', TOKEN_ENCRYPTION_KEY_ID: 'k2', TOKEN_ENCRYPTION_USE_OLD_KEYS: 'true' });
      assert.equal(after.parameters.tokenEncryptionKey, undefined);
      assert.equal(after.parameters.useOldEncryptionKeys?.value, true);
    });
  });

  it('runs a managed identity bot without an app registration or its secret', () => {
    const { parameters } = toolkitParameters({ ...firstProvision, BOT_APP_TYPE: 'UserAssignedMSI', BOT_ID: '' });
    assert.equal(parameters.botAppType?.value, 'UserAssignedMSI');
    assert.equal(parameters.botAppId?.value, '', 'the template requires it and ignores it');
    assert.equal(parameters.botAppPassword, undefined, 'a managed identity bot must have no password');
  });

  it('passes the network and Key Vault options with their types', () => {
    const { parameters } = toolkitParameters({
      ...reProvision,
      PRIVATE_NETWORKING: 'true',
      KEY_VAULT_CREATE_MODE: 'recover',
      KEY_VAULT_SECRETS_OFFICER_IDS: ' 00000000-0000-0000-0000-0000000000c1, 00000000-0000-0000-0000-0000000000c2 ',
    });
    assert.equal(parameters.privateNetworking?.value, true);
    assert.equal(parameters.keyVaultCreateMode?.value, 'recover');
    assert.deepEqual(parameters.keyVaultSecretsOfficerIds?.value, ['00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000c2']);
  });

  it('names the variable that is missing or wrong', () => {
    assert.throws(() => toolkitParameters({ ...reProvision, BOT_ID: undefined }), refusal(/^BOT_ID: is required/));
    assert.throws(() => toolkitParameters({ ...reProvision, RESOURCE_BASE_NAME: undefined }), refusal(/^RESOURCE_BASE_NAME: /));
    assert.throws(() => toolkitParameters({ ...reProvision, BOT_ADMIN_GROUP_ID: '' }), refusal(/BOT_ADMIN_GROUP_ID or BOT_ADMIN_USER_IDS/));
    assert.throws(() => toolkitParameters({ ...reProvision, TOKEN_ENCRYPTION_KEY_ID: 'k 2' }), refusal(/^TOKEN_ENCRYPTION_KEY_ID: letters, digits and dashes/));
    assert.throws(() => toolkitParameters({ ...reProvision, PRIVATE_NETWORKING: 'yes please' }), refusal(/^PRIVATE_NETWORKING: /));
  });

  it('logs parameter names, never secret values', () => {
    const line = describeParameters(toolkitParameters({ ...firstProvision, SECRET_TOKEN_ENCRYPTION_OLD_KEYS: `k0:${NEW_KEY}` }));
    assert.match(line, /tokenEncryptionKey=\(secret\)/);
    assert.match(line, /baseName="vppbooks"/);
    for (const secret of [KEY, NEW_KEY, BOT_SECRET]) assert.ok(!line.includes(secret));
  });

  it('writes the file for its owner only, as the m365agents.yml step runs it', async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolkit-params-'));
    try {
      const out = path.join(dir, 'nested', 'params.json');
      writeToolkitParameters(firstProvision, out);
      assert.equal(fs.statSync(out).mode & 0o777, 0o600);

      const cliOut = path.join(dir, 'cli.json');
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'infra/toolkitParameters.ts', cliOut], { cwd: ROOT, env: { ...process.env, ...firstProvision } });
      assert.ok(!stdout.includes(KEY) && !stdout.includes(BOT_SECRET), 'the provision log shows no secret');
      const written = JSON.parse(fs.readFileSync(cliOut, 'utf8')) as { parameters: Record<string, { value: unknown }> };
      assert.equal(written.parameters.tokenEncryptionKey?.value, KEY);

      await assert.rejects(
        run(process.execPath, ['--import', 'tsx', 'infra/toolkitParameters.ts', cliOut], { cwd: ROOT, env: { ...process.env, ...reProvision, SECRET_TOKEN_ENCRYPTION_KEY: NEW_KEY } }),
        (err: { code?: number; stderr?: string }) => err.code === 1 && /already in Key Vault/.test(err.stderr ?? ''),
      );
      assert.ok(!fs.existsSync(cliOut), 'a refused run leaves no earlier run\'s secrets behind');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
