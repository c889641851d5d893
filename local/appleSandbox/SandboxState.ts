import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { encodeVppTokenFile, formatAppleDate } from '../../services/apple/VppTokenFile';
import { APPLE_ERRORS, type AppleErrorNumber } from './appleErrors';

/** State of the local Apple sandbox: organisations, their tokens, books, users, assignments and events. */

/** Apple's `MdmInfo`. The sandbox keeps its own types: it follows Apple's pages, not the client's schemas. */
interface SandboxMdmInfo {
  id: string;
  name: string;
  /** Apple requires it when an MDM sets mdmInfo; seeded organisations may leave it out. */
  metadata?: string;
}

/** Free books "allow for unlimited assignment": Apple reports them with this totalCount (Managing assets). */
export const UNLIMITED_TOTAL_COUNT = 2_147_483_647;

/** One item of an event that did not go through: the user (and asset) it is about, and why. */
export interface SandboxItemFailure {
  errorNumber: AppleErrorNumber;
  clientUserId?: string;
  asset?: { adamId: string; pricingParam: string };
}

/** Apple's `ErrorResponse` inside /status `failures`: one per reason, naming every user it applies to. */
interface SandboxEventFailure {
  errorNumber: number;
  errorMessage: string;
  errorInfo: { clientUserIds?: string[]; assets?: Array<{ adamId: string; pricingParam: string }> };
}

export interface SandboxBook {
  adamId: string;
  pricingParam: 'STDQ' | 'PLUS';
  title: string;
  author: string;
  totalCount: number;
  assignedCount: number;
  retiredCount: number;
}

export interface SandboxUser {
  /** This entry's own key: a retired user re-created gets a new entry, the retired one stays (Managing users). */
  entryId: string;
  clientUserId: string;
  userId: string;
  email?: string;
  managedAppleId?: string;
  inviteCode?: string;
  idHash?: string;
  status: 'Registered' | 'Associated' | 'Retired';
  versionId: number;
}

interface SandboxAssignment {
  adamId: string;
  pricingParam: string;
  clientUserId: string;
  versionId: number;
}

export interface SandboxOrganisation {
  id: string;
  orgName: string;
  locationName: string;
  countryISO2ACode: string;
  uId: string;
  defaultPlatform: string;
  mdmInfo: SandboxMdmInfo | undefined;
  books: Map<string, SandboxBook>;
  /**
   * Every user entry by `entryId`, retired ones included; insertion order is version order (a changed
   * entry is deleted and re-added). One clientUserId can have several Retired entries and at most one other.
   */
  users: Map<string, SandboxUser>;
  /** clientUserId → entryId of its newest entry. */
  latestUser: Map<string, string>;
  assignments: Map<string, SandboxAssignment>;
  /** Change counter: every change gets the next number. */
  version: number;
  /** The number of the last change each read endpoint shows: Apple keeps a versionId per endpoint. */
  changed: { assets: number; users: number; assignments: number };
  /** Apple's versionIds are opaque strings: change number ↔ UUID-like id, minted when first shown. */
  versionIds: Map<number, string>;
  versionNumbers: Map<string, number>;
}

export interface SandboxToken {
  /** The whole Base64 file content, as it arrives after `Bearer `. */
  bearer: string;
  orgId: string;
  expiresAt: Date;
  revoked: boolean;
}

/** A token known only by the SHA-256 of its bearer: how a saved sandbox keeps tokens without writing them down. */
type SealedSandboxToken = Omit<SandboxToken, 'bearer'>;

/** The key a sealed token is kept under. */
function bearerDigest(bearer: string): string {
  return createHash('sha256').update(bearer, 'utf8').digest('hex');
}

export type SandboxEventType = 'ASSOCIATE' | 'DISASSOCIATE' | 'CREATE' | 'UPDATE' | 'RETIRE';

/** A user as the /users endpoints take it. */
interface SandboxUserInput {
  clientUserId: string;
  email?: string | undefined;
  managedAppleId?: string | undefined;
}

/** What an event does when it completes; plain data, so a saved sandbox finishes its pending events after a restart. */
type SandboxEventWork =
  | { kind: 'users'; eventType: 'CREATE' | 'UPDATE' | 'RETIRE'; users: SandboxUserInput[] }
  | { kind: 'associate'; assets: Array<{ adamId: string; pricingParam: string }>; clientUserIds: string[] };

