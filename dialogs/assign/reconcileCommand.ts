import type { TurnContext } from 'botbuilder';
import type { RunReconciliation } from '../../services/assignments/runReconciliation';
import type { Logger } from '../../services/logging/logger';
import type { BookSearch } from '../../services/assignments/bookSearch';
import type { TokenService } from '../../services/tokens/TokenService';
import { echoArgument, escapeMarkdown } from '../../services/common/chatText';
import { flowActor, type FlowOptions } from '../flows';
import { normaliseText } from '../parseCommand';
import { replyTarget, type ConversationPoster } from '../sync/syncChat';

/** The slice of the reconciler `reconcile` needs. */
export interface Reconciler {
  reconcileToken(tokenId: string, book?: { adamId: string; pricingParam: string }): Promise<RunReconciliation[]>;
}

const MAX_BOOKS = 10;
const n = (v: number): string => v.toLocaleString('en-GB');

/**
 * "reconcile [book]": looks at every delivered assignment (of one book, or all) for people who joined or
 * left its groups since, as the scheduled syncs do. Answers at once; what it found is posted here when done.
 */
export class ReconcileCommand {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly books: BookSearch,
    private readonly tokens: Pick<TokenService, 'listTokens'>,
    private readonly reconciler: Reconciler,
    private readonly poster: ConversationPoster,
    private readonly logger?: Logger,
  ) {}

  readonly answer = async (context: TurnContext, options: FlowOptions): Promise<void> => {
    const actor = flowActor(options, 'reconcile');
    const text = normaliseText(options.argument);
    const targets: Array<{ tokenId: string; book?: { adamId: string; pricingParam: string }; title?: string }> = [];
    if (text) {
      const books = await this.books.find(actor.tenantId, text);
      if (books.length === 0) {
        await context.sendActivity(`No book matches ${echoArgument(text)}. Type **books** to browse them, or **reconcile** alone for every book.`);
        return;
      }
      for (const { token, book } of books.slice(0, MAX_BOOKS)) targets.push({ tokenId: token.id, book: { adamId: book.adamId, pricingParam: book.pricingParam }, title: book.title });
    } else {
      for (const token of await this.tokens.listTokens(actor.tenantId)) targets.push({ tokenId: token.id });
    }
    const what = text ? targets.map((t) => `"${escapeMarkdown(t.title ?? '')}"`).join(', ') : 'every book';
    await context.sendActivity(`Checking the groups of ${what} for people who joined or left since the books were assigned. I will post what I find here.`);
    const target = replyTarget(context, actor.tenantId);
    this.track(async () => {
      const results: RunReconciliation[] = [];
      for (const t of targets) results.push(...(await this.reconciler.reconcileToken(t.tokenId, t.book)));
      await this.poster.send(target, { text: reconcileSummary(results) });
    });
  };

  /** Resolves when every reconciliation asked for so far has posted its result (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private track(work: () => Promise<void>): void {
    const promise = work()
      .catch((err: unknown) => this.logger?.error({ err }, 'reconcile failed'))
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }
}

/** What reconciliation found, one line per assignment that changed, in the admin's words. */
export function reconcileSummary(results: readonly RunReconciliation[]): string {
  if (results.length === 0) return 'No book is assigned to a group yet, so there was nothing to check. Type **assign** to assign one.';
  const lines: string[] = [];
  let quiet = 0;
  for (const r of results) {
    if (r.state !== 'reconciled') {
      lines.push(`- "${escapeMarkdown(r.bookTitle)}": not checked now. ${r.reason ?? ''}`.trim());
      continue;
    }
    // Intune mode: a refused top-up took the groups off the book in Intune; that is the news, whatever else changed.
    if (r.reason) lines.push(`- "${escapeMarkdown(r.bookTitle)}": ${r.reason}`);
    const changed = r.groups.filter((g) => g.joined > 0 || g.left > 0 || g.waiting > 0 || g.licensing > 0);
    if (changed.length === 0) {
      if (!r.reason) quiet++;
      continue;
    }
    for (const g of changed) {
      const parts: string[] = [];
      if (g.licensing > 0) parts.push(`${n(g.licensing)} get the book now`);
      if (g.inviting > 0) parts.push(`${n(g.inviting)} are invited to join your organisation's Apple volume purchasing first`);
      if (g.offering > 0) parts.push(`${n(g.offering)} are told the book is available to them`);
      if (g.waiting > 0) parts.push(`${n(g.waiting)} wait for more licenses`);
      if (g.joined > 0 && parts.length === 0) parts.push(`${n(g.joined)} joined`);
      if (g.left > 0) parts.push(`${n(g.left)} left the group (they keep their licenses)`);
      lines.push(`- "${escapeMarkdown(r.bookTitle)}" → ${escapeMarkdown(g.groupName)}: ${parts.join('; ')}.`);
    }
    if (r.topUp?.outcome === 'requested') lines.push(`  The approved licenses are used up: I asked the approvers for ${n(r.topUp.count)} more.`);
    else if (r.topUp?.outcome === 'unchanged') lines.push(`  The approved licenses are used up; a request for ${n(r.topUp.count)} more was made already.`);
    else if (r.topUp?.outcome === 'withdrawn') lines.push('  Nobody waits for more licenses any more, so the pending top-up request was withdrawn.');
    else if (r.topUp?.outcome === 'failed') lines.push(`  The approved licenses are used up, and asking for more failed: ${r.topUp.message ?? ''}`);
  }
  const header = `Checked ${n(results.length)} assignment${results.length === 1 ? '' : 's'}.`;
  const tail = quiet === 0 ? '' : lines.length === 0 ? 'Nobody joined or left their groups.' : `${n(quiet)} other${quiet === 1 ? '' : 's'}: nobody joined or left.`;
  return [header, ...lines, tail].filter((l) => l).join('\n');
}
