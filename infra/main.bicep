// VPP Books bot: production resources in one resource group.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json
// docs/deploy.md walks through the whole installation.
targetScope = 'resourceGroup'

@description('Short prefix for resource names (letters and digits).')
@minLength(3)
@maxLength(16)
param baseName string = 'vppbooks'

@description('Region for everything but the bot registration (which is global).')
param location string = resourceGroup().location

@description('How the bot signs in to Bot Framework and Microsoft Graph. SingleTenant: an Entra app registration with a client secret (botAppId, botAppPassword). UserAssignedMSI: the user-assigned managed identity this template creates, with no secret at all (botAppId and botAppPassword are ignored; grant the identity the Graph permissions, docs/deploy.md). An existing Azure Bot cannot change type: delete it first.')
@allowed(['SingleTenant', 'UserAssignedMSI'])
param botAppType string = 'SingleTenant'

@description('Application (client) ID of the single-tenant Entra app registration the bot signs in with. Required, so that a deployment that forgets it fails instead of leaving the bot without an identity; ignored (give any value) for UserAssignedMSI.')
param botAppId string

@description('Client secret of that app registration (SingleTenant), stored in Key Vault only. Leave empty on later deployments to keep the stored one.')
@secure()
param botAppPassword string = ''

@description('Entra tenant of the app registration and of the users allowed to use the bot.')
param botTenantId string = tenant().tenantId

@description('32 random bytes, base64 (openssl rand -base64 32): encrypts VPP tokens at rest. Stored in Key Vault only, in the secret of tokenEncryptionKeyId. Give it on the first deployment, and again only together with a new tokenEncryptionKeyId when rotating: leave it empty on every other deployment.')
@secure()
param tokenEncryptionKey string = ''

@description('Label of the current key, kept next to each encrypted token so the key can be rotated (letters, digits and dashes: it names the Key Vault secret). k1 lives in the secret token-encryption-key, any other id in token-encryption-key-<id>.')
@minLength(1)
@maxLength(64)
param tokenEncryptionKeyId string = 'k1'

@description('While rotating: the previous keys as "id:base64,id:base64" (TOKEN_ENCRYPTION_OLD_KEYS), written to the Key Vault secret token-encryption-old-keys. Give it once, when rotating; later deployments keep the stored value.')
@secure()
param tokenEncryptionOldKeys string = ''

@description('Give the bot TOKEN_ENCRYPTION_OLD_KEYS from the Key Vault secret token-encryption-old-keys. Keep true on every deployment until the re-encryption sweep reports that no token uses an old key, then set false.')
param useOldEncryptionKeys bool = false

@description('default, or recover to bring back a soft-deleted vault of the same name (a resource group re-created within 90 days). Purge protection makes purging impossible until the retention ends.')
@allowed(['default', 'recover'])
param keyVaultCreateMode string = 'default'

@description('Object IDs of the people (or a group) who rotate secrets: they get Key Vault Secrets Officer on the vault. The bot itself only has Key Vault Secrets User.')
param keyVaultSecretsOfficerIds array = []

@description('Cosmos DB and Key Vault reachable only through private endpoints in a new virtual network, to which the web app is integrated (public network access off). The bot\'s endpoint stays public: Teams must reach it.')
param privateNetworking bool = false

@description('Address space of that virtual network (privateNetworking).')
param vnetAddressPrefix string = '10.80.0.0/22'

@description('Subnet delegated to the App Service plan for VNet integration (privateNetworking). /26 or larger.')
param appSubnetPrefix string = '10.80.0.0/24'

@description('Subnet of the Cosmos DB and Key Vault private endpoints (privateNetworking).')
param privateEndpointSubnetPrefix string = '10.80.1.0/24'

@description('Object ID of the Entra group whose members may use the bot. Set this or botAdminUserIds.')
param botAdminGroupId string = ''

@description('Comma-separated Entra object IDs of admins, in addition to or instead of the group.')
param botAdminUserIds string = ''

@description('Comma-separated Entra object IDs of the users who approve assignments. Empty: every bot admin (the admin group, transitively, and botAdminUserIds).')
param approverUserIds string = ''

@description('Name Apple shows as the MDM holding a VPP token (mdmInfo.name).')
param mdmName string = 'VPP Books bot'