export interface SandboxEvent {
  eventId: string;
  orgId: string;
  eventType: SandboxEventType;
  numRequested: number;
  completeAt: number;
  /** Done once, when the event completes, then cleared. */
  work: SandboxEventWork | undefined;
  failures: SandboxEventFailure[];
  numCompleted: number;
  done: boolean;
}

export interface SandboxStateOptions {
  /** Items per page for /assets, /assignments and /users; small by default so paging is exercised. */
  pageSize?: number;
  /** How long an async event stays PENDING. */
  eventDelayMs?: number;
  now?: () => Date;
}

export interface NewOrganisation {
  orgName: string;
  locationName?: string;
  countryISO2ACode?: string;
  /** `volumestore` for education (Apple School Manager), `enterprisestore` for business. */
  defaultPlatform?: string;
  mdmInfo?: SandboxMdmInfo;
  books?: readonly NewBook[];
}

export interface NewBook {
  adamId: string;
  title: string;
  author: string;
  /** A number, or 'unlimited' for a free book. */
  totalCount: number | 'unlimited';
  pricingParam?: 'STDQ' | 'PLUS';
}

export interface MintTokenOptions {
  expiresAt?: Date;
  revoked?: boolean;
  /** The inner `token` value; random by default. */
  token?: string;
}

const assetKey = (adamId: string, pricingParam: string): string => `${adamId}|${pricingParam}`;
const assignmentKey = (adamId: string, pricingParam: string, clientUserId: string): string =>
  `${adamId}|${pricingParam}|${clientUserId}`;

export function availableCount(book: SandboxBook): number {
  return Math.max(0, book.totalCount - book.assignedCount);
}

function errorMessage(errorNumber: AppleErrorNumber): string {
  return APPLE_ERRORS[errorNumber].message;
}

/**
 * Item failures → Apple's failures: one ErrorResponse per reason (and asset), naming all its users.
 * `assetsOnly` leaves the users out and names only the asset, which Apple's ResponseErrorInfo allows
 * (every field is optional): a client must then find out itself who got the book.
 */
function groupFailures(items: readonly SandboxItemFailure[], naming: 'users' | 'assetsOnly' = 'users'): SandboxEventFailure[] {
  const byReason = new Map<string, SandboxEventFailure>();
  for (const item of items) {
    const key = `${item.errorNumber}|${item.asset ? assetKey(item.asset.adamId, item.asset.pricingParam) : ''}`;
    let failure = byReason.get(key);
    if (!failure) {
      failure = { errorNumber: item.errorNumber, errorMessage: errorMessage(item.errorNumber), errorInfo: {} };
      if (item.asset) failure.errorInfo.assets = [{ ...item.asset }];
      byReason.set(key, failure);
    }
    if (item.clientUserId !== undefined && naming === 'users') (failure.errorInfo.clientUserIds ??= []).push(item.clientUserId);
  }
  return [...byReason.values()];
}

export class SandboxState {
  readonly organisations = new Map<string, SandboxOrganisation>();
  readonly tokens = new Map<string, SandboxToken>();
  /** Tokens restored from a saved state, by bearerDigest, until their bearer is presented. */
  readonly #sealedTokens = new Map<string, SealedSandboxToken>();
  readonly events = new Map<string, SandboxEvent>();
  #revision = 0;
  pageSize: number;
  eventDelayMs: number;
  now: () => Date;
  /** How event failures name what failed: every user (Apple's examples), or only the asset. */
  failureNaming: 'users' | 'assetsOnly' = 'users';

  constructor(options: SandboxStateOptions = {}) {
    this.pageSize = options.pageSize ?? 25;
    this.eventDelayMs = options.eventDelayMs ?? 1000;
    this.now = options.now ?? (() => new Date());
  }

