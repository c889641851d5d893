import { randomBytes, randomUUID } from 'node:crypto';
import { encodeVppTokenFile, formatAppleDate } from '../VppTokenFile';
import type { EventFailure, MdmInfo } from '../schemas';

/** State of the local Apple sandbox: organisations, their tokens, books, users, assignments and events. */

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
  clientUserId: string;
  userId: string;
  email?: string;
  managedAppleId?: string;
  inviteCode?: string;
  idHash?: string;
  status: 'Registered' | 'Associated' | 'Retired';
  versionId: number;
}

export interface SandboxAssignment {
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
  mdmInfo: MdmInfo | undefined;
  books: Map<string, SandboxBook>;
  /** Insertion order is version order: a changed record is deleted and re-added. */
  users: Map<string, SandboxUser>;
  assignments: Map<string, SandboxAssignment>;
  version: number;
}

export interface SandboxToken {
  /** The whole Base64 file content, as it arrives after `Bearer `. */
  bearer: string;
  orgId: string;
  expiresAt: Date;
  revoked: boolean;
}

export type SandboxEventType = 'ASSOCIATE' | 'DISASSOCIATE' | 'CREATE' | 'UPDATE' | 'RETIRE';

export interface SandboxEvent {
  eventId: string;
  orgId: string;
  eventType: SandboxEventType;
  numRequested: number;
  completeAt: number;
  /** Runs once, when the event completes; returns the per-item failures. */
  apply: (() => EventFailure[]) | undefined;
  failures: EventFailure[];
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
  mdmInfo?: MdmInfo;
  books?: readonly NewBook[];
}

export interface NewBook {
  adamId: string;
  title: string;
  author: string;
  totalCount: number;
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

export class SandboxState {
  readonly organisations = new Map<string, SandboxOrganisation>();
  readonly tokens = new Map<string, SandboxToken>();
  readonly events = new Map<string, SandboxEvent>();
  pageSize: number;
  eventDelayMs: number;
  now: () => Date;

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
      mdmInfo: input.mdmInfo,
      books: new Map(),
      users: new Map(),
      assignments: new Map(),
      version: 1,
    };
    this.organisations.set(org.id, org);
    for (const book of input.books ?? []) this.addBook(org, book);
    return org;
  }

  addBook(org: SandboxOrganisation, input: NewBook): SandboxBook {
    const book: SandboxBook = {
      adamId: input.adamId,
      pricingParam: input.pricingParam ?? 'STDQ',
      title: input.title,
      author: input.author,
      totalCount: input.totalCount,
      assignedCount: 0,
      retiredCount: 0,
    };
    org.books.set(assetKey(book.adamId, book.pricingParam), book);
    return book;
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
    return bearer;
  }

  registerToken(bearer: string, org: SandboxOrganisation, expiresAt: Date, revoked = false): void {
    this.tokens.set(bearer, { bearer, orgId: org.id, expiresAt, revoked });
  }

  revokeToken(bearer: string): void {
    const token = this.tokens.get(bearer);
    if (token) token.revoked = true;
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

  #bump(org: SandboxOrganisation): number {
    org.version += 1;
    return org.version;
  }

  putUser(org: SandboxOrganisation, user: Omit<SandboxUser, 'versionId' | 'userId'> & { userId?: string }): SandboxUser {
    const record: SandboxUser = {
      ...user,
      userId: user.userId ?? String(100_000_000 + Math.floor(Math.random() * 900_000_000)),
      versionId: this.#bump(org),
    };
    org.users.delete(record.clientUserId);
    org.users.set(record.clientUserId, record);
    return record;
  }

  /** Creates a VPP user the way Apple does: Managed Apple Account → Associated, else Registered with an invite code. */
  createUser(org: SandboxOrganisation, input: { clientUserId: string; email?: string; managedAppleId?: string }): EventFailure | undefined {
    const existing = org.users.get(input.clientUserId);
    if (existing && existing.status !== 'Retired') {
      return { clientUserId: input.clientUserId, errorNumber: 9716, errorMessage: 'User already exists' };
    }
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

  updateUser(org: SandboxOrganisation, input: { clientUserId: string; email?: string; managedAppleId?: string }): EventFailure | undefined {
    const existing = org.users.get(input.clientUserId);
    if (!existing || existing.status === 'Retired') {
      return { clientUserId: input.clientUserId, errorNumber: 9609, errorMessage: 'Registered user not found' };
    }
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

  retireUser(org: SandboxOrganisation, clientUserId: string): EventFailure | undefined {
    const existing = org.users.get(clientUserId);
    if (!existing || existing.status === 'Retired') {
      return { clientUserId, errorNumber: 9609, errorMessage: 'Registered user not found' };
    }
    this.putUser(org, { ...existing, status: 'Retired', inviteCode: undefined });
    return undefined;
  }

  /** Spends one license, or reports 9709 when none is left; already assigned is a no-op. */
  assign(org: SandboxOrganisation, adamId: string, pricingParam: string, clientUserId: string): EventFailure | undefined {
    const user = org.users.get(clientUserId);
    if (!user || user.status === 'Retired') {
      return { adamId, pricingParam, clientUserId, errorNumber: 9609, errorMessage: 'Registered user not found' };
    }
    const key = assignmentKey(adamId, pricingParam, clientUserId);
    if (org.assignments.has(key)) return undefined;
    const book = this.findBook(org, adamId, pricingParam);
    if (!book) return { adamId, pricingParam, clientUserId, errorNumber: 9718, errorMessage: 'Asset not found' };
    if (availableCount(book) <= 0) {
      return { adamId, pricingParam, clientUserId, errorNumber: 9709, errorMessage: 'Not enough licenses' };
    }
    book.assignedCount += 1;
    org.assignments.set(key, { adamId, pricingParam, clientUserId, versionId: this.#bump(org) });
    return undefined;
  }

  // ---- async events ----

  createEvent(org: SandboxOrganisation, eventType: SandboxEventType, numRequested: number, apply: () => EventFailure[]): SandboxEvent {
    const event: SandboxEvent = {
      eventId: randomUUID(),
      orgId: org.id,
      eventType,
      numRequested,
      completeAt: this.now().getTime() + this.eventDelayMs,
      apply,
      failures: [],
      numCompleted: 0,
      done: false,
    };
    this.events.set(event.eventId, event);
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
    const failures = event.apply?.() ?? [];
    event.apply = undefined;
    event.failures = failures;
    event.numCompleted = event.numRequested - failures.length;
    event.done = true;
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

export { assetKey, assignmentKey };
