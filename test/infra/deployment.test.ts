/**
 * No Bicep compiler can be installed here (it ships from GitHub and NuGet, not npm), so infra/main.bicep,
 * m365agents.yml and the Dockerfile are checked as text: the properties an operator relies on when
 * deploying twice, plus a structural lint (declared names, balanced brackets) that catches the edits a
 * compiler would reject first.
 */
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { environmentSchema } from '../../services/config/config';
import { toolkitParameters } from '../../infra/toolkitParameters';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Bicep without // comments (outside strings), so a commented-out line never satisfies a check. */
function withoutComments(source: string): string {
  return source
    .split('\n')
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === '\\' && inString) i++;
        else if (c === "'") inString = !inString;
        else if (!inString && c === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

const bicep = withoutComments(read('infra/main.bicep'));

interface BicepParam {
  type: string;
  defaultValue: string | undefined;
  decorators: string;
}

function params(): Map<string, BicepParam> {
  const found = new Map<string, BicepParam>();
  const re = /((?:@[^\n]*\n)*)param (\w+) (\w+)(?: = ([^\n]+))?/g;
  for (const m of bicep.matchAll(re)) found.set(m[2]!, { decorators: m[1] ?? '', type: m[3]!, defaultValue: m[4]?.trim() });
  return found;
}

/** The text of `resource <name> '<type>' = ... { ... }` up to its closing brace (or bracket, for loops). */
function resourceBody(name: string): { type: string; body: string } {
  const head = new RegExp(`^resource ${name} '([^']+)' = `, 'm').exec(bicep);
  assert.ok(head, `resource ${name} is declared`);
  let depth = 0;
  let started = false;
  for (let i = head.index; i < bicep.length; i++) {
    const c = bicep[i];
    if (c === '{' || c === '[') {
      depth++;
      started = true;
    } else if (c === '}' || c === ']') {
      depth--;
      if (started && depth === 0) return { type: head[1]!, body: bicep.slice(head.index, i + 1) };
    }
  }
  throw new Error(`resource ${name} never closes`);
}

const resourceNames = [...bicep.matchAll(/^resource (\w+) '/gm)].map((m) => m[1]!);

/** Lifecycle steps of m365agents.yml, in order: `uses` and the step's own text. */
function lifecycle(name: 'provision' | 'deploy' | 'publish'): Array<{ uses: string; text: string }> {
  const yml = read('m365agents.yml');
  const section = new RegExp(`^${name}:\\n([\\s\\S]*?)(?=^\\S|(?![\\s\\S]))`, 'm').exec(yml);
  assert.ok(section, `m365agents.yml has a ${name} lifecycle`);
  return section[1]!
    .split(/^ {2}- /m)
    .slice(1)
    .map((text) => ({ uses: /^uses: (\S+)/.exec(text)?.[1] ?? '', text: text.replace(/^\s*#.*$/gm, '') }));
}

const indexOf = (steps: Array<{ uses: string; text: string }>, test: (s: { uses: string; text: string }) => boolean) => steps.findIndex(test);

describe('deployment: infra/main.bicep, m365agents.yml and the Dockerfile', () => {
  describe('runtime', () => {
    it('runs on Node 24 LTS everywhere production is described', () => {
      assert.match(bicep, /linuxFxVersion: 'NODE\|24-lts'/);
      assert.match(read('Dockerfile'), /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
      const docs = read('docs/deploy.md');
      assert.match(docs, /Node(\.js)? 24/);
      assert.doesNotMatch(docs, /Node(\.js)? 20|NODE\|20/);
    });
  });

  describe('atk provision', () => {
    const provision = lifecycle('provision');

    it('compiles the template with a pinned Bicep release', () => {
      const deploy = provision.find((s) => s.uses === 'arm/deploy');
      assert.ok(deploy, 'an arm/deploy step');
      const version = /^ {6}bicepCliVersion: v(\d+)\.(\d+)\.(\d+)$/m.exec(deploy.text);
      assert.ok(version, 'bicepCliVersion sits under with:, as a release tag vX.Y.Z');
      assert.ok(Number(version[1]) > 0 || Number(version[2]) >= 30, `Bicep ${version[0]} is recent enough for this template`);
    });

    it('works from a fresh clone: npm ci before anything that needs node_modules', () => {
      const ci = indexOf(provision, (s) => s.uses === 'cli/runNpmCommand' && /args: ci\b/.test(s.text));
      const params = indexOf(provision, (s) => /infra\/toolkitParameters\.ts/.test(s.text));
      const pack = indexOf(provision, (s) => /npm run package/.test(s.text));
      assert.ok(ci >= 0 && params > ci && pack > ci, 'npm ci comes first');
      const publish = lifecycle('publish');
      const publishCi = indexOf(publish, (s) => s.uses === 'cli/runNpmCommand' && /args: ci\b/.test(s.text));
      assert.ok(publishCi >= 0 && publishCi < indexOf(publish, (s) => /npm run package/.test(s.text)), 'publish installs before packaging too');
    });

    it('deploys the parameters the script wrote, then removes them (they may hold the first-time secrets)', () => {
      const written = /infra\/toolkitParameters\.ts (\S+)/.exec(provision.find((s) => /infra\/toolkitParameters\.ts/.test(s.text))?.text ?? '')?.[1];
      assert.ok(written, 'the script step names its output file');
      const deployAt = indexOf(provision, (s) => s.uses === 'arm/deploy');
      assert.match(provision[deployAt]!.text, new RegExp(`parameters: \\./${written.replace(/\./g, '\\.')}\\n`));
      const removes = (s: { text: string }) => s.text.includes(`rm -f ${written}`);
      assert.ok(provision.slice(deployAt + 1).some(removes), 'removed after the deployment');
      // A failed deployment ends the provision before that step: the next one starts by removing the leftover.
      assert.ok(provision[0] && provision[0].uses === 'script' && removes(provision[0]), 'the first provision step removes a leftover');
      assert.ok(!fs.existsSync(path.join(ROOT, 'infra/m365agents.parameters.json')), 'no static parameters file with secret placeholders is left');
    });

    it('passes only parameters the template declares, with their declared types', () => {
      const declared = params();
      const { parameters } = toolkitParameters({
        RESOURCE_BASE_NAME: 'vppbooks',
        BOT_ID: '00000000-0000-0000-0000-0000000000b0',
        BOT_TENANT_ID: '00000000-0000-0000-0000-0000000000aa',
        BOT_ADMIN_GROUP_ID: 'g',
        BOT_ADMIN_USER_IDS: 'u',
        APPROVER_USER_IDS: 'a',
        SECRET_BOT_PASSWORD: 's',
        SECRET_TOKEN_ENCRYPTION_KEY: 'k',
        TOKEN_ENCRYPTION_KEY_ID: 'k2',
        SECRET_TOKEN_ENCRYPTION_OLD_KEYS: 'k1:x',
        TOKEN_ENCRYPTION_USE_OLD_KEYS: 'true',
        PRIVATE_NETWORKING: 'true',
        KEY_VAULT_CREATE_MODE: 'recover',
        KEY_VAULT_SECRETS_OFFICER_IDS: 'o',
      });
      const jsType = { string: 'string', bool: 'boolean', array: 'object', int: 'number', object: 'object' } as const;
      for (const [name, { value }] of Object.entries(parameters)) {
        const param = declared.get(name);
        assert.ok(param, `main.bicep declares ${name}`);
        assert.equal(typeof value, jsType[param.type as keyof typeof jsType], `${name} is a ${param.type}`);
      }
    });
  });

  describe('re-provisioning without the first-time secrets', () => {
    const declared = params();

    for (const name of ['tokenEncryptionKey', 'botAppPassword', 'tokenEncryptionOldKeys']) {
      it(`${name} is an optional secure parameter, written to Key Vault only when given`, () => {
        const param = declared.get(name);
        assert.ok(param);
        assert.match(param.decorators, /@secure\(\)/);
        assert.equal(param.defaultValue, "''");
        const secret = [...bicep.matchAll(/^resource (\w+) 'Microsoft\.KeyVault\/vaults\/secrets@[^']+' = if \(([^\n]+)\) \{/gm)].find((m) =>
          resourceBody(m[1]!).body.includes(`value: ${name}\n`),
        );
        assert.ok(secret, `a Key Vault secret holds ${name}`);
        assert.match(secret[2]!, new RegExp(`!empty\\(${name}\\)`));
      });
    }

    it('keeps reading the encryption key from Key Vault whether or not it was given this time', () => {
      const settings = resourceBody('site').body;
      const unconditional = /appSettings: concat\(\s*\[([\s\S]*?)\n {8}\],/.exec(settings)?.[1] ?? '';
      assert.match(unconditional, /\{ name: 'TOKEN_ENCRYPTION_KEY', value: '@Microsoft\.KeyVault\(VaultName=\$\{keyVault\.name\};SecretName=\$\{tokenKeySecretName\}\)' \}/);
      assert.match(unconditional, /\{ name: 'TOKEN_ENCRYPTION_KEY_ID', value: tokenEncryptionKeyId \}/);
      assert.doesNotMatch(unconditional, /MicrosoftAppPassword/, 'a managed identity bot must have no password setting at all');
    });

    it('offers TOKEN_ENCRYPTION_OLD_KEYS from Key Vault for the re-encryption sweep', () => {
      assert.match(bicep, /name: 'TOKEN_ENCRYPTION_OLD_KEYS'\n\s+value: '@Microsoft\.KeyVault\(VaultName=\$\{names\.keyVault\};SecretName=\$\{oldKeysSecretName\}\)'/);
      assert.match(resourceBody('site').body, /passesOldKeys \? \[oldKeysSetting\] : \[\]/);
      assert.equal(params().get('useOldEncryptionKeys')?.defaultValue, 'false');
    });

    it('names only environment variables the bot reads (or the platform does)', () => {
      const platform = new Set(['AZURE_CLIENT_ID', 'WEBSITES_PORT', 'SCM_DO_BUILD_DURING_DEPLOYMENT', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'ApplicationInsightsAgent_EXTENSION_VERSION']);
      const names = [...resourceBody('site').body.matchAll(/name: '(\w+)', value:/g), ...bicep.matchAll(/^ {2}name: '(\w+)'\n {2}value: /gm)].map((m) => m[1]!);
      assert.ok(names.length > 15);
      for (const name of names) assert.ok(name in environmentSchema.shape || platform.has(name), `${name} is read by services/config/config.ts`);
    });
  });

  describe('Key Vault', () => {
    it('can recover the soft-deleted vault a re-created resource group collides with', () => {
      const mode = params().get('keyVaultCreateMode');
      assert.equal(mode?.defaultValue, "'default'");
      assert.match(mode?.decorators ?? '', /@allowed\(\['default', 'recover'\]\)/);
      assert.match(resourceBody('keyVault').body, /createMode: keyVaultCreateMode/);
    });

    it('gives the bot Secrets User and the operators who rotate Secrets Officer', () => {
      assert.match(bicep, /keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'/);
      assert.match(bicep, /keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'/);
      const officers = resourceBody('keyVaultSecretsOfficers').body;
      assert.match(officers, /for principalId in keyVaultSecretsOfficerIds:/);
      assert.match(officers, /scope: keyVault\n/);
      assert.match(resourceBody('keyVaultSecretsUser').body, /principalId: identity\.properties\.principalId/);
    });
  });

  describe('hardening', () => {
    it('turns off basic-auth publishing for the SCM site and FTP', () => {
      for (const policy of ['scm', 'ftp']) {
        const found = [...bicep.matchAll(/^resource (\w+) 'Microsoft\.Web\/sites\/basicPublishingCredentialsPolicies@[^']+' = \{/gm)]
          .map((m) => resourceBody(m[1]!).body)
          .find((body) => body.includes(`name: '${policy}'`));
        assert.ok(found, `a ${policy} policy`);
        assert.match(found, /parent: site\n/);
        assert.match(found, /allow: false/);
      }
    });

    it('scopes the Cosmos DB data role to the bot\'s database, not the account', () => {
      const role = resourceBody('cosmosDataContributor').body;
      assert.match(role, /scope: '\$\{cosmos\.id\}\/dbs\/\$\{cosmosDatabaseName\}'/);
      assert.doesNotMatch(bicep, /scope: cosmos\.id/);
    });

    it('offers private networking, off by default: private endpoints, private DNS, VNet integration', () => {
      assert.equal(params().get('privateNetworking')?.defaultValue, 'false');
      assert.match(resourceBody('cosmos').body, /publicNetworkAccess: privateNetworking \? 'Disabled' : 'Enabled'/);
      assert.match(resourceBody('keyVault').body, /publicNetworkAccess: privateNetworking \? 'Disabled' : 'Enabled'/);
      const endpoints: Array<[string, string, string, string]> = [
        ['cosmosPrivateEndpoint', 'cosmos.id', 'Sql', 'cosmosDnsZone'],
        ['keyVaultPrivateEndpoint', 'keyVault.id', 'vault', 'keyVaultDnsZone'],
      ];
      for (const [endpoint, target, group, zone] of endpoints) {
        assert.match(resourceBody(endpoint).body, new RegExp(`= if \\(privateNetworking\\)[\\s\\S]*privateLinkServiceId: ${target.replace('.', '\\.')}, groupIds: \\['${group}'\\]`));
        const dnsGroup = resourceNames.map((n) => resourceBody(n).body).find((b) => b.includes(`parent: ${endpoint}\n`));
        assert.ok(dnsGroup?.includes(`privateDnsZoneId: ${zone}.id`), `${endpoint} registers in ${zone}`);
      }
      assert.match(resourceBody('cosmosDnsZone').body, /name: 'privatelink\.documents\.azure\.com'/);
      assert.match(resourceBody('keyVaultDnsZone').body, /name: 'privatelink\.vaultcore\.azure\.net'/);
      for (const link of ['cosmosDnsLink', 'keyVaultDnsLink']) assert.match(resourceBody(link).body, /virtualNetwork: \{ id: vnet\.id \}/);
      assert.match(resourceBody('vnet').body, /serviceName: 'Microsoft\.Web\/serverFarms'/);
      const site = resourceBody('site').body;
      assert.match(site, /virtualNetworkSubnetId: privateNetworking \? appSubnetId : null/);
      assert.match(site, /vnetRouteAllEnabled: privateNetworking/, 'Linux apps need it to resolve Key Vault references privately');
    });

    it('probes readiness (cached downstream checks), not liveness, and expires audit records after the retention', () => {
      const site = resourceBody('site').body;
      assert.match(site, /healthCheckPath: '\/readyz'/);
      assert.equal(params().get('auditRetentionDays')?.defaultValue, '365');
      assert.match(bicep, /\{ name: 'audit', partitionKey: '\/tenantId', defaultTtl: auditRetentionDays \* 86400 \}/);
      assert.match(site, /\{ name: 'AUDIT_RETENTION_DAYS', value: string\(auditRetentionDays\) \}/);
    });

    it('runs a UserAssignedMSI bot as the template\'s managed identity', () => {
      assert.match(params().get('botAppType')?.decorators ?? '', /@allowed\(\['SingleTenant', 'UserAssignedMSI'\]\)/);
      const bot = resourceBody('bot').body;
      assert.match(bot, /msaAppType: botAppType/);
      assert.match(bot, /msaAppMSIResourceId: usesManagedIdentityBot \? identity\.id : null/);
      assert.match(resourceBody('site').body, /\{ name: 'MicrosoftAppId', value: usesManagedIdentityBot \? identity\.properties\.clientId : botAppId \}/);
    });
  });

  describe('structure (what the compiler would reject first)', () => {
    it('balances its brackets and quotes', () => {
      const stack: string[] = [];
      const pairs: Record<string, string> = { '}': '{', ']': '[', ')': '(' };
      bicep.split('\n').forEach((line, n) => {
        let inString = false;
        for (let i = 0; i < line.length; i++) {
          const c = line[i]!;
          if (inString) {
            if (c === '\\') i++;
            else if (c === "'") inString = false;
            continue;
          }
          if (c === "'") inString = true;
          else if ('{[('.includes(c)) stack.push(c);
          else if (c in pairs) assert.equal(stack.pop(), pairs[c], `line ${n + 1}: unbalanced ${c}`);
        }
        assert.ok(!inString, `line ${n + 1}: unterminated string`);
      });
      assert.deepEqual(stack, []);
    });

    it('declares every name once and depends only on declared resources', () => {
      const symbols = [...bicep.matchAll(/^(?:param|var|resource|output) (\w+)/gm)].map((m) => m[1]!);
      assert.deepEqual(symbols.filter((s, i) => symbols.indexOf(s) !== i), [], 'no duplicate symbols');
      for (const block of bicep.matchAll(/dependsOn: \[([^\]]*)\]/g)) {
        for (const dep of block[1]!.split('\n').map((s) => s.trim()).filter(Boolean)) assert.ok(resourceNames.includes(dep), `dependsOn ${dep} is a resource`);
      }
      for (const parent of bicep.matchAll(/parent: (\w+)/g)) assert.ok(resourceNames.includes(parent[1]!), `parent ${parent[1]} is a resource`);
    });

    it('infra/main.parameters.json sets only declared parameters, with their declared types', () => {
      const declared = params();
      const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> };
      const jsType = { string: 'string', bool: 'boolean', array: 'object', int: 'number', object: 'object' } as const;
      for (const [name, { value }] of Object.entries(file.parameters)) {
        const param = declared.get(name);
        assert.ok(param, `main.bicep declares ${name}`);
        assert.equal(typeof value, jsType[param.type as keyof typeof jsType], `${name} is a ${param.type}`);
      }
    });

    it('uses every parameter and variable it declares', () => {
      for (const m of bicep.matchAll(/^(param|var) (\w+)/gm)) {
        const uses = bicep.match(new RegExp(`\\b${m[2]}\\b`, 'g'))?.length ?? 0;
        assert.ok(uses > 1, `${m[1]} ${m[2]} is used`);
      }
    });
  });
});