@description('Who holds the VPP tokens: apple (the bot itself, at Apple) or intune (Microsoft Intune, through Graph; grant DeviceManagementApps.ReadWrite.All).')
@allowed(['apple', 'intune'])
param vppBackend string = 'apple'

@description('Cron expression (in syncTimeZone) for scheduled syncs. Default: twice a day, like Intune.')
param syncCron string = '0 6,18 * * *'

param syncTimeZone string = 'UTC'

@allowed(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
param logLevel string = 'info'

@description('How long audit records (refusals, approvals, token changes) are kept, in days; 0 keeps them for ever. Set it to what your compliance policy asks for.')
@minValue(0)
@maxValue(24000)
param auditRetentionDays int = 365

@description('Cosmos DB database name (COSMOS_DATABASE).')
param cosmosDatabaseName string = 'vppbooks'

@description('Serverless Cosmos DB (pay per request) suits the bot\'s bursty, low traffic. false = provisioned autoscale throughput.')
param cosmosServerless bool = true

@description('Autoscale maximum RU/s shared by the database when cosmosServerless is false.')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('App Service plan SKU. Basic or higher: Always On keeps the sync scheduler running.')
@allowed(['B1', 'B2', 'B3', 'S1', 'S2', 'P0v3', 'P1v3', 'P2v3'])
param appServiceSku string = 'B1'

@description('Azure Bot pricing tier. Teams is a standard channel, free on F0.')
@allowed(['F0', 'S1'])
param botSku string = 'F0'

param botDisplayName string = 'VPP Books'

param tags object = { app: 'vpp-books-bot' }

var suffix = uniqueString(resourceGroup().id, baseName)
var names = {
  identity: '${baseName}-id'
  logs: '${baseName}-logs'
  insights: '${baseName}-ai'
  keyVault: '${take(baseName, 8)}-kv-${take(suffix, 10)}'
  cosmos: toLower('${baseName}-cosmos-${suffix}')
  plan: '${baseName}-plan'
  site: toLower('${baseName}-${suffix}')
  bot: '${baseName}-bot-${suffix}'
  vnet: '${baseName}-vnet'
}

var usesManagedIdentityBot = botAppType == 'UserAssignedMSI'

var appSubnetId = resourceId('Microsoft.Network/virtualNetworks/subnets', names.vnet, 'app')
var privateEndpointSubnetId = resourceId('Microsoft.Network/virtualNetworks/subnets', names.vnet, 'private-endpoints')

// Built-in role and Cosmos data-plane role IDs.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'

// The containers services/store/containers.ts and bot/botStorage.ts expect, with the same partition
// keys. They are created here because a managed identity with a data-plane role may read but not create
// databases or containers: the bot's createIfNotExists then only reads. Keep both lists in step.
var cosmosContainers = [
  { name: 'tokens', partitionKey: '/tenantId', defaultTtl: 0 }
  { name: 'books', partitionKey: '/tokenId', defaultTtl: 0 }
  { name: 'assignments', partitionKey: '/tokenId', defaultTtl: 0 }
  { name: 'vppUsers', partitionKey: '/tokenId', defaultTtl: 0 }
  // -1: TTL on, only items that carry their own ttl expire (sync run history).
  { name: 'syncRuns', partitionKey: '/tokenId', defaultTtl: -1 }
  // Open chat requests for a sync result (items carry a one-day ttl).
  { name: 'syncRequests', partitionKey: '/tenantId', defaultTtl: -1 }
  { name: 'approvals', partitionKey: '/tenantId', defaultTtl: 0 }
  { name: 'conversations', partitionKey: '/tenantId', defaultTtl: 0 }
  { name: 'notifications', partitionKey: '/tokenId', defaultTtl: 0 }
  // Audit records expire after auditRetentionDays (Cosmos TTL, in seconds); the bot sets the same on start.
  { name: 'audit', partitionKey: '/tenantId', defaultTtl: auditRetentionDays * 86400 }
  { name: 'leases', partitionKey: '/id', defaultTtl: 0 }
  // Dialog state (botbuilder-azure CosmosDbPartitionedStorage partitions by /id).
  { name: 'botState', partitionKey: '/id', defaultTtl: 0 }
]

// ---------------------------------------------------------------------------------------------------
// Identity: user-assigned, so its role assignments exist before the web app first starts and resolves
// its Key Vault references (a system identity would only exist once the site does).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------------
// Monitoring
resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.logs
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'Node.JS'
    WorkspaceResourceId: logs.id
  }
}

