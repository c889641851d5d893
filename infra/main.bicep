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

@description('Application (client) ID of the single-tenant Entra app registration the bot signs in with.')
param botAppId string

@description('Client secret of that app registration, stored in Key Vault only. Leave empty on later deployments to keep the stored one.')
@secure()
param botAppPassword string = ''

@description('Entra tenant of the app registration and of the users allowed to use the bot.')
param botTenantId string = tenant().tenantId

@description('32 random bytes, base64 (openssl rand -base64 32): encrypts VPP tokens at rest. Stored in Key Vault only. Give it on the first deployment only: leave it empty afterwards, since a new key makes every stored token unreadable.')
@secure()
param tokenEncryptionKey string = ''

@description('Label of tokenEncryptionKey, kept next to each encrypted token so the key can be rotated.')
param tokenEncryptionKeyId string = 'k1'

@description('Object ID of the Entra group whose members may use the bot. Set this or botAdminUserIds.')
param botAdminGroupId string = ''

@description('Comma-separated Entra object IDs of admins, in addition to or instead of the group.')
param botAdminUserIds string = ''

@description('Comma-separated Entra object IDs of the users who approve assignments. Empty: every bot admin (the admin group, transitively, and botAdminUserIds).')
param approverUserIds string = ''

@description('Name Apple shows as the MDM holding a VPP token (mdmInfo.name).')
param mdmName string = 'VPP Books bot'

@description('Cron expression (in syncTimeZone) for scheduled syncs. Default: twice a day, like Intune.')
param syncCron string = '0 6,18 * * *'

param syncTimeZone string = 'UTC'

@allowed(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
param logLevel string = 'info'

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
}

// Built-in role and Cosmos data-plane role IDs.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
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
  { name: 'audit', partitionKey: '/tenantId', defaultTtl: 0 }
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
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Losing TOKEN_ENCRYPTION_KEY makes every stored VPP token unreadable: no purge before retention ends.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

// Secrets are written only when given, so a routine re-deployment never replaces them; the app settings
// reference the latest version by name either way.
var botPasswordSecretName = 'bot-app-password'
var tokenKeySecretName = 'token-encryption-key'

resource botPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(botAppPassword)) {
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

resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: keyVault
  name: guid(keyVault.id, identity.id, keyVaultSecretsUserRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

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
    publicNetworkAccess: 'Enabled'
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

resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmos
  name: guid(cosmos.id, identity.id, cosmosDataContributorRoleId)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: identity.properties.principalId
    scope: cosmos.id
  }
}

// ---------------------------------------------------------------------------------------------------
// App Service (Linux, Node 20) running the compiled bot.
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
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      appCommandLine: 'node --disable-warning=DEP0111 dist/bot/start.js'
      // The sync scheduler and the notification queue live in the process: it must not be unloaded.
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      healthCheckPath: '/healthz'
      appSettings: [
        { name: 'MicrosoftAppId', value: botAppId }
        { name: 'MicrosoftAppPassword', value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=${botPasswordSecretName})' }
        { name: 'MicrosoftAppTenantId', value: botTenantId }
        { name: 'MicrosoftAppType', value: 'SingleTenant' }
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
        { name: 'SYNC_CRON', value: syncCron }
        { name: 'SYNC_TIMEZONE', value: syncTimeZone }
        { name: 'LOG_LEVEL', value: logLevel }
        { name: 'PORT', value: '8080' }
        { name: 'WEBSITES_PORT', value: '8080' }
        { name: 'PLAYGROUND_ENABLED', value: 'false' }
        // The package deployed is already built (docs/deploy.md): no Oryx build on the server.
        { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: 'false' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'ApplicationInsightsAgent_EXTENSION_VERSION', value: '~3' }
      ]
    }
  }
  dependsOn: [
    botPasswordSecret
    tokenKeySecret
    // Without the role the first start fails to read the secrets and to open the store.
    keyVaultSecretsUser
    cosmosDataContributor
    cosmosContainer
  ]
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
// Azure Bot: single-tenant registration pointing at the web app, with the Teams channel on.
resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: names.bot
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: { name: botSku }
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: botAppId
    msaAppTenantId: botTenantId
    msaAppType: 'SingleTenant'
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
output BOT_MESSAGING_ENDPOINT string = 'https://${site.properties.defaultHostName}/api/messages'
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = site.id
output WEB_APP_NAME string = site.name
output BOT_SERVICE_NAME string = bot.name
output COSMOS_ENDPOINT string = cosmos.properties.documentEndpoint
output KEY_VAULT_NAME string = keyVault.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
