/**
 * The architecture's layers, checked by `npm run lint:layers` (part of `npm run lint`):
 *
 *   bot → dialogs → services → services/store, services/apple, services/directory (the edges)
 *   cards render data for bot and dialogs and use no service; services know no botbuilder, cards, dialogs or bot
 *   Cosmos is reached only through services/store; dialogs reach data through services, not repositories
 *   local/ (the local-mode fakes) is imported by nothing: bot/backingServices.ts loads it by a computed name
 *   no cycles, and every module is reached from an entry point
 *
 * Each rule says why it exists. The exceptions are the ones spelt out in a rule's `pathNot`, each with its
 * reason. Tests and benchmarks are not cruised: they may
 * reach anywhere to set up what they check.
 */

/** botbuilder, botbuilder-dialogs and the other Bot Framework packages. */
const BOT_FRAMEWORK = '(^|/)node_modules/(botbuilder|botbuilder-[^/]+|botframework-[^/]+)/';

/** Where the application starts; everything else must be reached from one of them. */
const ENTRY_POINTS = [
  // npm start
  '^bot/start\\.ts$',
  // Loaded by bot/backingServices.ts by a computed name (so the production build never follows it), which no tool sees.
  '^local/startLocalServices\\.ts$',
  // The local fakes run on their own from the command line, and as child processes in tests.
  '^local/.+/cli\\.ts$',
  // A CommonJS preload that child processes get with --require.
  '^local/loopbackOnly\\.cjs$',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and the modules in it impossible to understand or test one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment:
        'Every module of the application is reached from an entry point; one that is not is dead code. (dependency-cruiser\'s ' +
        'own `orphan` only sees modules with no imports either way, and misses a dead module that imports something.) ' +
        'local/ is left to knip: the tests, which are not cruised here, are the local fakes\' other users (local/directory/index.ts is their door).',
      from: { path: ENTRY_POINTS },
      to: { path: '^(bot|cards|dialogs|services)/', pathNot: ENTRY_POINTS, reachable: false },
    },

    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve hides its target from every rule here.',
      from: {},
      to: { couldNotResolve: true },
    },

    // bot → dialogs → services: each layer reaches only downwards.
    {
      name: 'dialogs-not-to-bot',
      severity: 'error',
      comment: 'Dialogs are the conversation; bot/ hosts them (adapter, server, proactive sending). The host depends on the dialogs, never the other way.',
      from: { path: '^dialogs/' },
      to: { path: '^bot/' },
    },
    {
      name: 'services-not-to-upper-layers',
      severity: 'error',
      comment:
        'Services are the domain, usable without Teams: they know nothing of the bot host, the dialogs or the cards. ' +
        'What a service must show in chat it gets through a port the bot implements (e.g. notifications/noticeMessages.ts).',
      from: { path: '^services/' },
      to: { path: '^(bot|dialogs|cards)/' },
    },
    {
      name: 'services-not-to-botbuilder',
      severity: 'error',
      comment: 'Services know nothing of the Bot Framework: everything Teams-specific is in bot/ and dialogs/, so services run in tests, syncs and sweeps without it.',
      from: { path: '^services/' },
      to: { path: BOT_FRAMEWORK },
    },
    {
      name: 'cards-not-to-services',
      severity: 'error',
      comment:
        'Cards render the data they are given; they do no work. They may name the types of that data (type-only imports are ' +
        'erased at compile time) and use the chat-text helpers (escaping is one rule for whatever services and cards put into Markdown), ' +
        "the formats and Apple's and Intune's words (one way to write a date, a count or a menu path, docs/STYLE-GUIDE.md).",
      from: { path: '^cards/' },
      to: { path: '^services/', pathNot: '^services/common/(chatText|format|appleTerms|intuneTerms)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'cards-not-to-upper-layers',
      severity: 'error',
      comment: 'Cards sit below the dialogs and the bot that send them.',
      from: { path: '^cards/' },
      to: { path: '^(bot|dialogs)/' },
    },
    {
      name: 'cards-not-to-botbuilder',
      severity: 'error',
      comment: 'A card is Adaptive Card JSON from a template; attaching it to an activity is the caller\'s job.',
      from: { path: '^cards/' },
      to: { path: BOT_FRAMEWORK },
    },

    // Below the services: the store, Apple and the directory are the edges; they do not call each other or back up.
    {
      name: 'edges-not-to-services',
      severity: 'error',
      comment:
        'The store, the Apple client and the directory client are the edges services are built on; they reach no other ' +
        'service (only shared helpers in services/common, config types, logging, errors and secrets).',
      from: { path: '^services/(store|apple|directory|graph)/' },
      to: {
        path: '^services/',
        // The other edges are edges-not-to-each-other's; services/graph is the Graph request layer the directory shares with the Intune client.
        pathNot: ['^services/(store|apple|directory)/', '^services/(common|logging|secrets|crypto|graph)/', '^services/errors\\.ts$', '^services/config/'],
        // An edge may implement a port the service that needs it declares (the directory's CachedGroupMembership
        // is auth's GroupMembership): a type-only import, erased at compile time.
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'edges-not-to-each-other',
      severity: 'error',
      comment: 'The edges are independent: Graph has no business with Apple\'s retry rules, nor the store with either. Shared code belongs in services/common.',
      from: { path: '^services/(store|apple|directory|graph)/' },
      to: { path: '^services/(store|apple|directory)/', pathNot: '^services/$1/' },
    },

    // Cosmos is reached only through repositories.
    {
      name: 'cosmos-only-in-store',
      severity: 'error',
      comment:
        'Cosmos is reached only through services/store (its repositories and the client they share): the store owns ' +
        'partitioning, etags and validation of every document. bot/CosmosBotStorage.ts is botbuilder\'s dialog-state ' +
        'Storage on Cosmos, which botbuilder (not our repositories) reads and writes; it belongs in bot/ because services know nothing of botbuilder. ' +
        'local/cosmos is the local Cosmos server, which needs a client of its own to set itself up.',
      from: { pathNot: ['^services/store/', '^bot/CosmosBotStorage\\.ts$', '^local/cosmos/'] },
      to: { path: '(^|/)node_modules/@azure/cosmos/' },
    },
    {
      name: 'dialogs-not-to-store',
      severity: 'error',
      comment:
        'Dialogs and cards read and change data through the services that own it, never through the store: no ' +
        'repository and no Store (a type-only import of one still hands the dialog the repository). Entities (types ' +
        'and zod schemas) and the store\'s error classification may be imported: they name data and failures and reach nothing. ' +
        'bot/ may: it is the composition root that builds the store and hands repositories to services and to its own Teams adapters.',
      from: { path: '^(dialogs|cards)/' },
      to: { path: '^services/store/', pathNot: ['^services/store/entities/', '^services/store/errors\\.ts$'] },
    },

    // The local fakes.
    {
      name: 'not-to-local',
      severity: 'error',
      comment:
        'local/ holds the fakes for local mode (Apple sandbox, directory, Cosmos server, Playground) and is left out of the ' +
        'production build. bot/backingServices.ts loads it by a computed name at run time, in local mode only; nothing imports it.',
      from: { path: '^(bot|cards|dialogs|services)/' },
      to: { path: '^local/' },
    },
    {
      name: 'local-only-on-services',
      severity: 'error',
      comment:
        'The local fakes stand in for Apple, Graph and Cosmos and may use the services\' code (schemas, config); they know ' +
        'nothing of the conversation. The one thing they take from bot/ is the shape of what they start, as types: ' +
        'bot/backingServices.ts is the contract between the two.',
      from: { path: '^local/' },
      to: {
        path: '^(bot|cards|dialogs)/',
        pathNot: '^bot/backingServices\\.ts$',
      },
    },
    {
      name: 'local-to-bot-types-only',
      severity: 'error',
      comment: 'Importing bot/backingServices.ts for real would load the bot into the fakes (and a cycle): types only.',
      from: { path: '^local/' },
      to: { path: '^bot/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are seen (and can be told apart by rules), so a cycle through types counts as well.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.cjs', '.js', '.json'],
    },
  },
};