// ---------------------------------------------------------------------------------------------------
// Key Vault: the only place the bot secret and the token encryption key are stored.
resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.keyVault
  location: location
  tags: tags
  properties: {
    // The name derives from the resource group, so a re-created group meets its soft-deleted vault (docs/deploy.md).
    createMode: keyVaultCreateMode
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Losing TOKEN_ENCRYPTION_KEY makes every stored VPP token unreadable: no purge before retention ends.
    enablePurgeProtection: true
    // Deployments still write secrets (through Resource Manager); data-plane calls need the private endpoint.
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

// Secrets are written only when given, so a routine re-deployment never replaces them; the app settings
// reference the latest version by name either way.
var botPasswordSecretName = 'bot-app-password'
// k1 keeps the name every earlier deployment used. Each later key gets a secret of its own, so writing a new
// key never replaces one that stored tokens are still encrypted under, and the app switches key, key id and
// old keys in one settings change.
var tokenKeySecretName = tokenEncryptionKeyId == 'k1' ? 'token-encryption-key' : 'token-encryption-key-${tokenEncryptionKeyId}'
var oldKeysSecretName = 'token-encryption-old-keys'
var passesOldKeys = useOldEncryptionKeys || !empty(tokenEncryptionOldKeys)
var botPasswordSetting = {
  name: 'MicrosoftAppPassword'
  value: '@Microsoft.KeyVault(VaultName=${names.keyVault};SecretName=${botPasswordSecretName})'
}
var oldKeysSetting = {
  name: 'TOKEN_ENCRYPTION_OLD_KEYS'
  value: '@Microsoft.KeyVault(VaultName=${names.keyVault};SecretName=${oldKeysSecretName})'
}

resource botPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!usesManagedIdentityBot && !empty(botAppPassword)) {
  parent: keyVault
  name: botPasswordSecretName
  properties: {
    value: botAppPassword
    contentType: 'Entra client secret of the bot app registration'
  }
}

resource tokenKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(tokenEncryptionKey)) {
  parent: keyVault
  name: tokenKeySecretName
  properties: {
    value: tokenEncryptionKey
    contentType: 'AES-256 key (base64), id ${tokenEncryptionKeyId}'
  }
}

resource oldKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(tokenEncryptionOldKeys)) {
  parent: keyVault
  name: oldKeysSecretName
  properties: {
    value: tokenEncryptionOldKeys
    contentType: 'Previous AES-256 keys, id:base64 comma-separated (TOKEN_ENCRYPTION_OLD_KEYS)'
  }
}

resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: keyVault
  name: guid(keyVault.id, identity.id, keyVaultSecretsUserRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Reading the current key to keep it as an old one, and writing secrets by hand, are data-plane operations:
// Owner or Contributor on the vault do not include them.
resource keyVaultSecretsOfficers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in keyVaultSecretsOfficerIds: {
    scope: keyVault
    name: guid(keyVault.id, principalId, keyVaultSecretsOfficerRoleId)
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
      principalId: principalId
    }
  }
]

// ---------------------------------------------------------------------------------------------------
// Cosmos DB (NoSQL). Keys are disabled: the bot signs in with its managed identity only.
resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: names.cosmos
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      { locationName: location, failoverPriority: 0, isZoneRedundant: false }
    ]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    capabilities: cosmosServerless ? [{ name: 'EnableServerless' }] : []
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource cosmosDatabase 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: cosmosDatabaseName
  properties: {
    resource: { id: cosmosDatabaseName }
    options: cosmosServerless ? {} : { autoscaleSettings: { maxThroughput: cosmosAutoscaleMaxThroughput } }
  }
}

resource cosmosContainer 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for c in cosmosContainers: {
    parent: cosmosDatabase
    name: c.name
    properties: {
      resource: union(
        {
          id: c.name
          partitionKey: { paths: [c.partitionKey], kind: 'Hash', version: 2 }
        },
        c.defaultTtl == 0 ? {} : { defaultTtl: c.defaultTtl }
      )
    }
  }
]

