import { randomUUID } from 'node:crypto';
import type { AppleBooksClient, AsyncOperationResult } from '../apple/AppleBooksClient';
import { VppError } from '../apple/VppError';
import { validEmail } from '../common/email';
import { forEachLimited } from '../common/forEachLimited';
import { truncate } from '../common/truncate';
import { DirectoryUnavailableError } from '../directory/errors';
import { UserFacingError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import { isStoreUnavailable } from '../store/errors';
import { LIMITS } from '../store/entities/common';
import { IN_FLIGHT_CLAIM_STATES, SETTLED_CLAIM_STATES, bookClaimId, type BookClaim } from '../store/entities/bookClaim';
import type { VppToken } from '../store/entities/vppToken';
import type { VppUser } from '../store/entities/vppUser';
import type { AssignmentRun, AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import {
  USER_EXISTS,
  UNKNOWN_EVENT,
  appleHolds,
  claimUserRequest,
  currentUsersVersion,
  failureFor,
  memberReason,
  readUserSince,
  storedStatus,
  type ClaimFailure,
} from './claimApple';
import { noticeRunOf, refreshBookCounts } from './runIdentity';
import { claimedBook, isClaimable, type ClaimDirectory, type ClaimOutcome, type ClaimedBook, type ClaimingMember, type MemberBooks } from './claimModel';
import { NO_MEMBER_NOTICES, type MemberNotices } from './memberNotices';
import { memberBooks } from './memberBooks';
import type { AppleClientProvider } from './ports';
import type { TopUpRequester } from './StandingAssignmentReconciler';

export interface BookClaimServiceOptions {
  store: Store;
  runs: AssignmentRunRepository;
  directory: ClaimDirectory;
  clients: AppleClientProvider;
  /** Asks the approvers for more licenses once the budget is used up (the ApprovalService, cards sent). */
  topUps: TopUpRequester;
  /** Members told when a license reaches them after their click was answered (a top-up, a slow Apple, a recovery). */
  notices?: MemberNotices | undefined;
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
  /** Apple /status polling for claim events (production: Apple's 30 s). */
  wait?: { intervalMs?: number; timeoutMs?: number } | undefined;
  /**
   * How long a click waits for Apple before answering "on its way" (Teams gives a turn 15 s); the delivery
   * goes on in the background and the member is told when the book is theirs.
   */
  answerWithinMs?: number | undefined;
  /** A reservation or delivery untouched this long was cut off (a crash): recovery takes it over. */
  stalledAfterMs?: number | undefined;
}

const DEFAULT_ANSWER_WITHIN_MS = 10_000;
/** Longer than a delivery takes with Apple's 30 s event polling, so recovery never races a live one. */
const DEFAULT_STALLED_AFTER_MS = 10 * 60_000;
const CLAIM_POLL_MS = 200;
/** Rounds of "look, then write conditionally" a click makes before leaving it to whoever keeps winning. */
const MAX_CLAIM_ROUNDS = 5;
const HANDOUT_CONCURRENCY = 4;
/** Re-counts after asking for a top-up, so claims waiting at the same moment end up in one number. */
const TOP_UP_RECOUNTS = 3;

/** What a delivery ended with. */
type Delivered = { state: 'licensed' | 'invited'; invitationUrl?: string | undefined } | { state: 'refused'; failure: ClaimFailure };

/** The result of taking one license for a claim that an attempt owns in `reserving`. */
type Reservation = { state: 'reserved'; claim: BookClaim } | { state: 'waiting' } | { state: 'gone' } | { state: 'lost' };

/** Another attempt (recovery after a stall) took the claim over: this one stops without writing more. */
class Superseded extends Error {
  override readonly name = 'Superseded';
}

const owns =
  (attempt: string, state: BookClaim['state']) =>
  (c: BookClaim): boolean =>
    c.attempt === attempt && c.state === state;

/**
 * Members getting the book of an Available assignment themselves, within its approved budget. Every
 * claim is one document per run and member (a double click, a second instance or a retry meet the same
 * one) moved between states by conditional writes under an attempt id; a license is taken from the run
 * by a conditional `spent < budget → spent + 1` before Apple is asked and given back, once, when Apple
 * refuses. Beyond the budget the claim waits and the approvers are asked for a top-up; an approved
 * top-up goes to the waiting claims first come, first served. Knows nothing of chat.
 */
export class BookClaimService {
  private readonly now: () => Date;
  private readonly notices: MemberNotices;
  private readonly answerWithinMs: number;
  private readonly stalledAfterMs: number;
  private readonly background = new Set<Promise<void>>();
  private sweep: Promise<number> | undefined;

  constructor(private readonly options: BookClaimServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.notices = options.notices ?? NO_MEMBER_NOTICES;
    this.answerWithinMs = options.answerWithinMs ?? DEFAULT_ANSWER_WITHIN_MS;
    this.stalledAfterMs = options.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS;
  }

  /** The member's books: the Available ones of their groups (Get), and those already theirs. */
  booksFor(tenantId: string, member: Pick<ClaimingMember, 'aadObjectId'>): Promise<MemberBooks> {
    const { store, runs, directory, clients, logger } = this.options;
    return memberBooks({ store, runs, directory, clients, logger }, tenantId, member.aadObjectId.toLowerCase());
  }

  /**
   * A member's Get. Everything is checked again here (the card is user data): the run is an Available
   * assignment of this tenant, the member is in one of its groups now, the token can be used.
   */
  async claim(tenantId: string, member: ClaimingMember, ref: { tokenId: string; runId: string }): Promise<ClaimOutcome> {
    const memberId = member.aadObjectId.toLowerCase();
    const run = await this.options.runs.get(ref.tokenId, ref.runId);
    if (!run || run.tenantId.toLowerCase() !== tenantId.toLowerCase() || !isClaimable(run)) return { outcome: 'notAvailable' };
    const book = claimedBook(run);
    const existing = await this.options.store.claims.get(run.tokenId, bookClaimId(run.id, memberId));
    if (existing && SETTLED_CLAIM_STATES.has(existing.state)) return this.alreadyYours(run, book, existing);
    if (!(await this.inGroups(memberId, run))) return { outcome: 'notInGroup', book };
    const token = await this.usableToken(run);
    if (!token) return { outcome: 'notAvailable' };
    return this.claimFor(run, this.options.clients(token), { ...member, aadObjectId: memberId }, book);
  }

  /** An approved top-up of an Available assignment: the claims waiting get their licenses, in the background. */
  topUpApproved(tokenId: string, runId: string): void {
    this.track(async () => {
      await this.handOut(tokenId, runId);
    });
  }

  /**
   * The waiting claims of a run get licenses while its budget has room (first come, first served) and
   * are told; anyone still waiting is asked for again. Safe to run anywhere, any number of times.
   */
  async handOut(tokenId: string, runId: string): Promise<number> {
    const run = await this.options.runs.get(tokenId, runId);
    if (!run || !isClaimable(run)) return 0;
    const token = await this.usableToken(run);
    if (!token) return 0;
    const client = this.options.clients(token);
    const ready: Array<{ claim: BookClaim; attempt: string }> = [];
    for (const waiting of await this.options.store.claims.listWaiting(tokenId, runId)) {
      const attempt = randomUUID();
      const mine = await this.transition(waiting, (c) => c.state === 'waiting', (c) => ({ ...c, state: 'reserving', attempt }));
      if (!mine) continue;
      if (await this.holdsAlready(client, run, mine.member.aadObjectId)) {
        await this.transition(mine, owns(attempt, 'reserving'), (c) => ({ ...c, state: 'held', attempt: undefined, settledDateTime: this.now().toISOString() }));
        continue;
      }
      const reserved = await this.reserve(run, mine, attempt);
      if (reserved.state === 'waiting' || reserved.state === 'gone') break;
      if (reserved.state === 'reserved') ready.push({ claim: reserved.claim, attempt });
    }
    let licensed = 0;
    await forEachLimited(ready, HANDOUT_CONCURRENCY, async ({ claim, attempt }) => {
      try {
        const delivered = await this.deliver(claim, attempt);
        if (delivered.state !== 'refused') licensed++;
        await this.tell(run, claim, delivered);
      } catch (err) {
        if (!(err instanceof Superseded)) this.options.logger?.warn({ err, claimId: claim.id }, 'handing out a topped-up license failed; the recovery sweep finishes it');
      }
    });
    await this.afterHandOut(tokenId, runId);
    return licensed;
  }

  /**
   * Start-up and every sweep: claims a crash cut off are finished (their members told), and every run with
   * claims waiting either hands out licenses it has room for or has its top-up asked for. Idempotent.
   */
  resumeClaims(): Promise<number> {
    this.sweep ??= this.resume().finally(() => (this.sweep = undefined));
    return this.sweep;
  }

  /** Resolves when the background work started so far is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.background.size > 0 || this.sweep) await Promise.allSettled([...this.background, ...(this.sweep ? [this.sweep] : [])]);
  }

  private async resume(): Promise<number> {
    const { store, runs, logger } = this.options;
    let resumed = 0;
    for (const stalled of await store.claims.listStalled(new Date(this.now().getTime() - this.stalledAfterMs))) {
      try {
        const run = await runs.get(stalled.tokenId, stalled.runId);
        const result = await this.takeOver(stalled, run);
        if (!result) continue;
        resumed++;
        if (run && result !== 'waiting' && result !== 'gone') await this.tell(run, stalled, result);
      } catch (err) {
        if (!(err instanceof Superseded)) logger?.warn({ err, claimId: stalled.id }, 'resuming a claim failed; the next sweep tries again');
      }
    }
    for (const ref of await store.claims.listRunsWithWaiting()) {
      try {
        const run = await runs.get(ref.tokenId, ref.runId);
        if (!run || !isClaimable(run) || run.budget === undefined) continue;
        // Room in the budget (a top-up approved while nobody handed it out): the waiting get it now.
        if ((run.spent ?? 0) < run.budget) await this.handOut(ref.tokenId, ref.runId);
        else await this.askTopUp(run);
      } catch (err) {
        logger?.warn({ err, runId: ref.runId }, 'looking at waiting claims failed; the next sweep tries again');
      }
    }
    return resumed;
  }

  /** One Get, from the member's claim as it stands: a conditional write decides which click does the work. */
  private async claimFor(run: AssignmentRun, client: AppleBooksClient, member: ClaimingMember, book: ClaimedBook): Promise<ClaimOutcome> {
    const { claims } = this.options.store;
    const id = bookClaimId(run.id, member.aadObjectId);
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const current = await claims.get(run.tokenId, id);
      if (current && SETTLED_CLAIM_STATES.has(current.state)) return this.alreadyYours(run, book, current);
      if (current && IN_FLIGHT_CLAIM_STATES.has(current.state)) {
        if (!this.isStalled(current)) return this.awaitOther(run, book, current);
        return this.answerInTime(run, book, current, this.takeOver(current, run));
      }
      // Someone who holds the book already (a Required assignment, another run) costs no license.
      if (await this.holdsAlready(client, run, member.aadObjectId)) {
        await this.markHeld(run, member, current);
        return { outcome: 'alreadyYours', book };
      }
      const attempt = randomUUID();
      const mine = current
        ? await this.transition(current, (c) => c.state === current.state && (c.state === 'waiting' || c.state === 'refused'), (c) => ({ ...c, state: 'reserving', attempt, failure: undefined }))
        : await claims.tryCreate(this.newClaim(run, member, { state: 'reserving', attempt }));
      // A double click or another instance got there first: look again at what it did.
      if (!mine) continue;
      const reserved = await this.reserve(run, mine, attempt);
      if (reserved.state === 'gone') return { outcome: 'notAvailable' };
      if (reserved.state === 'lost') return this.awaitOther(run, book, mine);
      if (reserved.state === 'waiting') return { outcome: 'budgetUsedUp', book, ...(await this.askTopUp(run)) };
      return this.answerInTime(run, book, reserved.claim, this.deliver(reserved.claim, attempt));
    }
    return { outcome: 'onItsWay', book };
  }

  /**
   * Takes one license of the run's budget for a claim the attempt owns in `reserving`: a conditional
   * `spent < budget → spent + 1`, so concurrent claims on any number of instances never take more than
   * the budget. No room: the claim waits for a top-up.
   */
  private async reserve(run: AssignmentRun, claim: BookClaim, attempt: string): Promise<Reservation> {
    const taken = await this.options.runs.update(run.tokenId, run.id, (r) => (isClaimable(r) && (r.spent ?? 0) < (r.budget ?? 0) ? { ...r, spent: (r.spent ?? 0) + 1 } : undefined));
    if (!taken || !isClaimable(taken.value)) {
      await this.transition(claim, owns(attempt, 'reserving'), (c) => ({ ...c, state: 'refused', attempt: undefined, failure: { code: 'not_available', message: 'the assignment is no longer available' } }));
      return { state: 'gone' };
    }
    if (!taken.written) {
      const waiting = await this.transition(claim, owns(attempt, 'reserving'), (c) => ({ ...c, state: 'waiting', attempt: undefined, waitingSince: c.waitingSince ?? this.now().toISOString() }));
      return waiting ? { state: 'waiting' } : { state: 'lost' };
    }
    const reserved = await this.transition(claim, owns(attempt, 'reserving'), (c) => ({ ...c, state: 'reserved' }));
    if (!reserved) {
      // Only a recovery that judged this attempt dead takes it over; it counts the license again, so the
      // budget comes out one short rather than over.
      this.options.logger?.warn({ claimId: claim.id }, 'a claim was taken over between its reservation and its confirmation');
      return { state: 'lost' };
    }
    return { state: 'reserved', claim: reserved };
  }

  /**
   * The Apple side of a reserved claim: the VPP user when missing (Managed Apple Account, else an
   * invitation), then the association, its events followed to the end. Each step is recorded on the claim
   * under the attempt, so a resumed claim awaits a request already sent instead of sending it again.
   */
  private async deliver(claim: BookClaim, attempt: string): Promise<Delivered> {
    const { store } = this.options;
    const memberId = claim.member.aadObjectId;
    const token = await store.tokens.get(claim.tenantId, claim.tokenId);
    if (!token || token.state !== 'valid') return this.refuse(claim, attempt, { code: 'token', message: "the organisation's VPP token cannot be used right now" });
    const client = this.options.clients(token);
    try {
      let user = await store.vppUsers.get(claim.tokenId, memberId);
      if (!user || user.status === 'retired') {
        const created = await this.createUser(claim, attempt, client);
        if ('failure' in created) return this.refuse(claim, attempt, created.failure);
        user = created.user;
      }
      const result = await this.associate(claim, attempt, client);
      const failure = failureFor(result, memberId);
      // A partly failed event may still have given them the book: Apple's own list decides.
      if (failure && !(await appleHolds(client, claim, memberId))) return this.refuse(claim, attempt, failure);
      const invited = user.status === 'registered';
      const inviteCode = invited ? user.inviteCode : undefined;
      const settled = await this.transition(claim, owns(attempt, 'reserved'), (c) => ({
        ...c,
        state: invited ? 'invited' : 'licensed',
        attempt: undefined,
        eventIds: undefined,
        inviteCode,
        settledDateTime: this.now().toISOString(),
      }));
      if (!settled) throw new Superseded();
      await this.audit(settled, 'success');
      this.track(() => this.refreshBook(settled, client));
      const invitationUrl = inviteCode ? await client.invitationUrl(inviteCode).catch(() => undefined) : undefined;
      return { state: invited ? 'invited' : 'licensed', invitationUrl };
    } catch (err) {
      // Apple refused for good (not an outage): the license goes back, unless the request reached Apple before the
      // error and the member holds the book (then, or when Apple cannot tell us, the claim stays reserved and the
      // recovery sweep settles it). An outage leaves the claim reserved for recovery too.
      if (err instanceof VppError && !err.isRetryable) {
        const holds = await appleHolds(client, claim, memberId).catch(() => undefined);
        if (holds === false) return this.refuse(claim, attempt, { code: truncate(err.code, LIMITS.errorCode), message: memberReason(err.errorNumber) });
      }
      throw err;
    }
  }

  /** Creates the member's VPP user and reads it back (invite codes are only in /users), storing it as ours. */
  private async createUser(claim: BookClaim, attempt: string, client: AppleBooksClient): Promise<{ user: VppUser } | { failure: ClaimFailure }> {
    const memberId = claim.member.aadObjectId;
    let versionId = claim.usersVersionId;
    if (versionId === undefined) {
      versionId = await currentUsersVersion(client);
      const noted = versionId;
      if (noted !== undefined && !(await this.transition(claim, owns(attempt, 'reserved'), (c) => ({ ...c, usersVersionId: noted })))) throw new Superseded();
    }
    const [person] = await this.options.directory.usersByIds([memberId]);
    const created = await client.createUsersAndWait([claimUserRequest(person ?? { id: memberId, mail: undefined, managedAppleId: undefined })], this.waitOptions());
    const failed = created.failures.find((f) => f.errorNumber !== USER_EXISTS && (f.clientUserIds.length === 0 || f.clientUserIds.includes(memberId)));
    if (failed) return { failure: { code: String(failed.errorNumber), message: memberReason(failed.errorNumber) } };
    // Created before our version (9716: a user of ours the store did not know): only a full read finds it.
    const apple = (await readUserSince(client, memberId, versionId)) ?? (versionId === undefined ? undefined : await readUserSince(client, memberId, undefined));
    if (!apple) return { failure: { code: 'user_missing', message: 'Apple did not list your account after creating it' } };
    const now = this.now().toISOString();
    const user: VppUser = {
      id: memberId,
      tokenId: claim.tokenId,
      tenantId: claim.tenantId,
      clientUserId: memberId,
      status: storedStatus(apple.status),
      inviteCode: apple.inviteCode,
      email: validEmail(apple.email ?? person?.mail),
      managedAppleId: apple.managedAppleId,
      appleUserId: apple.userId,
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    return { user: (await this.options.store.vppUsers.upsertIfChanged(user)).value };
  }

  /** Associates the book with the member; a request recorded as sent is awaited instead of sent again. */
  private async associate(claim: BookClaim, attempt: string, client: AppleBooksClient): Promise<AsyncOperationResult> {
    const asset = { adamId: claim.adamId, pricingParam: claim.pricingParam };
    const sent = (await this.options.store.claims.get(claim.tokenId, claim.id))?.eventIds;
    if (sent && sent.length > 0) {
      try {
        return await client.waitForEvents(sent, this.waitOptions());
      } catch (err) {
        // Apple forgot the event: sent again (associate is idempotent per user and book, nothing is spent twice).
        if (!(err instanceof VppError && err.errorNumber === UNKNOWN_EVENT)) throw err;
      }
    }
    const eventIds = await client.associateAssets([asset], [claim.member.aadObjectId]);
    if (!(await this.transition(claim, owns(attempt, 'reserved'), (c) => ({ ...c, eventIds })))) throw new Superseded();
    return client.waitForEvents(eventIds, this.waitOptions());
  }

  /** Apple refused: the claim records it and gives its license back, once (only the attempt that owns it can). */
  private async refuse(claim: BookClaim, attempt: string, failure: ClaimFailure): Promise<Delivered> {
    const refused = await this.transition(claim, owns(attempt, 'reserved'), (c) => ({ ...c, state: 'refused', attempt: undefined, eventIds: undefined, failure }));
    if (!refused) throw new Superseded();
    await this.options.runs.update(claim.tokenId, claim.runId, (r) => ({ ...r, spent: Math.max(0, (r.spent ?? 0) - 1) }));
    await this.audit(refused, 'failure');
    return { state: 'refused', failure };
  }

  /**
   * A claim whose attempt stalled (a crash) taken over under a new attempt: a `reserving` one takes its
   * license again (the dead attempt may or may not have counted it: the budget can come out one short,
   * never over), a `reserved` one goes on with Apple. Undefined when someone else moved it on meanwhile.
   */
  private async takeOver(stalled: BookClaim, run: AssignmentRun | undefined): Promise<Delivered | 'waiting' | 'gone' | undefined> {
    const attempt = randomUUID();
    const cutoff = this.now().getTime() - this.stalledAfterMs;
    const mine = await this.transition(
      stalled,
      (c) => c.state === stalled.state && c.attempt === stalled.attempt && Date.parse(c.lastModifiedDateTime) < cutoff,
      (c) => ({ ...c, attempt }),
    );
    if (!mine) return undefined;
    if (mine.state === 'reserved') return this.deliver(mine, attempt);
    if (!run) {
      await this.transition(mine, owns(attempt, 'reserving'), (c) => ({ ...c, state: 'refused', attempt: undefined, failure: { code: 'not_available', message: 'the assignment is no longer available' } }));
      return 'gone';
    }
    const reserved = await this.reserve(run, mine, attempt);
    if (reserved.state === 'waiting') {
      await this.askTopUp(run);
      return 'waiting';
    }
    if (reserved.state !== 'reserved') return reserved.state === 'gone' ? 'gone' : undefined;
    return this.deliver(reserved.claim, attempt);
  }

  /**
   * The click's answer: the delivery's outcome when Apple is quick, else "on its way" while it goes on in
   * the background (the member is told when it is theirs). An Apple outage leaves the license reserved
   * and the claim to the recovery sweep.
   */
  private async answerInTime(run: AssignmentRun, book: ClaimedBook, claim: BookClaim, delivery: Promise<Delivered | 'waiting' | 'gone' | undefined>): Promise<ClaimOutcome> {
    const settled = delivery.then(
      (value) => ({ value }),
      (err: unknown) => ({ err }),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.answerWithinMs);
    });
    const first = await Promise.race([settled, late]);
    clearTimeout(timer);
    if (first === undefined) {
      this.track(async () => {
        const result = await settled;
        if ('value' in result) {
          if (result.value && result.value !== 'waiting' && result.value !== 'gone') await this.tell(run, claim, result.value);
        } else if (!(result.err instanceof Superseded)) {
          this.options.logger?.warn({ err: result.err, claimId: claim.id }, 'a claim delivery failed after its answer; the recovery sweep finishes it');
        }
      });
      return { outcome: 'onItsWay', book };
    }
    if ('err' in first) {
      if (first.err instanceof Superseded) return this.awaitOther(run, book, claim);
      if (!isTransient(first.err)) throw first.err;
      this.options.logger?.warn({ err: first.err, claimId: claim.id }, 'Apple or the store did not answer a claim; the recovery sweep finishes it');
      return { outcome: 'onItsWay', book };
    }
    const value = first.value;
    if (value === undefined) return this.awaitOther(run, book, claim);
    if (value === 'gone') return { outcome: 'notAvailable' };
    if (value === 'waiting') return { outcome: 'budgetUsedUp', book, topUp: 'asked' };
    if (value.state === 'refused') return { outcome: 'refused', book, reason: value.failure.message };
    return { outcome: 'licensed', book, invitationUrl: value.invitationUrl };
  }

  /** Another click (or instance) is on this claim: its outcome, once it has one, is this click's answer too. */
  private async awaitOther(run: AssignmentRun, book: ClaimedBook, claim: BookClaim): Promise<ClaimOutcome> {
    const deadline = Date.now() + this.answerWithinMs;
    let current: BookClaim = claim;
    while (IN_FLIGHT_CLAIM_STATES.has(current.state) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
      current = (await this.options.store.claims.get(claim.tokenId, claim.id)) ?? current;
    }
    if (SETTLED_CLAIM_STATES.has(current.state)) return this.alreadyYours(run, book, current);
    if (current.state === 'waiting') return { outcome: 'budgetUsedUp', book, topUp: 'asked' };
    if (current.state === 'refused') return { outcome: 'refused', book, reason: current.failure?.message ?? 'Apple could not complete it' };
    return { outcome: 'onItsWay', book };
  }

  private async alreadyYours(run: AssignmentRun, book: ClaimedBook, claim: BookClaim): Promise<ClaimOutcome> {
    if (claim.state !== 'invited' || !claim.inviteCode) return { outcome: 'alreadyYours', book };
    const token = await this.usableToken(run);
    const invitationUrl = token ? await this.options.clients(token).invitationUrl(claim.inviteCode).catch(() => undefined) : undefined;
    return { outcome: 'alreadyYours', book, invitationUrl };
  }

  /**
   * Budget used up: the approvers are asked for as many licenses as claims wait (once per number; the
   * request is in the original requester's name). Counted again after asking, so claims that started
   * waiting at the same moment end up in one request rather than the first one's smaller number.
   */
  private async askTopUp(run: AssignmentRun): Promise<{ topUp: 'asked' | 'notAsked'; problem?: string }> {
    const { store, runs, topUps, logger } = this.options;
    let asked = -1;
    for (let i = 0; i < TOP_UP_RECOUNTS; i++) {
      const count = await store.claims.countWaiting(run.tokenId, run.id);
      if (count === asked || count === 0) break;
      const current = (await runs.get(run.tokenId, run.id)) ?? run;
      try {
        await topUps.requestTopUp({ run: current, count, groupNames: current.groups.map((g) => g.groupName) });
      } catch (err) {
        if (!(err instanceof UserFacingError)) throw err;
        logger?.warn({ err, runId: run.id }, 'could not ask for a top-up of an Available assignment');
        return { topUp: 'notAsked', problem: err.message };
      }
      asked = count;
    }
    return { topUp: 'asked' };
  }

  /** After a hand-out: an approved top-up given out is no longer held back; anyone still waiting is asked for. */
  private async afterHandOut(tokenId: string, runId: string): Promise<void> {
    const left = await this.options.store.claims.countWaiting(tokenId, runId);
    if (left > 0) {
      const run = await this.options.runs.get(tokenId, runId);
      if (run && run.budget !== undefined && (run.spent ?? 0) >= run.budget) await this.askTopUp(run);
      return;
    }
    await this.options.runs.update(tokenId, runId, (r) => (r.topUp?.state === 'approved' ? { ...r, topUp: undefined } : undefined));
  }

  /** The member is told what a delivery that finished after their click did (through the MemberNotices port). */
  private async tell(run: AssignmentRun, claim: Pick<BookClaim, 'member' | 'id'>, delivered: Delivered): Promise<void> {
    const member = { clientUserId: claim.member.aadObjectId, displayName: claim.member.displayName };
    try {
      if (delivered.state === 'licensed') await this.notices.licensed(noticeRunOf(run), [member]);
      else if (delivered.state === 'invited' && delivered.invitationUrl) await this.notices.invited(noticeRunOf(run), [{ ...member, invitationUrl: delivered.invitationUrl }]);
      else if (delivered.state === 'refused') this.options.logger?.info({ claimId: claim.id, code: delivered.failure.code }, 'Apple refused a claimed book; the member sees it offered again');
    } catch (err) {
      this.options.logger?.warn({ err, claimId: claim.id }, 'could not record a notice for a claimed book');
    }
  }

  private async markHeld(run: AssignmentRun, member: ClaimingMember, current: BookClaim | undefined): Promise<void> {
    const held = { state: 'held' as const, attempt: undefined, settledDateTime: this.now().toISOString() };
    if (!current) {
      await this.options.store.claims.tryCreate(this.newClaim(run, member, held));
      return;
    }
    await this.transition(current, (c) => c.state === current.state && !IN_FLIGHT_CLAIM_STATES.has(c.state), (c) => ({ ...c, ...held, failure: undefined }));
  }

  private newClaim(run: AssignmentRun, member: ClaimingMember, fields: Pick<BookClaim, 'state' | 'attempt'> & Partial<BookClaim>): BookClaim {
    const now = this.now().toISOString();
    return {
      id: bookClaimId(run.id, member.aadObjectId),
      tokenId: run.tokenId,
      tenantId: run.tenantId,
      runId: run.id,
      adamId: run.adamId,
      pricingParam: run.pricingParam,
      bookTitle: run.bookTitle,
      member: { aadObjectId: member.aadObjectId, displayName: truncate(member.displayName, LIMITS.displayName) },
      createdDateTime: now,
      lastModifiedDateTime: now,
      ...fields,
    };
  }

  /** Conditional change of a claim: written only while `when` holds for the stored claim; undefined otherwise. */
  private async transition(claim: Pick<BookClaim, 'tokenId' | 'id'>, when: (c: BookClaim) => boolean, change: (c: BookClaim) => BookClaim): Promise<BookClaim | undefined> {
    const result = await this.options.store.claims.update(claim.tokenId, claim.id, (c) => (when(c) ? change(c) : undefined));
    return result?.written ? result.value : undefined;
  }

  private async inGroups(memberId: string, run: AssignmentRun): Promise<boolean> {
    const groupIds = run.groups.map((g) => g.groupId);
    const member = new Set((await this.options.directory.checkMemberGroups(memberId, groupIds)).map((g) => g.toLowerCase()));
    return groupIds.some((g) => member.has(g.toLowerCase()));
  }

  /** Only users this bot created can hold a book under our clientUserIds: no stored user, no Apple read. */
  private async holdsAlready(client: AppleBooksClient, run: AssignmentRun, memberId: string): Promise<boolean> {
    const user = await this.options.store.vppUsers.get(run.tokenId, memberId);
    if (!user || user.status === 'retired') return false;
    return appleHolds(client, run, memberId);
  }

  private async usableToken(run: AssignmentRun): Promise<VppToken | undefined> {
    const token = await this.options.store.tokens.get(run.tenantId, run.tokenId);
    return token?.state === 'valid' ? token : undefined;
  }

  private isStalled(claim: BookClaim): boolean {
    return Date.parse(claim.lastModifiedDateTime) < this.now().getTime() - this.stalledAfterMs;
  }

  private waitOptions(): { intervalMs?: number; timeoutMs?: number } {
    return { ...this.options.wait };
  }

  /** The book's counts read afresh for that one book, so `books` and `status` show the license taken. */
  private async refreshBook(claim: BookClaim, client: AppleBooksClient): Promise<void> {
    await refreshBookCounts(this.options.store, client, claim, this.now());
  }


  private async audit(claim: BookClaim, outcome: 'success' | 'failure'): Promise<void> {
    try {
      await this.options.store.audit.record({
        tenantId: claim.tenantId,
        actor: { aadObjectId: claim.member.aadObjectId, displayName: claim.member.displayName },
        action: 'book.claim',
        target: { type: 'book', id: `${claim.adamId}|${claim.pricingParam}`, name: claim.bookTitle },
        tokenId: claim.tokenId,
        outcome,
        details: { runId: claim.runId, state: claim.state, ...(claim.failure ? { reason: claim.failure.code } : {}) },
      });
    } catch (err) {
      this.options.logger?.warn({ err }, 'could not audit a claimed book');
    }
  }

  private track(work: () => Promise<void>): void {
    const promise: Promise<void> = work()
      .catch((err: unknown) => this.options.logger?.warn({ err }, 'background work on claimed books failed; the recovery sweep tries again'))
      .finally(() => this.background.delete(promise));
    this.background.add(promise);
  }
}

/** Failures worth leaving to the recovery sweep: Apple, Graph or Cosmos busy or down. */
function isTransient(err: unknown): boolean {
  if (err instanceof VppError) return err.isRetryable;
  return err instanceof DirectoryUnavailableError || isStoreUnavailable(err);
}
