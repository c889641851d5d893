import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secret } from '../../../services/secrets/Secret';
import { AppleBooksClient, type AppleBooksClientOptions } from '../../../services/apple/AppleBooksClient';
import { VppError, VPP_ERROR_MESSAGES, describeVppErrorNumber } from '../../../services/apple/VppError';
import {
  UNLIMITED_TOTAL_COUNT,
  appleErrorBodySchema,
  assetsPageSchema,
  assignmentsPageSchema,
  clientConfigSchema,
  eventResponseSchema,
  eventStatusSchema,
  isUnlimitedAsset,
  serviceConfigSchema,
  usersPageSchema,
} from '../../../services/apple/schemas';
import { appleFixtureNames, fixtureSource, loadAppleFixture } from '../../fixtures/apple/loadFixture';
import { BOOKS, FAST_RETRY, NO_RATE_LIMIT, startTestSandbox, type TestSandbox } from './helpers';

/**
 * The contract with Apple, checked three ways against Apple's documented example answers
 * (test/fixtures/apple/*.jsonc, NOTES.md): the client's schemas read them, the client behaves as Apple
 * documents when a server answers exactly with them, and the sandbox answers in the same shapes.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fixture(name: string): JsonObject {
  const body = loadAppleFixture<Json>(name);
  assert.ok(isObject(body), `${name} holds an object`);
  return body;
}

/** Apple's example answers show at most a few fields each; the messages must still say what Apple means. */
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Apple's tokenExpirationDate format in every example: no colon in the offset. */
const APPLE_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$/;

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Apple's documented shape of one endpoint from several of its examples: objects merged key by key, and
 * every array collapsed to a single element merging all the elements Apple shows (a user assignment and a
 * device assignment, a failure about assets and one about users).
 */
function documentedShape(...examples: Json[]): Json {
  const [first, ...rest] = examples;
  if (first === undefined) return null;
  if (Array.isArray(first)) {
    const elements = examples.flatMap((e) => (Array.isArray(e) ? e : []));
    return elements.length === 0 ? [] : [documentedShape(...elements)];
  }
  if (!isObject(first)) return first;
  const merged: JsonObject = {};
  for (const example of [first, ...rest]) {
    if (!isObject(example)) continue;
    for (const [key, value] of Object.entries(example)) {
      merged[key] = Object.hasOwn(merged, key) ? documentedShape(merged[key] as Json, value) : documentedShape(value);
    }
  }
  return merged;
}

/**
 * Every key `actual` sends exists at the same place in Apple's documented answer, with the same JSON type;
 * arrays are compared element by element to the documented first element. Fields Apple documents but the
 * answer leaves out are fine (most are optional). Returns the differences, so a failure lists them all.
 */
function conformsTo(actual: unknown, documented: Json, path = '$'): string[] {
  if (documented === null) return []; // Apple shows null for "no value": any type may stand there
  const actualType = jsonType(actual);
  const documentedType = jsonType(documented);
  if (actualType !== documentedType) return [`${path}: ${actualType} where Apple documents ${documentedType}`];
  if (Array.isArray(actual) && Array.isArray(documented)) {
    const [element] = documented;
    if (element === undefined) return actual.length === 0 ? [] : [`${path}: elements where Apple's example has none`];
    return actual.flatMap((item, i) => conformsTo(item, element, `${path}[${i}]`));
  }
  if (isObject(actual) && isObject(documented)) {
    return Object.entries(actual).flatMap(([key, value]) =>
      Object.hasOwn(documented, key) ? conformsTo(value, documented[key] as Json, `${path}.${key}`) : [`${path}.${key}: not in Apple's documented answer`],
    );
  }
  return [];
}

function assertConforms(actual: unknown, documented: Json, what: string): void {
  assert.deepEqual(conformsTo(actual, documented), [], `${what} differs from Apple's documented shape`);
}

// ---- Apple's documented shapes, one per endpoint ----

/** "The response only includes this field when MDM sets a value using the Client Config endpoint" — on every answer listing MdmInfo. */
const MDM_INFO: JsonObject = { mdmInfo: fixture('client-config').mdmInfo as Json };
/** nextPageIndex: "The response only includes this field when there is a next page" (Using paginated endpoints). */
const NEXT_PAGE: JsonObject = { nextPageIndex: fixture('assignments-page-first-of-many').nextPageIndex as Json };

const STATUS_FAILURES = fixture('status-failed-assets-serials-constructed').failures as JsonObject[];

const DOCUMENTED = {
  serviceConfig: documentedShape(fixture('service-config')),
  clientConfig: documentedShape(fixture('client-config')),
  assets: documentedShape(fixture('assets-page'), fixture('assets-unlimited-constructed'), NEXT_PAGE, MDM_INFO),
  assignments: documentedShape(fixture('assignments-page'), fixture('assignments-page-first-of-many'), MDM_INFO),
  users: documentedShape(fixture('users-page'), fixture('users-page-retired-duplicates-constructed'), NEXT_PAGE, MDM_INFO),
  event: documentedShape(fixture('users-create-response'), fixture('associate-response'), MDM_INFO),
  status: documentedShape(
    fixture('status-complete'),
    fixture('status-failed-partial'),
    fixture('status-failed-all'),
    fixture('status-failed-assets-serials-constructed'),
    MDM_INFO,
  ),
  /** ErrorResponse: errorNumber, errorMessage and the optional ResponseErrorInfo (clientUserIds, assets, serialNumbers). */
  error: documentedShape(fixture('error-response'), { errorInfo: documentedShape(...STATUS_FAILURES.map((f) => f.errorInfo as Json)) }),
};

/** Error fixtures and the HTTP status Apple's "Handling error responses" table gives each (9622: v2 status undocumented; 401 as for the other token errors). */
const ERROR_FIXTURES: Record<string, { errorNumber: number; status: number }> = {
  'error-9602': { errorNumber: 9602, status: 400 },
  'error-9622-legacy': { errorNumber: 9622, status: 401 },
  'error-9646': { errorNumber: 9646, status: 429 },
  'error-9650': { errorNumber: 9650, status: 400 },
  'error-9721': { errorNumber: 9721, status: 400 },
  'error-9722': { errorNumber: 9722, status: 401 },
  'error-response': { errorNumber: 9726, status: 405 },
};

/**
 * What each error number means by Apple's text (service-config `errorCodes`, Handling error responses, the
 * legacy list for 9622) and how the bot's message must say the same thing.
 */