  addOrganisation(input: NewOrganisation): SandboxOrganisation {
    const org: SandboxOrganisation = {
      id: randomUUID(),
      orgName: input.orgName,
      locationName: input.locationName ?? input.orgName,
      countryISO2ACode: input.countryISO2ACode ?? 'US',
      uId: String(2_000_000_000 + Math.floor(Math.random() * 1_000_000_000)),
      defaultPlatform: input.defaultPlatform ?? 'volumestore',
      mdmInfo: input.mdmInfo,
      books: new Map(),
      users: new Map(),
      latestUser: new Map(),
      assignments: new Map(),
      version: 1,
      changed: { assets: 1, users: 1, assignments: 1 },
      versionIds: new Map(),
      versionNumbers: new Map(),
    };
    this.organisations.set(org.id, org);
    this.changed();
    for (const book of input.books ?? []) this.addBook(org, book);
    return org;
  }

  /** Goes up with every change made through this class, so a saver knows when there is something to write. */
  get revision(): number {
    return this.#revision;
  }

  /** For changes made from outside, e.g. an MDM claiming the organisation. */
  changed(): void {
    this.#revision += 1;
  }

  /** Client Config (POST): the MDM that now holds the organisation's tokens. */
  claim(org: SandboxOrganisation, mdmInfo: SandboxMdmInfo): void {
    org.mdmInfo = { ...mdmInfo };
    this.changed();
  }

  addBook(org: SandboxOrganisation, input: NewBook): SandboxBook {
    const book: SandboxBook = {
      adamId: input.adamId,
      pricingParam: input.pricingParam ?? 'STDQ',
      title: input.title,
      author: input.author,
      totalCount: input.totalCount === 'unlimited' ? UNLIMITED_TOTAL_COUNT : input.totalCount,
      assignedCount: 0,
      retiredCount: 0,
    };
    org.books.set(assetKey(book.adamId, book.pricingParam), book);
    this.touch(org, 'assets');
    return book;
  }

  /** Records a change seen by `endpoints` (purchases change assets, a license changes assets and assignments). */
  touch(org: SandboxOrganisation, ...endpoints: Array<keyof SandboxOrganisation['changed']>): number {
    this.changed();
    org.version += 1;
    for (const endpoint of endpoints) org.changed[endpoint] = org.version;
    return org.version;
  }

  /** The versionId an endpoint shows now. */
  versionId(org: SandboxOrganisation, endpoint: keyof SandboxOrganisation['changed']): string {
    const number = org.changed[endpoint];
    let id = org.versionIds.get(number);
    if (!id) {
      id = randomUUID();
      org.versionIds.set(number, id);
      org.versionNumbers.set(id, number);
      // A client keeps the id to ask for changes since it: it must outlive a restart.
      this.changed();
    }
    return id;
  }

  /** The change number behind a versionId this organisation handed out; undefined for any other string (Apple: 9721). */
  versionNumber(org: SandboxOrganisation, versionId: string): number | undefined {
    return org.versionNumbers.get(versionId);
  }

  /** The entry that counts for a clientUserId: its newest, unless that one is retired. */
  activeUser(org: SandboxOrganisation, clientUserId: string): SandboxUser | undefined {
    const entryId = org.latestUser.get(clientUserId);
    const user = entryId === undefined ? undefined : org.users.get(entryId);
    return user && user.status !== 'Retired' ? user : undefined;
  }

  findBook(org: SandboxOrganisation, adamId: string, pricingParam: string): SandboxBook | undefined {
    return org.books.get(assetKey(adamId, pricingParam));
  }

  /** Registers a token for `org` and returns the `.vpptoken` file content (the bearer). */
  mintToken(org: SandboxOrganisation, options: MintTokenOptions = {}): string {
    const expiresAt = options.expiresAt ?? new Date(this.now().getTime() + 365 * 24 * 3600 * 1000);
    const bearer = encodeVppTokenFile({
      token: options.token ?? randomBytes(48).toString('base64'),
      expDate: expiresAt,
      orgName: org.orgName,
    });
    this.tokens.set(bearer, { bearer, orgId: org.id, expiresAt, revoked: options.revoked ?? false });
    this.changed();
    return bearer;
  }

  registerToken(bearer: string, org: SandboxOrganisation, expiresAt: Date, revoked = false): void {
    this.tokens.set(bearer, { bearer, orgId: org.id, expiresAt, revoked });
    this.changed();
  }