// Scoped to the bot's database, not the account. A new name: deployments made before this change keep an
// account-wide assignment until it is deleted (docs/deploy.md).
resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmos
  name: guid(cosmos.id, identity.id, cosmosDataContributorRoleId, cosmosDatabaseName)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: identity.properties.principalId
    scope: '${cosmos.id}/dbs/${cosmosDatabaseName}'
  }
  dependsOn: [
    cosmosDatabase
  ]
}

// ---------------------------------------------------------------------------------------------------
// Private networking (privateNetworking): Cosmos DB and Key Vault answer only on private endpoints in this
// virtual network, whose private DNS zones resolve their usual host names to those endpoints; the web app
// reaches them through VNet integration.
resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = if (privateNetworking) {
  name: names.vnet
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [vnetAddressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            { name: 'app-service', properties: { serviceName: 'Microsoft.Web/serverFarms' } }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource cosmosDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = if (privateNetworking) {
  name: 'privatelink.documents.azure.com'
  location: 'global'
  tags: tags
}

resource keyVaultDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = if (privateNetworking) {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
  tags: tags
}

resource cosmosDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = if (privateNetworking) {
  parent: cosmosDnsZone
  name: '${names.vnet}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnet.id }
  }
}

resource keyVaultDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = if (privateNetworking) {
  parent: keyVaultDnsZone
  name: '${names.vnet}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnet.id }
  }
}

resource cosmosPrivateEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = if (privateNetworking) {
  name: '${names.cosmos}-pe'
  location: location
  tags: tags
  properties: {
    subnet: { id: privateEndpointSubnetId }
    privateLinkServiceConnections: [
      {
        name: 'cosmos-sql'
        properties: { privateLinkServiceId: cosmos.id, groupIds: ['Sql'] }
      }
    ]
  }
  dependsOn: [
    vnet
  ]
}

resource cosmosPrivateDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = if (privateNetworking) {
  parent: cosmosPrivateEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      { name: 'documents', properties: { privateDnsZoneId: cosmosDnsZone.id } }
    ]
  }
}

resource keyVaultPrivateEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = if (privateNetworking) {
  name: '${names.keyVault}-pe'
  location: location
  tags: tags
  properties: {
    subnet: { id: privateEndpointSubnetId }
    privateLinkServiceConnections: [
      {
        name: 'key-vault'
        properties: { privateLinkServiceId: keyVault.id, groupIds: ['vault'] }
      }
    ]
  }
  dependsOn: [
    vnet
  ]
}