const MEANINGS: Record<number, { apple: RegExp; client: RegExp }> = {
  9601: { apple: /login required/i, client: /login required/i },
  9602: { apple: /invalid argument/i, client: /invalid argument/i },
  9603: { apple: /internal error/i, client: /internal error/i },
  9609: { apple: /unable to find the registered user/i, client: /does not know this user/i },
  9621: { apple: /token has expired/i, client: /token has expired/i },
  9622: { apple: /invalid authentication token/i, client: /invalid token/i },
  9625: { apple: /revoked the sToken/i, client: /revoked this VPP token/i },
  9634: { apple: /service removed/i, client: /no longer available|service removed/i },
  9646: { apple: /too many recent requests/i, client: /too many requests/i },
  9650: { apple: /page index/i, client: /page index/i },
  9700: { apple: /max assets limit/i, client: /max assets limit/i },
  9701: { apple: /max clientUserIds limit/i, client: /max clientUserIds limit/i },
  9702: { apple: /max serialNumbers limit/i, client: /max serialNumbers limit/i },
  9703: { apple: /duplicate assets/i, client: /duplicate assets/i },
  9704: { apple: /duplicate clientUserIds/i, client: /duplicate clientUserIds/i },
  9705: { apple: /duplicate serialNumbers/i, client: /duplicate serial ?numbers/i },
  9706: { apple: /not revocable/i, client: /cannot be taken back/i },
  9707: { apple: /not device assignable/i, client: /cannot be assigned to devices/i },
  9708: { apple: /EventId could not be found/i, client: /unknown event/i },
  9709: { apple: /not enough licenses/i, client: /not enough licenses/i },
  9710: { apple: /notification URL and the authentication token are necessary/i, client: /notification address and its secret/i },
  9711: { apple: /notification URL or the authentication token exceeds/i, client: /notification address or its secret as too long/i },
  9712: { apple: /HTTPS/, client: /HTTPS/ },
  9713: { apple: /MDM metadata exceeds/i, client: /MDM metadata exceeds/i },
  9714: { apple: /number of users exceeds the maximum/i, client: /number of users exceeds the maximum/i },
  9715: { apple: /duplicate users/i, client: /duplicate users/i },
  9716: { apple: /registered user already exists/i, client: /already exists/i },
  9717: { apple: /invalid email address/i, client: /invalid e-?mail address/i },
  9718: { apple: /doesn't contain an asset/i, client: /assets are required/i },
  9719: { apple: /clientUserIds or serialNumbers are required/i, client: /clientUserIds or serialNumbers are required/i },
  9720: { apple: /users are a required argument/i, client: /users are required/i },
  9721: { apple: /invalid version ID/i, client: /invalid version ID/i },
  9722: { apple: /invalid authorization header/i, client: /Authorization header/i },
  9723: { apple: /MDM name, ID, and metadata/i, client: /MDM's name, id and description/i },
  9724: { apple: /MDM ID exceeds the maximum length/i, client: /MDM id as too long/i },
  9725: { apple: /MDM name exceeds the maximum length/i, client: /MDM name as too long/i },
  9726: { apple: /unsupported HTTP method/i, client: /unsupported HTTP method/i },
  9727: { apple: /unsupported Content-Type/i, client: /unsupported Content-Type/i },
  9728: { apple: /notification URL is unreachable/i, client: /could not reach the bot's notification address/i },
};

function serviceConfigErrorCodes(): Map<number, string> {
  const codes = serviceConfigSchema.parse(fixture('service-config')).errorCodes;
  return new Map(codes.map((c) => [c.errorNumber, c.errorMessage ?? '']));
}

describe("Apple contract: the client reads Apple's documented answers", () => {
  it('every fixture names the developer.apple.com page it comes from', () => {
    const names = appleFixtureNames();
    assert.ok(names.length >= 28, `expected Apple's fixtures, found ${names.length}`);
    for (const name of names) {
      assert.match(fixtureSource(name), /^https:\/\/developer\.apple\.com\/documentation\/devicemanagement\/[a-z0-9-]+$/, name);
    }
    assert.equal(fixtureSource('service-config'), 'https://developer.apple.com/documentation/devicemanagement/service-config');
    assert.equal(fixtureSource('status-failed-partial.jsonc'), 'https://developer.apple.com/documentation/devicemanagement/managing-assets');
  });

  it('every fixture of the management API is parsed by the client schema for its endpoint', () => {
    const schemaFor: Record<string, { safeParse(value: unknown): { success: boolean } }> = {
      'service-config': serviceConfigSchema,
      'client-config': clientConfigSchema,
      'assets-page': assetsPageSchema,
      'assets-unlimited-constructed': assetsPageSchema,
      'assets-unlimited-omitted-constructed': assetsPageSchema,
      'assignments-page': assignmentsPageSchema,
      'assignments-page-first-of-many': assignmentsPageSchema,
      'assignments-page-last': assignmentsPageSchema,
      'users-page': usersPageSchema,
      'users-page-retired-duplicates-constructed': usersPageSchema,
      'users-create-response': eventResponseSchema,
      'associate-response': eventResponseSchema,
      'status-complete': eventStatusSchema,
      'status-pending': eventStatusSchema,
      'status-failed-partial': eventStatusSchema,
      'status-failed-all': eventStatusSchema,
      'status-failed-assets-serials-constructed': eventStatusSchema,
      'status-user-create-complete': eventStatusSchema,
      ...Object.fromEntries(Object.keys(ERROR_FIXTURES).map((name) => [name, appleErrorBodySchema])),
    };
    // The metadata lookup fixtures belong to BookMetadataClient (test/services/apple/BookMetadataClient.test.ts).
    const covered = appleFixtureNames().filter((name) => !name.startsWith('metadata-lookup'));
    assert.deepEqual(covered, Object.keys(schemaFor).sort(), 'a new fixture needs a schema here');
    for (const name of covered) {
      const result = schemaFor[name]?.safeParse(fixture(name));
      assert.equal(result?.success, true, `${name} is read by its schema`);
    }
  });

  it("service config: Apple's limits and URL templates", () => {
    const config = serviceConfigSchema.parse(fixture('service-config'));
    assert.equal(config.limits.maxAssets, 25);
    assert.equal(config.limits.maxClientUserIds, 1000);
    assert.equal(config.limits.maxUsers, 100);
    assert.equal(config.limits.maxSerialNumbers, 1000);
    assert.equal(config.limits.maxRequestPerSecond, undefined, 'Apple announces no request rate');
    assert.equal(
      config.urls.invitationEmail,
      'https://buy.itunes.apple.com/WebObjects/MZFinance.woa/wa/associateVPPUserWithITSAccount?inviteCode=%25inviteCode%25&mt=8',
    );
    assert.equal(config.urls.contentMetadataLookup, 'https://uclient-api.itunes.apple.com/WebObjects/MZStorePlatform.woa/wa/lookup');
    assert.equal(config.errorCodes.length, 38);
  });

  it('client config: who holds the token, the metadata platform and the country', () => {
    const config = clientConfigSchema.parse(fixture('client-config'));
    assert.deepEqual(config.mdmInfo, { id: '522d5c43-44ca-4f7e-ba7a-53570cf60765', name: 'Apple Configurator 2', metadata: '2.13.3' });
    assert.equal(config.defaultPlatform, 'volumestore');
    assert.equal(config.countryISO2ACode, 'US');
    assert.equal(config.locationName, 'PS01');
    assert.equal(config.tokenExpirationDate, '2030-11-08T22:33:22+0000');
  });

  it('assets: license counts, and free books (totalCount 2147483647) are the only unlimited ones', () => {
    const page = assetsPageSchema.parse(fixture('assets-page'));
    assert.equal(page.assets.length, 5);
    assert.deepEqual(
      page.assets.map((a) => a.adamId),
      ['408709785', '377298193', '361309726', '361304891', '361285480'],
    );
    assert.deepEqual(page.assets[0], {
      adamId: '408709785',
      pricingParam: 'STDQ',
      productType: 'App',
      assignedCount: 5000,
      availableCount: 10000,
      retiredCount: 0,
      totalCount: 15000,
      deviceAssignable: true,
      revocable: true,
      supportedPlatforms: ['iOS'],
    });
    assert.equal(page.nextPageIndex, undefined);
    assert.equal(page.versionId, '70e8c740-514c-11eb-bb63-a90b882fcd52');
    assert.ok(page.assets.every((a) => !isUnlimitedAsset(a)));

    const withFree = assetsPageSchema.parse(fixture('assets-unlimited-omitted-constructed'));
    assert.deepEqual(
      withFree.assets.map((a) => [a.adamId, a.productType, isUnlimitedAsset(a)]),
      [
        ['408709785', 'App', false],
        ['1234567890', 'Book', true],
      ],
    );
    assert.equal(UNLIMITED_TOTAL_COUNT, 2147483647);
    assert.equal(isUnlimitedAsset({ totalCount: 2147483647 }), true);
    assert.equal(isUnlimitedAsset({ totalCount: 2147483646 }), false);
    assert.equal(isUnlimitedAsset({ totalCount: 15000 }), false);

    // unlimited=true (which the client never sends): counted assets stay in `assets`, free ones come separately.
    const separate = assetsPageSchema.parse(fixture('assets-unlimited-constructed'));
    assert.deepEqual(separate.assets, []);
  });

  it('assignments: user and device assignments, nextPageIndex only while pages remain', () => {
    const page = assignmentsPageSchema.parse(fixture('assignments-page'));
    assert.deepEqual(page.assignments, [
      { adamId: '408709785', clientUserId: 'client-1', pricingParam: 'STDQ' },
      { adamId: '408709785', serialNumber: 'serial-1', pricingParam: 'STDQ' },
    ]);
    assert.equal(page.nextPageIndex, undefined);

    const first = assignmentsPageSchema.parse(fixture('assignments-page-first-of-many'));
    assert.equal(first.currentPageIndex, 0);
    assert.equal(first.nextPageIndex, 1);
    assert.equal(first.totalPages, 353);
    assert.equal(first.versionId, '658a45d0-5a7b-11eb-b9e4-d782eaed4cfb');

    const last = assignmentsPageSchema.parse(fixture('assignments-page-last'));
    assert.equal(last.nextPageIndex, undefined);
    assert.equal(last.currentPageIndex, 352);
    assert.equal(last.currentPageIndex, (last.totalPages ?? 0) - 1);
    assert.equal(last.versionId, first.versionId);
  });

  it('users: registered users with invite codes, retired users, and several entries for one clientUserId', () => {
    const page = usersPageSchema.parse(fixture('users-page'));
    assert.deepEqual(
      page.users.map((u) => [u.clientUserId, u.status, u.inviteCode]),
      [
        ['client-101', 'Registered', '46bc93ea3acd41e0a4919c02db0d7d3a'],
        ['client-102', 'Registered', 'd2ab1319ff6448f89bb1b0e010cf68e0'],
        ['client-103', 'Retired', undefined],
      ],
    );
    assert.equal(page.versionId, '021f10a0-7035-11eb-9f67-bd1df52e1e13');

    const duplicates = usersPageSchema.parse(fixture('users-page-retired-duplicates-constructed'));
    assert.equal(duplicates.users.length, 3);
    assert.deepEqual([...new Set(duplicates.users.map((u) => u.clientUserId))], ['client-200']);
    assert.deepEqual(
      duplicates.users.map((u) => u.status),
      ['Retired', 'Retired', 'Registered'],
    );
    assert.equal(duplicates.users[0]?.idHash, 'leSKk3IaE2vk2KLmv2k3/200D3=');
    assert.equal(duplicates.users[2]?.inviteCode, 'f551b37da07146628e8dcbe0111f0364');
  });

  it('users/create and assets/associate answer with an eventId only', () => {
    assert.equal(eventResponseSchema.parse(fixture('users-create-response')).eventId, 'af70eb9b-0ab6-405d-87d8-3b9ed0c4f370');
    assert.equal(eventResponseSchema.parse(fixture('associate-response')).eventId, 'ed3edfc3-e617-465e-b309-a17925266e14');
  });

  it('status: pending and complete events', () => {
    const pending = eventStatusSchema.parse(fixture('status-pending'));
    assert.deepEqual([pending.eventStatus, pending.numCompleted, pending.numRequested, pending.failures], ['PENDING', 8, 16, []]);
    const complete = eventStatusSchema.parse(fixture('status-complete'));
    assert.deepEqual([complete.eventStatus, complete.eventType, complete.numCompleted, complete.numRequested, complete.failures], ['COMPLETE', 'ASSOCIATE', 4000, 4000, []]);
    const created = eventStatusSchema.parse(fixture('status-user-create-complete'));
    assert.deepEqual([created.eventStatus, created.eventType, created.numCompleted, created.numRequested], ['COMPLETE', 'CREATE', 2, 2]);
  });

  it('status: a partly failed event is FAILED, 14 of 16, with the failure naming client-4 (9609)', () => {
    const status = eventStatusSchema.parse(fixture('status-failed-partial'));
    assert.equal(status.eventStatus, 'FAILED');
    assert.equal(status.eventType, 'ASSOCIATE');
    assert.equal(status.numCompleted, 14);
    assert.equal(status.numRequested, 16);
    assert.deepEqual(status.failures, [
      { errorNumber: 9609, errorMessage: 'Registered user not found', clientUserIds: ['client-4'], assets: [], serialNumbers: [] },
    ]);
  });

  it('status: an event where everything failed names every user', () => {
    const status = eventStatusSchema.parse(fixture('status-failed-all'));
    assert.deepEqual([status.eventStatus, status.numCompleted, status.numRequested], ['FAILED', 0, 2]);
    assert.deepEqual(status.failures, [
      { errorNumber: 9609, errorMessage: 'Unable to find registered user.', clientUserIds: ['user102', 'user101'], assets: [], serialNumbers: [] },
    ]);
  });

  it('status: failures about assets and serial numbers (ResponseErrorInfo)', () => {
    const status = eventStatusSchema.parse(fixture('status-failed-assets-serials-constructed'));
    assert.equal(status.numCompleted, 13);
    assert.deepEqual(status.failures, [
      {
        errorNumber: 9709,
        errorMessage: "There aren't enough assets available to complete this association.",
        clientUserIds: [],
        assets: [{ adamId: '408709785', pricingParam: 'STDQ' }],
        serialNumbers: ['serial-3', 'serial-4'],
      },
      { errorNumber: 9609, errorMessage: 'Unable to find registered user.', clientUserIds: ['client-4'], assets: [], serialNumbers: [] },
    ]);
  });

  for (const [name, { errorNumber }] of Object.entries(ERROR_FIXTURES)) {
    it(`error fixture ${name}: errorNumber ${errorNumber}, and the bot's message says what Apple means`, () => {
      const body = appleErrorBodySchema.parse(fixture(name));
      assert.equal(body.errorNumber, errorNumber);
      const meaning = MEANINGS[errorNumber];
      assert.ok(meaning, `a meaning for ${errorNumber}`);
      assert.match(body.errorMessage ?? '', meaning.apple);
      assert.match(new VppError({ errorNumber }).message, meaning.client);
    });
  }

  it("every number in Apple's errorCodes has the bot's own message, saying what Apple's text says", () => {
    const codes = serviceConfigErrorCodes();
    assert.equal(codes.size, 38);
    for (const [errorNumber, appleText] of codes) {
      const meaning = MEANINGS[errorNumber];
      assert.ok(meaning, `a meaning for ${errorNumber}`);
      assert.match(appleText, meaning.apple, `Apple's text for ${errorNumber}`);
      assert.ok(VPP_ERROR_MESSAGES[errorNumber], `VPP_ERROR_MESSAGES has ${errorNumber}`);
      assert.match(new VppError({ errorNumber }).message, meaning.client, `the bot's message for ${errorNumber}`);
      assert.equal(describeVppErrorNumber(errorNumber), new VppError({ errorNumber }).message);
    }
  });

  it('error kinds follow the meaning: token trouble, rate limits, outages', () => {
    assert.deepEqual(
      [9601, 9621, 9622, 9625, 9722].map((n) => new VppError({ errorNumber: n }).kind),
      ['token', 'token', 'token', 'token', 'token'],
    );
    assert.equal(new VppError({ errorNumber: 9646, httpStatus: 429 }).kind, 'rateLimit');
    assert.equal(new VppError({ errorNumber: 9646, httpStatus: 429 }).isRetryable, true);
    assert.equal(new VppError({ errorNumber: 9603, httpStatus: 500 }).isRetryable, true);
    assert.equal(new VppError({ errorNumber: 9602, httpStatus: 400 }).isRetryable, false);
    assert.equal(new VppError({ errorNumber: 9709 }).kind, 'licenses');
  });
});

// ---- a server that answers exactly with Apple's examples ----

interface Answer {
  status?: number;
  fixture?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface SeenRequest {
  method: string;
  /** Path and query, e.g. /mdm/v2/assignments?pageIndex=1 */
  url: string;
  authorization: string | undefined;
}

interface FixtureServer {
  baseUrl: string;
  requests: SeenRequest[];
  seen(path: string): SeenRequest[];
  close(): Promise<void>;
}

/** A node:http server on port 0 that answers each request with whatever `answer` picks (404 when nothing). */
async function serveFixtures(answer: (method: string, url: URL, count: number) => Answer | undefined): Promise<FixtureServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://apple.test');
    requests.push({ method: req.method ?? 'GET', url: `${url.pathname}${url.search}`, authorization: req.headers.authorization });
    const count = requests.filter((r) => r.url.split('?')[0] === url.pathname).length;
    req.resume();
    req.on('end', () => {
      const picked = answer(req.method ?? 'GET', url, count);
      if (!picked) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      const body = picked.fixture === undefined ? picked.body : fixture(picked.fixture);
      res.writeHead(picked.status ?? 200, { 'content-type': 'application/json', ...picked.headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/mdm/v2`,
    requests,
    seen: (path) => requests.filter((r) => r.url.split('?')[0] === `/mdm/v2${path}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function clientFor(server: FixtureServer, overrides: Partial<AppleBooksClientOptions> = {}): AppleBooksClient {
  return new AppleBooksClient({
    baseUrl: server.baseUrl,
    token: new Secret('x'),
    pollIntervalMs: 5,
    pollTimeoutMs: 2000,
    retry: FAST_RETRY,
    rateLimit: NO_RATE_LIMIT,
    ...overrides,
  });
}

async function rejectsWith(promise: Promise<unknown>, check: (e: VppError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof VppError, `expected VppError, got ${String(error)}`);
    check(error);
    return true;
  });
}

const PARTIAL_EVENT = 'a8e0edbf-bfc2-405f-92bd-08d6d72e7a1d';
const PENDING_THEN_COMPLETE_EVENT = '1905643d-1afb-4c2d-ad74-1b268e92c880';

/** Apple's answers by endpoint, as its pages show them. */
function appleAnswers(method: string, url: URL, count: number): Answer | undefined {
  const path = url.pathname.replace(/^\/mdm\/v2/, '');
  const q = url.searchParams;
  if (method === 'GET' && path === '/service/config') return { fixture: 'service-config' };
  if (method === 'GET' && path === '/client/config') return { fixture: 'client-config' };
  if (method === 'GET' && path === '/status') {
    if (q.get('eventId') === PARTIAL_EVENT) return { fixture: 'status-failed-partial' };
    if (q.get('eventId') === PENDING_THEN_COMPLETE_EVENT) return { fixture: count === 1 ? 'status-pending' : 'status-complete' };
    return undefined;
  }
  if (method === 'GET' && path === '/assignments') {
    if (q.has('sinceVersionId')) return { status: 400, fixture: 'error-9721' };
    if (!q.has('pageIndex')) return { fixture: 'assignments-page-first-of-many' };
    if (q.get('pageIndex') === '1') return { fixture: 'assignments-page-last' };
    return { status: 400, fixture: 'error-9650' };
  }
  if (method === 'GET' && path === '/users') return { fixture: 'users-page' };
  if (method === 'GET' && path === '/assets') return { fixture: 'assets-unlimited-omitted-constructed' };
  return undefined;
}

describe('Apple contract: against a server that answers exactly as Apple documents', () => {
  let server: FixtureServer;
  afterEach(async () => {
    await server.close();
  });

  it("reads Apple's limits, and fills the invitation template's %25inviteCode%25", async () => {
    server = await serveFixtures(appleAnswers);
    const client = clientFor(server);
    assert.deepEqual(await client.getLimits(), { maxAssets: 25, maxClientUserIds: 1000, maxUsers: 100, maxRequestPerSecond: 15 });
    assert.equal(
      await client.invitationUrl('abc'),
      'https://buy.itunes.apple.com/WebObjects/MZFinance.woa/wa/associateVPPUserWithITSAccount?inviteCode=abc&mt=8',
    );
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.url, r.authorization]),
      [['GET', '/mdm/v2/service/config', undefined]],
      'service config is read once, without the token',
    );
  });

  it("reads client config with the token and recognises the MDM Apple's example names", async () => {
    server = await serveFixtures(appleAnswers);
    const client = clientFor(server);
    const config = await client.getClientConfig();
    assert.equal(config.defaultPlatform, 'volumestore');
    assert.equal(config.countryISO2ACode, 'US');
    assert.equal((await client.checkOwnership('522d5c43-44ca-4f7e-ba7a-53570cf60765')).state, 'ours');
    const other = await client.checkOwnership('our-bot');
    assert.equal(other.state, 'otherMdm');
    assert.equal(other.state === 'otherMdm' ? other.mdmName : undefined, 'Apple Configurator 2');
    assert.equal(server.seen('/client/config')[0]?.authorization, 'Bearer x');
  });

  it('reports the partly failed event as FAILED, 14 of 16, naming exactly client-4 as not found', async () => {
    server = await serveFixtures(appleAnswers);
    const result = await clientFor(server).waitForEvents([PARTIAL_EVENT]);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.numRequested, 16);
    assert.equal(result.numCompleted, 14);
    assert.equal(result.failures.length, 1);
    const [failure] = result.failures;
    assert.deepEqual(failure?.clientUserIds, ['client-4']);
    assert.equal(failure?.errorNumber, 9609);
    assert.match(failure?.message ?? '', /does not know this user/);
    assert.deepEqual(
      server.requests.map((r) => r.url),
      [`/mdm/v2/status?eventId=${PARTIAL_EVENT}`],
      'eventId is the only parameter of /status',
    );
  });

  it('polls a PENDING event until Apple says COMPLETE', async () => {
    server = await serveFixtures(appleAnswers);
    const status = await clientFor(server).waitForEvent(PENDING_THEN_COMPLETE_EVENT, { intervalMs: 5 });
    assert.equal(status.eventStatus, 'COMPLETE');
    assert.equal(status.numCompleted, 4000);
    assert.equal(server.seen('/status').length, 2);
  });

  it('pages by nextPageIndex: the first request carries no pageIndex, the last page has no nextPageIndex', async () => {
    server = await serveFixtures(appleAnswers);
    const read = await clientFor(server).listAssignments();
    assert.deepEqual(
      server.requests.map((r) => r.url),
      ['/mdm/v2/assignments', '/mdm/v2/assignments?pageIndex=1'],
    );
    assert.equal(read.items.length, 4);
    assert.equal(read.versionId, '658a45d0-5a7b-11eb-b9e4-d782eaed4cfb');
    assert.ok(read.items.every((a) => a.adamId === '377298193' && a.serialNumber !== undefined));
  });

  it('reads everything when Apple refuses the sinceVersionId (9721, HTTP 400)', async () => {
    server = await serveFixtures(appleAnswers);
    const restarts: string[] = [];
    const pages = [];
    for await (const page of clientFor(server).assignmentPages({ sinceVersionId: 'not-a-version' }, { onRestart: (reason) => restarts.push(reason) })) {
      pages.push(page.currentPageIndex);
    }
    assert.deepEqual(restarts, ['versionRejected']);
    assert.deepEqual(pages, [0, 352]);
    assert.deepEqual(
      server.requests.map((r) => r.url),
      ['/mdm/v2/assignments?sinceVersionId=not-a-version', '/mdm/v2/assignments', '/mdm/v2/assignments?pageIndex=1'],
    );
  });

  it('lists users, retired ones included unless activeOnly=true is asked', async () => {
    server = await serveFixtures(appleAnswers);
    const client = clientFor(server);
    const all = await client.listUsers();
    assert.deepEqual(
      all.items.map((u) => u.status),
      ['Registered', 'Registered', 'Retired'],
    );
    await client.listUsers({ activeOnly: true });
    assert.deepEqual(
      server.requests.map((r) => r.url),
      ['/mdm/v2/users', '/mdm/v2/users?activeOnly=true'],
    );
  });

  it('lists book assets without the unlimited parameter, so free books come with totalCount 2147483647', async () => {
    server = await serveFixtures(appleAnswers);
    const read = await clientFor(server).listAssets();
    assert.deepEqual(
      read.items.map((a) => [a.adamId, isUnlimitedAsset(a)]),
      [
        ['408709785', false],
        ['1234567890', true],
      ],
    );
    const [request] = server.requests;
    const query = new URL(request?.url ?? '', 'http://x').searchParams;
    assert.equal(query.get('productType'), 'Book');
    assert.equal(query.has('unlimited'), false);
    assert.equal(query.has('pageIndex'), false);
  });

  for (const [name, { errorNumber, status }] of Object.entries(ERROR_FIXTURES).filter(([, e]) => e.status < 500 && e.status !== 429)) {
    it(`turns ${name} (HTTP ${status}) into a VppError ${errorNumber} and does not retry it`, async () => {
      server = await serveFixtures(() => ({ status, fixture: name }));
      await rejectsWith(clientFor(server).getClientConfig(), (e) => {
        assert.equal(e.errorNumber, errorNumber);
        assert.equal(e.httpStatus, status);
        assert.equal(e.appleMessage, fixture(name).errorMessage);
        assert.equal(e.operation, 'GET /client/config');
        assert.match(e.message, MEANINGS[errorNumber]?.client ?? /never/);
      });
      assert.equal(server.requests.length, 1, 'a client error is not retried');
    });
  }

  it('retries 9646 (HTTP 429) and then reads the answer', async () => {
    server = await serveFixtures((method, url, count) =>
      url.pathname.endsWith('/client/config') && count === 1 ? { status: 429, fixture: 'error-9646' } : appleAnswers(method, url, count),
    );
    const config = await clientFor(server).getClientConfig();
    assert.equal(config.locationName, 'PS01');
    assert.equal(server.seen('/client/config').length, 2);
  });

  it('gives up on a 9646 that does not stop after maxAttempts, as a rate-limit VppError', async () => {
    server = await serveFixtures(() => ({ status: 429, fixture: 'error-9646' }));
    await rejectsWith(clientFor(server).getClientConfig(), (e) => {
      assert.equal(e.errorNumber, 9646);
      assert.equal(e.httpStatus, 429);
      assert.equal(e.kind, 'rateLimit');
    });
    assert.equal(server.requests.length, FAST_RETRY.maxAttempts);
  });

  it("retries Apple's 5xx answers (9603 Internal error) and waits the Retry-After Apple sends", async () => {
    const internal = { errorNumber: 9603, errorMessage: serviceConfigErrorCodes().get(9603) };
    assert.equal(internal.errorMessage, 'Internal error.');
    server = await serveFixtures((method, url, count) =>
      url.pathname.endsWith('/users') && count <= 2 ? { status: count === 1 ? 500 : 503, body: internal, headers: { 'retry-after': '2' } } : appleAnswers(method, url, count),
    );
    const waits: number[] = [];
    // Its own token: the Retry-After holds back every request of the token, and this one is fake-slept.
    const client = clientFor(server, { token: new Secret('retry-after-token'), sleep: async (ms) => void waits.push(ms) });
    const read = await client.listUsers();
    assert.equal(read.items.length, 3);
    assert.equal(server.seen('/users').length, 3);
    assert.ok(waits.filter((ms) => ms >= 2000).length >= 2, `waited ${JSON.stringify(waits)}`);
  });
});

// ---- the sandbox ----

interface RawAnswer {
  status: number;
  body: JsonObject;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("Apple contract: the sandbox answers in Apple's shapes", () => {
  let t: TestSandbox;
  beforeEach(async () => {
    t = await startTestSandbox();
  });
  afterEach(async () => {
    await t.sandbox.close();
  });

  async function raw(path: string, init: { method?: string; body?: unknown; bearer?: string | null } = {}): Promise<RawAnswer> {
    const headers: Record<string, string> = {};
    if (init.bearer !== null) headers.authorization = `Bearer ${init.bearer ?? t.bearer}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${t.sandbox.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const body: unknown = await response.json();
    assert.ok(isObject(body), `${path} answers a JSON object`);
    return { status: response.status, body };
  }

  async function ok(path: string, init: { method?: string; body?: unknown } = {}): Promise<JsonObject> {
    const answer = await raw(path, init);
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  async function settled(eventId: string): Promise<JsonObject> {
    for (let i = 0; i < 200; i++) {
      const status = await ok(`/status?eventId=${eventId}`);
      if (status.eventStatus !== 'PENDING') return status;
      await sleep(10);
    }
    assert.fail(`event ${eventId} stayed PENDING`);
  }

  const CLAIM = { mdmInfo: { id: 'bot-mdm-id', name: 'VPP Books bot', metadata: 'tenant-1' } };

  it("service config: Apple's fields, limits without a request rate, and Apple's errorCodes", async () => {
    const body = await ok('/service/config');
    assertConforms(body, DOCUMENTED.serviceConfig, 'GET /service/config');
    const limits = body.limits as JsonObject;
    assert.deepEqual([limits.maxAssets, limits.maxClientUserIds, limits.maxUsers, limits.maxSerialNumbers], [25, 1000, 100, 1000]);
    assert.equal('maxRequestPerSecond' in limits, false, 'Apple announces no request rate');
    const urls = body.urls as JsonObject;
    assert.match(String(urls.invitationEmail), /inviteCode=%25inviteCode%25/);
    assert.equal(urls.getAssets, `${t.sandbox.baseUrl}/assets`);
    const sandboxCodes = (body.errorCodes as JsonObject[]).map((c): [number, string] => [Number(c.errorNumber), String(c.errorMessage)]);
    const byNumber = (a: [number, string], b: [number, string]): number => a[0] - b[0];
    assert.deepEqual(sandboxCodes.sort(byNumber), [...serviceConfigErrorCodes()].sort(byNumber));
  });

  it('client config: no mdmInfo before a claim; after it, the claimed mdmInfo in Apple\'s client-config shape', async () => {
    const before = await ok('/client/config');
    assert.equal('mdmInfo' in before, false);
    assertConforms(before, DOCUMENTED.clientConfig, 'GET /client/config (unclaimed)');
    const claimed = await ok('/client/config', { method: 'POST', body: CLAIM });
    assert.deepEqual(claimed.mdmInfo, CLAIM.mdmInfo);
    const body = await ok('/client/config');
    assertConforms(body, DOCUMENTED.clientConfig, 'GET /client/config');
    assert.deepEqual(body.mdmInfo, CLAIM.mdmInfo);
    assert.equal(body.defaultPlatform, 'volumestore');
    assert.equal(body.countryISO2ACode, 'US');
    assert.match(String(body.tokenExpirationDate), APPLE_DATE);
    assert.equal(typeof body.uId, 'string');
  });

  it("assets: Apple's GetAssetsResponse, free books with totalCount 2147483647, unlimitedAssets without counts", async () => {
    t.state.addBook(t.org, { adamId: '1900000001', title: 'Free Book', author: 'A', totalCount: 'unlimited' });
    const first = await ok('/assets');
    assertConforms(first, DOCUMENTED.assets, 'GET /assets');
    assert.deepEqual([first.currentPageIndex, first.nextPageIndex, first.totalPages, first.size], [0, 1, 3, 5]);
    assert.match(String(first.tokenExpirationDate), APPLE_DATE);
    const book = (first.assets as JsonObject[])[0];
    assert.deepEqual(book, {
      adamId: BOOKS[0]?.adamId,
      assignedCount: 0,
      availableCount: 2,
      deviceAssignable: false,
      pricingParam: 'STDQ',
      productType: 'Book',
      retiredCount: 0,
      revocable: false,
      supportedPlatforms: ['iOS', 'macOS'],
      totalCount: 2,
    });
    const free = await ok('/assets?adamId=1900000001');
    assertConforms(free, DOCUMENTED.assets, 'GET /assets?adamId');
    assert.equal((free.assets as JsonObject[])[0]?.totalCount, 2147483647);
    const separate = await ok('/assets?unlimited=true&adamId=1900000001');
    assertConforms(separate, DOCUMENTED.assets, 'GET /assets?unlimited=true');
    assert.deepEqual(separate.assets, []);
    const unlimited = (separate.unlimitedAssets as JsonObject[])[0];
    assert.equal(unlimited?.adamId, '1900000001');
    for (const omitted of ['availableCount', 'totalCount', 'retiredCount']) assert.equal(unlimited && omitted in unlimited, false, `unlimitedAssets omit ${omitted}`);
    assert.deepEqual((await ok('/assets?unlimited=false&adamId=1900000001')).assets, []);
  });

  it("assignments: Apple's GetAssignmentsResponse, paged", async () => {
    const ids = t.state.seedUsers(t.org, 4);
    t.state.seedAssignments(t.org, ids, 7);
    const first = await ok('/assignments');
    assertConforms(first, DOCUMENTED.assignments, 'GET /assignments');
    assert.deepEqual([first.currentPageIndex, first.nextPageIndex, first.totalPages], [0, 1, 2]);
    assert.equal((first.assignments as JsonObject[]).length, 5);
    const last = await ok('/assignments?pageIndex=1');
    assertConforms(last, DOCUMENTED.assignments, 'GET /assignments?pageIndex=1');
    assert.equal('nextPageIndex' in last, false);
    assert.equal(last.versionId, first.versionId);
    assert.deepEqual(Object.keys((last.assignments as JsonObject[])[0] ?? {}).sort(), ['adamId', 'clientUserId', 'pricingParam']);
  });

  it("users: Apple's GetUsersResponse with a retired user's history, and activeOnly / retiredOnly", async () => {
    t.state.createUser(t.org, { clientUserId: 'reg', email: 'reg@school.example' });
    t.state.createUser(t.org, { clientUserId: 'again', email: 'again@school.example', managedAppleId: 'again@school.example' });
    t.state.retireUser(t.org, 'again');
    t.state.createUser(t.org, { clientUserId: 'again', email: 'again@school.example' });
    const all = await ok('/users');
    assertConforms(all, DOCUMENTED.users, 'GET /users');
    const users = all.users as JsonObject[];
    assert.deepEqual(
      users.map((u) => [u.clientUserId, u.status]),
      [
        ['reg', 'Registered'],
        ['again', 'Retired'],
        ['again', 'Registered'],
      ],
    );
    assert.match(String(users[0]?.inviteCode), /^[0-9a-f]{32}$/);
    assert.equal(typeof users[1]?.idHash, 'string', 'a retired user keeps the idHash of its Apple Account');
    assert.equal('inviteCode' in (users[1] ?? {}), false);
    const active = await ok('/users?activeOnly=true');
    assert.deepEqual((active.users as JsonObject[]).map((u) => u.status), ['Registered', 'Registered']);
    const retired = await ok('/users?retiredOnly=true');
    assert.deepEqual((retired.users as JsonObject[]).map((u) => [u.clientUserId, u.status]), [['again', 'Retired']]);
  });

  it('users/create, then a book with 2 licenses for 4 users: FAILED, 2 of 4, one 9709 naming both other users', async () => {
    await ok('/client/config', { method: 'POST', body: CLAIM });
    const users = ['u-1', 'u-2', 'u-3', 'u-4'].map((clientUserId) => ({ clientUserId, email: `${clientUserId}@school.example` }));
    const created = await ok('/users/create', { method: 'POST', body: { users } });
    assertConforms(created, DOCUMENTED.event, 'POST /users/create');
    assert.equal(typeof created.eventId, 'string');
    const createStatus = await settled(String(created.eventId));
    assertConforms(createStatus, DOCUMENTED.status, 'GET /status (create)');
    assert.deepEqual([createStatus.eventStatus, createStatus.eventType, createStatus.numCompleted, createStatus.numRequested], ['COMPLETE', 'CREATE', 4, 4]);
    assert.equal('failures' in createStatus, false, 'no failures key on a complete event');

    const asset = { adamId: BOOKS[0]?.adamId ?? '', pricingParam: 'STDQ' };
    const associated = await ok('/assets/associate', { method: 'POST', body: { assets: [asset], clientUserIds: users.map((u) => u.clientUserId) } });
    assertConforms(associated, DOCUMENTED.event, 'POST /assets/associate');
    const status = await settled(String(associated.eventId));
    assertConforms(status, DOCUMENTED.status, 'GET /status (associate)');
    assert.deepEqual([status.eventStatus, status.eventType, status.numCompleted, status.numRequested], ['FAILED', 'ASSOCIATE', 2, 4]);
    const failures = status.failures as JsonObject[];
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.errorNumber, 9709);
    assert.equal(typeof failures[0]?.errorMessage, 'string');
    assert.deepEqual((failures[0]?.errorInfo as JsonObject).clientUserIds, ['u-3', 'u-4']);

    const read = await t.client().waitForEvents([String(associated.eventId)]);
    assert.equal(read.status, 'FAILED');
    assert.deepEqual(read.failures.map((f) => [f.errorNumber, f.clientUserIds]), [[9709, ['u-3', 'u-4']]]);
  });

  it('mdmInfo appears on assets, users, assignments and status answers once the token was claimed', async () => {
    const ids = t.state.seedUsers(t.org, 2);
    t.state.seedAssignments(t.org, ids, 2);
    for (const path of ['/assets', '/users', '/assignments']) assert.equal('mdmInfo' in (await ok(path)), false, `${path} before a claim`);
    await ok('/client/config', { method: 'POST', body: CLAIM });
    const created = await ok('/users/create', { method: 'POST', body: { users: [{ clientUserId: 'late', email: 'late@school.example' }] } });
    assert.deepEqual(created.mdmInfo, CLAIM.mdmInfo, 'POST /users/create');
    const answers = {
      '/assets': await ok('/assets'),
      '/users': await ok('/users'),
      '/assignments': await ok('/assignments'),
      '/status': await settled(String(created.eventId)),
    };
    for (const [path, body] of Object.entries(answers)) assert.deepEqual(body.mdmInfo, CLAIM.mdmInfo, path);
  });

  it('versionIds are opaque UUID-like strings; one Apple never gave out is 9721 (HTTP 400)', async () => {
    t.state.seedUsers(t.org, 1);
    const versions = await Promise.all(['/assets', '/users', '/assignments'].map(async (path) => (await ok(path)).versionId));
    for (const versionId of versions) assert.match(String(versionId), UUID_LIKE);
    const users = await ok('/users');
    assert.equal((await raw(`/users?sinceVersionId=${String(users.versionId)}`)).status, 200);
    const documented = fixture('error-9721');
    for (const path of ['/users?sinceVersionId=00000000-0000-4000-8000-000000000000', '/assignments?sinceVersionId=1', '/users?sinceVersionId=not-a-version']) {
      const answer = await raw(path);
      assert.equal(answer.status, 400, path);
      assert.deepEqual(answer.body, documented, path);
    }
  });

  it('pageIndex: omitted is the first page, past the last page is 9650 (HTTP 400)', async () => {
    const first = await ok('/assets');
    assert.equal(first.currentPageIndex, 0);
    assert.deepEqual(await ok('/assets?pageIndex=0'), first);
    const last = await ok('/assets?pageIndex=2');
    assert.equal(last.currentPageIndex, Number(last.totalPages) - 1);
    assert.equal('nextPageIndex' in last, false);
    const past = await raw('/assets?pageIndex=3');
    assert.equal(past.status, 400);
    assert.deepEqual(past.body, fixture('error-9650'));
    assertConforms(past.body, DOCUMENTED.error, 'GET /assets?pageIndex=3');
  });

  it("errors: Apple's ErrorResponse with the HTTP status of Apple's table", async () => {
    const unknownEvent = await raw('/status?eventId=00000000-0000-4000-8000-000000000000');
    assert.equal(unknownEvent.status, 400);
    assertConforms(unknownEvent.body, DOCUMENTED.error, 'GET /status (unknown event)');
    assert.equal(unknownEvent.body.errorNumber, 9708);
    assert.match(String(unknownEvent.body.errorMessage), MEANINGS[9708]?.apple ?? /never/);

    const noBearer = await raw('/assets', { bearer: null });
    assert.equal(noBearer.status, 401);
    assert.deepEqual(noBearer.body, fixture('error-9722'));

    const method = await raw('/assets', { method: 'DELETE' });
    assert.equal(method.status, 405);
    assert.deepEqual(method.body, fixture('error-response'), "Apple's verbatim 9726 example");

    const badArgument = await raw('/assets?pageIndex=first');
    assert.equal(badArgument.status, 400);
    assert.deepEqual(badArgument.body, fixture('error-9602'));

    const refused = await raw('/users/create', { method: 'POST', body: { users: [{ clientUserId: 'x', email: 'not-an-address' }] } });
    assert.equal(refused.status, 400);
    assertConforms(refused.body, DOCUMENTED.error, 'POST /users/create (9717)');
    assert.equal(refused.body.errorNumber, 9717);
    assert.deepEqual((refused.body.errorInfo as JsonObject).clientUserIds, ['x']);
  });

  it("refuses bad requests with the number and HTTP status of Apple's errorCodes and table", async () => {
    await ok('/client/config', { method: 'POST', body: CLAIM });
    t.state.seedUsers(t.org, 2, 'ok');
    const book = { adamId: BOOKS[1]?.adamId ?? '', pricingParam: 'STDQ' };
    const users = (n: number, prefix = 'u'): Array<{ clientUserId: string; email: string }> =>
      Array.from({ length: n }, (_, i) => ({ clientUserId: `${prefix}-${i}`, email: `${prefix}-${i}@school.example` }));
    const cases: Array<[string, string, unknown, number]> = [
      ['claim without metadata', '/client/config', { mdmInfo: { id: 'a', name: 'b' } }, 9723],
      ['MDM id too long', '/client/config', { mdmInfo: { id: 'i'.repeat(101), name: 'b', metadata: 'c' } }, 9724],
      ['MDM name too long', '/client/config', { mdmInfo: { id: 'a', name: 'n'.repeat(101), metadata: 'c' } }, 9725],
      ['MDM metadata too long (maxMdmMetadataLength 255)', '/client/config', { mdmInfo: { id: 'a', name: 'b', metadata: 'm'.repeat(256) } }, 9713],
      ['no users', '/users/create', { users: [] }, 9720],
      ['101 users', '/users/create', { users: users(101) }, 9714],
      ['duplicate users', '/users/create', { users: [...users(1), ...users(1)] }, 9715],
      ['no asset', '/assets/associate', { assets: [], clientUserIds: ['ok-0'] }, 9718],
      ['no users or devices', '/assets/associate', { assets: [book] }, 9719],
      ['26 assets', '/assets/associate', { assets: BOOKS.concat(BOOKS, BOOKS).slice(0, 26).map((b, i) => ({ adamId: `${b.adamId}${i}`, pricingParam: 'STDQ' })), clientUserIds: ['ok-0'] }, 9700],
      ['1001 users', '/assets/associate', { assets: [book], clientUserIds: users(1001).map((u) => u.clientUserId) }, 9701],
      ['duplicate assets', '/assets/associate', { assets: [book, book], clientUserIds: ['ok-0'] }, 9703],
      ['duplicate clientUserIds', '/assets/associate', { assets: [book], clientUserIds: ['ok-0', 'ok-0'] }, 9704],
      ['duplicate serialNumbers', '/assets/associate', { assets: [book], serialNumbers: ['s-1', 's-1'] }, 9705],
      ['a book to a device', '/assets/associate', { assets: [book], serialNumbers: ['s-1'] }, 9707],
    ];
    const codes = serviceConfigErrorCodes();
    const problems: string[] = [];
    for (const [what, path, body, errorNumber] of cases) {
      const answer = await raw(path, { method: 'POST', body });
      const expected = { errorNumber, errorMessage: codes.get(errorNumber) };
      if (answer.status !== 400 || JSON.stringify(answer.body) !== JSON.stringify(expected)) {
        problems.push(`${what}: expected 400 ${JSON.stringify(expected)}, got ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    }
    assert.deepEqual(problems, []);

    const response = await fetch(`${t.sandbox.baseUrl}/users/create`, { method: 'POST', headers: { authorization: `Bearer ${t.bearer}`, 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(response.status, 415);
    assert.deepEqual(await response.json(), { errorNumber: 9727, errorMessage: codes.get(9727) });
  });

  it('rate limit: 429 with the 9646 body of Apple\'s errorCodes', async () => {
    await t.sandbox.close();
    t = await startTestSandbox({ enforceRateLimit: 1 });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await raw('/client/config'));
    const limited = answers.find((a) => a.status === 429);
    assert.ok(limited, `a 429 among ${answers.map((a) => a.status).join(', ')}`);
    assert.deepEqual(limited.body, fixture('error-9646'));
  });
});