  /** A token restored from a saved state, known by bearerDigest until someone presents it. */
  addSealedToken(digest: string, token: SealedSandboxToken): void {
    this.#sealedTokens.set(digest, { ...token });
  }

  /** Every token by bearerDigest, whether its bearer is known or not: what a saved state keeps. */
  sealedTokens(): Map<string, SealedSandboxToken> {
    const all = new Map(this.#sealedTokens);
    for (const { bearer, ...token } of this.tokens.values()) all.set(bearerDigest(bearer), token);
    return all;
  }

  /** The token a request presents, unsealing a restored one on first use. */
  findToken(bearer: string): SandboxToken | undefined {
    const known = this.tokens.get(bearer);
    if (known || this.#sealedTokens.size === 0) return known;
    const digest = bearerDigest(bearer);
    const sealed = this.#sealedTokens.get(digest);
    if (!sealed) return undefined;
    this.#sealedTokens.delete(digest);
    const token = { ...sealed, bearer };
    this.tokens.set(bearer, token);
    return token;
  }

  revokeToken(bearer: string): void {
    const token = this.findToken(bearer);
    if (!token) return;
    token.revoked = true;
    this.changed();
  }

  organisation(id: string): SandboxOrganisation {
    const org = this.organisations.get(id);
    if (!org) throw new Error(`No sandbox organisation ${id}`);
    return org;
  }

  tokenExpirationDate(token: SandboxToken): string {
    return formatAppleDate(token.expiresAt);
  }

  // ---- users and assignments (the effects events apply) ----

  /**
   * Writes a user entry: a new one (a new clientUserId, or one whose entries are all retired) or, with
   * `entryId`, a change to an existing one. Either way it moves to the end of the version order.
   */
  putUser(org: SandboxOrganisation, user: Omit<SandboxUser, 'versionId' | 'userId' | 'entryId'> & { userId?: string; entryId?: string }): SandboxUser {
    const record: SandboxUser = {
      ...user,
      entryId: user.entryId ?? randomUUID(),
      userId: user.userId ?? String(100_000_000 + Math.floor(Math.random() * 900_000_000)),
      versionId: this.touch(org, 'users'),
    };
    org.users.delete(record.entryId);
    org.users.set(record.entryId, record);
    org.latestUser.set(record.clientUserId, record.entryId);
    return record;
  }

  /** Creates a VPP user the way Apple does: Managed Apple Account → Associated, else Registered with an invite code. */
  createUser(org: SandboxOrganisation, input: SandboxUserInput): SandboxItemFailure | undefined {
    if (this.activeUser(org, input.clientUserId)) return { clientUserId: input.clientUserId, errorNumber: 9716 };
    // A retired entry stays as it is: the new user is a new entry with the same clientUserId.
    this.putUser(org, {
      clientUserId: input.clientUserId,
      email: input.email,
      managedAppleId: input.managedAppleId,
      status: input.managedAppleId ? 'Associated' : 'Registered',
      inviteCode: input.managedAppleId ? undefined : randomBytes(16).toString('hex'),
      idHash: input.managedAppleId ? randomBytes(12).toString('base64') : undefined,
    });
    return undefined;
  }

  updateUser(org: SandboxOrganisation, input: SandboxUserInput): SandboxItemFailure | undefined {
    const existing = this.activeUser(org, input.clientUserId);
    if (!existing) return { clientUserId: input.clientUserId, errorNumber: 9609 };
    const managedAppleId = input.managedAppleId ?? existing.managedAppleId;
    this.putUser(org, {
      ...existing,
      email: input.email ?? existing.email,
      managedAppleId,
      status: managedAppleId ? 'Associated' : existing.status,
      inviteCode: managedAppleId ? undefined : existing.inviteCode,
    });
    return undefined;
  }

  retireUser(org: SandboxOrganisation, clientUserId: string): SandboxItemFailure | undefined {
    const existing = this.activeUser(org, clientUserId);
    if (!existing) return { clientUserId, errorNumber: 9609 };
    this.putUser(org, { ...existing, status: 'Retired', inviteCode: undefined });
    return undefined;
  }

  /** Spends one license, or reports 9709 when none is left; already assigned is a no-op. */
  assign(org: SandboxOrganisation, adamId: string, pricingParam: string, clientUserId: string): SandboxItemFailure | undefined {
    const asset = { adamId, pricingParam };
    if (!this.activeUser(org, clientUserId)) return { asset, clientUserId, errorNumber: 9609 };
    const key = assignmentKey(adamId, pricingParam, clientUserId);
    if (org.assignments.has(key)) return undefined;
    const book = this.findBook(org, adamId, pricingParam);
    if (!book || availableCount(book) <= 0) return { asset, clientUserId, errorNumber: 9709 };
    book.assignedCount += 1;
    org.assignments.set(key, { adamId, pricingParam, clientUserId, versionId: this.touch(org, 'assets', 'assignments') });
    return undefined;
  }

  // ---- async events ----

  createEvent(org: SandboxOrganisation, eventType: SandboxEventType, numRequested: number, work: SandboxEventWork): SandboxEvent {
    const event: SandboxEvent = {
      eventId: randomUUID(),
      orgId: org.id,
      eventType,
      numRequested,
      completeAt: this.now().getTime() + this.eventDelayMs,
      work,
      failures: [],
      numCompleted: 0,
      done: false,
    };
    this.events.set(event.eventId, event);
    this.changed();
    if (this.eventDelayMs <= 0) this.#complete(event);
    return event;
  }

  /** Completes every due event of `org`, so reads after the delay see the effects even without polling. */
  settle(org: SandboxOrganisation): void {
    const now = this.now().getTime();
    for (const event of this.events.values()) {
      if (event.orgId === org.id && !event.done && event.completeAt <= now) this.#complete(event);
    }
  }

  #complete(event: SandboxEvent): void {
    const org = this.organisations.get(event.orgId);
    const failed = org && event.work ? this.#perform(org, event.work) : [];
    event.work = undefined;
    event.failures = groupFailures(failed, this.failureNaming);
    event.numCompleted = event.numRequested - failed.length;
    event.done = true;
    this.changed();
  }

  /** An event's work; returns the items that failed. */
  #perform(org: SandboxOrganisation, work: SandboxEventWork): SandboxItemFailure[] {
    const failures: SandboxItemFailure[] = [];
    const note = (failure: SandboxItemFailure | undefined): void => {
      if (failure) failures.push(failure);
    };
    if (work.kind === 'users') {
      for (const user of work.users) {
        if (work.eventType === 'CREATE') note(this.createUser(org, user));
        else if (work.eventType === 'UPDATE') note(this.updateUser(org, user));
        else note(this.retireUser(org, user.clientUserId));
      }
    } else {
      for (const asset of work.assets) {
        for (const clientUserId of work.clientUserIds) note(this.assign(org, asset.adamId, asset.pricingParam, clientUserId));
      }
    }
    return failures;
  }