resource keyVaultPrivateDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = if (privateNetworking) {
  parent: keyVaultPrivateEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      { name: 'vaultcore', properties: { privateDnsZoneId: keyVaultDnsZone.id } }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------
// App Service (Linux, Node 24 LTS) running the compiled bot.
resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: names.plan
  location: location
  tags: tags
  kind: 'linux'
  sku: { name: appServiceSku }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: names.site
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    virtualNetworkSubnetId: privateNetworking ? appSubnetId : null
    siteConfig: {
      linuxFxVersion: 'NODE|24-lts'
      appCommandLine: 'node dist/bot/start.js'
      // The sync scheduler and the notification queue live in the process: it must not be unloaded.
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // Linux apps resolve Key Vault references over the VNet only with all traffic routed into it. Internet
      // calls (Teams, Graph, Apple) still leave from the app's outbound addresses unless a NAT or firewall is added.
      vnetRouteAllEnabled: privateNetworking
      // Readiness: 503 only when the store is unreachable; its downstream checks are cached for 30 s, so the
      // platform's probes cost at most one Cosmos and one Apple call per 30 s per instance.
      healthCheckPath: '/readyz'
      // A managed identity bot must have no MicrosoftAppPassword at all (botbuilder refuses one), and a reference
      // to a secret that does not exist would arrive as the literal reference text. Hence the conditional entries.
      appSettings: concat(
        [
          { name: 'MicrosoftAppId', value: usesManagedIdentityBot ? identity.properties.clientId : botAppId }
          { name: 'MicrosoftAppTenantId', value: botTenantId }
          { name: 'MicrosoftAppType', value: botAppType }
          { name: 'COSMOS_ENDPOINT', value: cosmos.properties.documentEndpoint }
          { name: 'COSMOS_USE_MANAGED_IDENTITY', value: 'true' }
          { name: 'COSMOS_DATABASE', value: cosmosDatabaseName }
          // DefaultAzureCredential picks the user-assigned identity by this client ID.
          { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
          { name: 'TOKEN_ENCRYPTION_KEY', value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=${tokenKeySecretName})' }
          { name: 'TOKEN_ENCRYPTION_KEY_ID', value: tokenEncryptionKeyId }
          { name: 'BOT_ADMIN_GROUP_ID', value: botAdminGroupId }
          { name: 'BOT_ADMIN_USER_IDS', value: botAdminUserIds }
          { name: 'APPROVER_USER_IDS', value: approverUserIds }
          { name: 'MDM_NAME', value: mdmName }
          { name: 'VPP_BACKEND', value: vppBackend }
          { name: 'SYNC_CRON', value: syncCron }
          { name: 'SYNC_TIMEZONE', value: syncTimeZone }
          { name: 'LOG_LEVEL', value: logLevel }
          { name: 'AUDIT_RETENTION_DAYS', value: string(auditRetentionDays) }
          { name: 'PORT', value: '8080' }
          { name: 'WEBSITES_PORT', value: '8080' }
          { name: 'PLAYGROUND_ENABLED', value: 'false' }
          // The package deployed is already built (docs/deploy.md): no Oryx build on the server.
          { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: 'false' }
          { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
          { name: 'ApplicationInsightsAgent_EXTENSION_VERSION', value: '~3' }
        ],
        usesManagedIdentityBot ? [] : [botPasswordSetting],
        passesOldKeys ? [oldKeysSetting] : []
      )
    }
  }
  dependsOn: [
    botPasswordSecret
    tokenKeySecret
    oldKeysSecret
    // Without the role the first start fails to read the secrets and to open the store.
    keyVaultSecretsUser
    cosmosDataContributor
    cosmosContainer
    // The first start must already resolve the vault and Cosmos through their private endpoints.
    vnet
    cosmosPrivateDns
    keyVaultPrivateDns
    cosmosDnsLink
    keyVaultDnsLink
  ]
}

// Deployments sign in with Entra ID (az webapp deploy, the Agents Toolkit): no publishing passwords for
// the SCM (Kudu) site or FTP.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

// The bot logs JSON to stdout (pino); keep it in Log Analytics next to Application Insights.
resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: site
  name: 'to-log-analytics'
  properties: {
    workspaceId: logs.id
    logs: [
      { category: 'AppServiceConsoleLogs', enabled: true }
      { category: 'AppServiceHTTPLogs', enabled: true }
      { category: 'AppServicePlatformLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------
// Azure Bot: single-tenant registration (or the managed identity) pointing at the web app, with the Teams channel on.
resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: names.bot
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: { name: botSku }
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: usesManagedIdentityBot ? identity.properties.clientId : botAppId
    msaAppTenantId: botTenantId
    msaAppType: botAppType
    msaAppMSIResourceId: usesManagedIdentityBot ? identity.id : null
    developerAppInsightsApplicationId: insights.properties.AppId
    developerAppInsightKey: insights.properties.InstrumentationKey
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      acceptedTerms: true
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Upper-case names so the Agents Toolkit's arm/deploy writes them straight into its env file
// (m365agents.yml); docs/deploy.md reads them with az deployment group show.
@description('BOT_HOSTNAME for npm run package.')
output BOT_HOSTNAME string = site.properties.defaultHostName
@description('MicrosoftAppId for npm run package: the app registration, or the managed identity\'s client id (UserAssignedMSI).')
output BOT_ID string = usesManagedIdentityBot ? identity.properties.clientId : botAppId
output BOT_MESSAGING_ENDPOINT string = 'https://${site.properties.defaultHostName}/api/messages'
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = site.id
output WEB_APP_NAME string = site.name
output BOT_SERVICE_NAME string = bot.name
output COSMOS_ENDPOINT string = cosmos.properties.documentEndpoint
output KEY_VAULT_NAME string = keyVault.name
@description('The key id whose Key Vault secret now holds a key: infra/toolkitParameters.ts refuses to overwrite it.')
output DEPLOYED_TOKEN_ENCRYPTION_KEY_ID string = tokenEncryptionKeyId
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
@description('Object ID of the managed identity: the Graph app role assignments of a UserAssignedMSI bot go to it (docs/deploy.md).')
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
