import { VppError } from '../apple/VppError';
import { forEachLimited } from '../common/forEachLimited';
import type { Logger } from '../logging/logger';
import type { Store } from '../store/Store';
import { IN_FLIGHT_CLAIM_STATES, SETTLED_CLAIM_STATES, type BookClaim } from '../store/entities/bookClaim';
import type { VppToken } from '../store/entities/vppToken';
import type { AssignmentRun, AssignmentRunRepository } from '../store/repositories/AssignmentRunRepository';
import { appleHoldings, assetKey } from './claimApple';
import { isClaimable, type ClaimDirectory, type ClaimOutcome, type ClaimingMember, type MemberBook, type MemberBooks } from './claimModel';
import type { AppleClientProvider } from './ports';

export interface MemberBooksDependencies {
  store: Store;
  runs: AssignmentRunRepository;
  directory: ClaimDirectory;
  clients: AppleClientProvider;
  logger?: Logger | undefined;
}

/** A book Intune delivers to the member's managed devices (Intune mode). */
interface IntuneMemberBook {
  tokenId: string;
  adamId: string;
  pricingParam: string;
  title: string;
  author?: string | undefined;
  coverUrl?: string | undefined;
}

/**
 * Intune mode's `my books`: the books assigned to groups the member is in. Intune delivers them, not the
 * bot: Available ones are installed from the Company Portal app, Required ones install by themselves.
 */
export interface IntuneShelf {
  delivery: 'intune';
  available: IntuneMemberBook[];
  required: IntuneMemberBook[];
}

/**
 * What `my books` asks of the backend. Apple mode's is BookClaimService: the member's books, and a Get that
 * licenses them. Intune mode's is IntuneMemberBooks: the books Intune delivers, and no Get.
 */
export interface MemberBookPort {
  booksFor(tenantId: string, member: Pick<ClaimingMember, 'aadObjectId'>): Promise<MemberBooks | IntuneShelf>;
  /** A Get click; absent where nobody gets a book through the bot (Intune mode). */
  claim?(tenantId: string, member: ClaimingMember, ref: { tokenId: string; runId: string }): Promise<ClaimOutcome>;
}

/** Books a card lists per section; more would not fit a Teams message anyway. */
const MAX_LISTED_BOOKS = 30;
const TOKEN_CONCURRENCY = 4;

/** What one token contributes to a member's list. */
interface TokenView {
  token: VppToken;
  runs: AssignmentRun[];
  claims: BookClaim[];
  /** Books Apple holds for the member under this token (adamId|pricingParam); undefined when not read. */
  held: Set<string> | undefined;
  invitationUrl: string | undefined;
}

/**
 * A member's books, read per token of the tenant (point reads and single-partition queries): the
 * Available assignments of groups they are in (one Graph checkMemberGroups for all their groups) and what
 * they hold. What they hold is Apple's answer for their clientUserId, one read per token they are a VPP
 * user of, so books of Required assignments show as theirs too; when Apple does not answer, their settled
 * claims stand in for it.
 */
export async function memberBooks(deps: MemberBooksDependencies, tenantId: string, memberId: string): Promise<MemberBooks> {
  const tokens = (await deps.store.tokens.listByTenant(tenantId)).filter((t) => t.state === 'valid');
  const views: TokenView[] = [];
  await forEachLimited(tokens, TOKEN_CONCURRENCY, async (token) => {
    views.push(await readToken(deps, token, memberId));
  });

  const groupIds = [...new Set(views.flatMap((v) => v.runs.flatMap((r) => r.groups.map((g) => g.groupId))))];
  const memberOf = new Set(groupIds.length === 0 ? [] : (await deps.directory.checkMemberGroups(memberId, groupIds)).map((g) => g.toLowerCase()));

  const offered = new Map<string, MemberBook>();
  const yours = new Map<string, MemberBook>();
  for (const view of views) {
    const tokenId = view.token.id;
    const claimByRun = new Map(view.claims.map((c) => [c.runId, c]));
    const status = view.invitationUrl ? ('joinVpp' as const) : ('yours' as const);
    for (const key of view.held ?? []) {
      const [adamId = '', pricingParam = ''] = key.split('|');
      yours.set(`${tokenId}|${key}`, { tokenId, adamId, pricingParam, title: '', status, invitationUrl: view.invitationUrl });
    }
    for (const claim of view.claims) {
      const key = `${tokenId}|${assetKey(claim)}`;
      if (!SETTLED_CLAIM_STATES.has(claim.state) || yours.has(key)) continue;
      yours.set(key, { tokenId, adamId: claim.adamId, pricingParam: claim.pricingParam, title: claim.bookTitle, status: claim.state === 'invited' ? 'joinVpp' : 'yours', invitationUrl: view.invitationUrl });
    }
    // Several assignments of one book to groups they are in show once: the one they already asked from, else one with licenses left.
    const eligible = view.runs.filter((r) => r.groups.some((g) => memberOf.has(g.groupId.toLowerCase()))).sort((a, b) => rank(b, claimByRun) - rank(a, claimByRun));
    for (const run of eligible) {
      const key = `${tokenId}|${assetKey(run)}`;
      if (yours.has(key) || offered.has(key)) continue;
      const claim = claimByRun.get(run.id);
      const state = claim?.state === 'waiting' ? 'waiting' : claim && IN_FLIGHT_CLAIM_STATES.has(claim.state) ? 'onItsWay' : 'offered';
      offered.set(key, { tokenId, adamId: run.adamId, pricingParam: run.pricingParam, title: run.bookTitle, runId: run.id, status: state });
    }
  }
  return { offered: await describe(deps, [...offered.values()]), yours: await describe(deps, [...yours.values()]) };
}