  // ---- bulk seeding for tests and benchmarks ----

  /** Adds `count` Associated users named `${prefix}-${n}`; returns their clientUserIds. */
  seedUsers(org: SandboxOrganisation, count: number, prefix = 'seed-user'): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const clientUserId = `${prefix}-${i}`;
      this.putUser(org, { clientUserId, status: 'Associated', managedAppleId: `${clientUserId}@example.org` });
      ids.push(clientUserId);
    }
    return ids;
  }

  /** Spreads `count` assignments over the org's books and the given users, growing license counts as needed. */
  seedAssignments(org: SandboxOrganisation, clientUserIds: readonly string[], count: number): void {
    const books = [...org.books.values()];
    if (books.length === 0 || clientUserIds.length === 0) throw new Error('seedAssignments needs books and users');
    let made = 0;
    for (let round = 0; made < count; round++) {
      for (const book of books) {
        if (made >= count) break;
        const clientUserId = clientUserIds[(made + round) % clientUserIds.length];
        if (clientUserId === undefined) break;
        if (org.assignments.has(assignmentKey(book.adamId, book.pricingParam, clientUserId))) continue;
        if (availableCount(book) <= 0) book.totalCount += 1;
        if (this.assign(org, book.adamId, book.pricingParam, clientUserId) === undefined) made += 1;
      }
      if (round > count) throw new Error('seedAssignments: not enough users × books for that many assignments');
    }
  }
}

export { assignmentKey };