/** Orders a member's candidate runs for one book: the one they claimed from first, then those with room. */
function rank(run: AssignmentRun, claims: ReadonlyMap<string, BookClaim>): number {
  if (claims.has(run.id)) return 2;
  return (run.spent ?? 0) < (run.budget ?? 0) ? 1 : 0;
}

async function readToken(deps: MemberBooksDependencies, token: VppToken, memberId: string): Promise<TokenView> {
  const [runs, claims, user] = await Promise.all([
    deps.runs.listClaimable(token.id),
    deps.store.claims.listByMember(token.id, memberId),
    deps.store.vppUsers.get(token.id, memberId),
  ]);
  const view: TokenView = { token, runs: runs.filter((r) => r.tenantId === token.tenantId && isClaimable(r)), claims, held: undefined, invitationUrl: undefined };
  // Only users this bot created hold books under our clientUserIds: no user here, nothing to ask Apple.
  if (!user || user.status === 'retired') return view;
  const client = deps.clients(token);
  try {
    view.held = await appleHoldings(client, memberId);
    if (user.status === 'registered' && user.inviteCode) view.invitationUrl = await client.invitationUrl(user.inviteCode);
  } catch (err) {
    if (!(err instanceof VppError)) throw err;
    deps.logger?.warn({ err, tokenId: token.id }, "Apple did not answer for a member's books; their claims stand in for it");
  }
  return view;
}

/** Titles, authors and covers from the synced catalogue (a book not synced yet keeps the run's title). */
async function describe<T extends IntuneMemberBook>(deps: Pick<MemberBooksDependencies, 'store'>, books: T[]): Promise<T[]> {
  const listed = books.slice(0, MAX_LISTED_BOOKS);
  await forEachLimited(listed, 8, async (book) => {
    const stored = await deps.store.books.get(book.tokenId, book.adamId, book.pricingParam === 'PLUS' ? 'PLUS' : 'STDQ');
    book.title = stored?.title || book.title || `Book ${book.adamId}`;
    book.author = stored?.author;
    book.coverUrl = stored?.coverUrl;
  });
  return listed.sort((a, b) => a.title.localeCompare(b.title));
}

/**
 * A run whose groups have the book: delivered once (the executor assigned the groups), or being reconciled
 * since. Awaiting approval, cancelled or failed runs gave nobody anything, and a run withdrawn from Intune
 * after a refused top-up gives nobody more.
 */
function isDelivered(run: AssignmentRun): boolean {
  if (run.withdrawnFromIntune) return false;
  if (run.state === 'completed') return true;
  return (run.pass ?? 0) > 0 && (run.state === 'approved' || run.state === 'running' || run.state === 'interrupted');
}

/**
 * `my books` in Intune mode: the books the bot's delivered assignments give to groups the member is in (one
 * Graph checkMemberGroups for all of them), per token of the tenant. Nothing is claimed here: Intune
 * licenses and delivers, so there is no Get. A book assigned both ways is listed once, as Required.
 */
export class IntuneMemberBooks implements MemberBookPort {
  constructor(private readonly deps: { store: Store; runs: AssignmentRunRepository; directory: Pick<ClaimDirectory, 'checkMemberGroups'> }) {}

  async booksFor(tenantId: string, member: Pick<ClaimingMember, 'aadObjectId'>): Promise<IntuneShelf> {
    const { store, runs, directory } = this.deps;
    const tokens = (await store.tokens.listByTenant(tenantId)).filter((t) => t.state === 'valid');
    const delivered: AssignmentRun[] = [];
    await forEachLimited(tokens, TOKEN_CONCURRENCY, async (token) => {
      // Completed runs of either intent, and Available ones being reconciled (the repository's two reads of delivered runs).
      const [standing, claimable] = await Promise.all([runs.listStanding(token.id), runs.listClaimable(token.id)]);
      const byId = new Map([...standing, ...claimable].map((r) => [r.id, r]));
      delivered.push(...[...byId.values()].filter((r) => r.tenantId === token.tenantId && isDelivered(r)));
    });

    // Entra ids in any case are one group: each is asked about once.
    const groupIds = [...new Set(delivered.flatMap((r) => r.groups.map((g) => g.groupId.toLowerCase())))];
    const memberOf = new Set(groupIds.length === 0 ? [] : (await directory.checkMemberGroups(member.aadObjectId.toLowerCase(), groupIds)).map((g) => g.toLowerCase()));

    const required = new Map<string, IntuneMemberBook>();
    const available = new Map<string, IntuneMemberBook>();
    for (const run of delivered) {
      if (!run.groups.some((g) => memberOf.has(g.groupId.toLowerCase()))) continue;
      const key = `${run.tokenId}|${assetKey(run)}`;
      (run.installIntent === 'required' ? required : available).set(key, { tokenId: run.tokenId, adamId: run.adamId, pricingParam: run.pricingParam, title: run.bookTitle });
    }
    // Required installs it anyway: offering it in Company Portal as well would only confuse.
    for (const key of required.keys()) available.delete(key);
    return { delivery: 'intune', available: await describe({ store }, [...available.values()]), required: await describe({ store }, [...required.values()]) };
  }
}
