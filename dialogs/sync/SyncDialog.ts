import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { notificationCard, type Fact } from '../../cards/syncCards';
import { syncResultMessage } from '../../services/notifications/messages';
import type { Recipient } from '../../services/notifications/NotificationOutbox';
import { UserFacingError } from '../../services/errors';
import type { Logger } from '../../services/logging/logger';
import type { VppToken } from '../../services/store/entities/vppToken';
import type { StartResult, SyncService } from '../../services/sync/SyncService';
import type { SyncOutcome, SyncProgress } from '../../services/sync/types';
import type { AdminActor, TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import type { FlowOptions } from '../flows';
import { replyTarget, type ConversationPoster } from './syncChat';

export interface SyncDialogOptions {
  logger?: Logger | undefined;
  /** A sync still running after this long gets a progress message. */
  progressAfterMs?: number | undefined;
  /** And another at most this often. */
  progressEveryMs?: number | undefined;
}

const PHASES: Record<SyncProgress['phase'], string> = {
  config: 'checking the token with Apple',
  books: 'reading books',
  users: 'reading users',
  assignments: 'reading licenses',
  saving: 'saving changes',
};

/** Most tokens named one by one in the "sync all" summary; the rest are counted. */
const SUMMARY_LIMIT = 20;

/**
 * "sync [token name | all]" and the tokens card's Sync now button: starts syncs in the background,
 * answers at once, posts progress for long syncs and the result into the conversation that asked.
 */
export class SyncDialog extends ComponentDialog {
  static readonly id = 'sync';

  constructor(
    private readonly sync: SyncService,
    private readonly tokens: TokenService,
    private readonly poster: ConversationPoster,
    private readonly options: SyncDialogOptions = {},
  ) {
    super(SyncDialog.id);
    this.addDialog(new WaterfallDialog('sync.steps', [(step) => this.start(step)]));
    this.initialDialogId = 'sync.steps';
  }

  private async targets(actor: AdminActor, options: FlowOptions): Promise<VppToken[]> {
    if (options.tokenId) return [await this.tokens.getToken(actor.tenantId, options.tokenId)];
    const argument = options.argument.trim();
    const all = await this.tokens.listTokens(actor.tenantId);
    if (all.length === 0) throw new UserFacingError('There are no VPP tokens to sync yet. Type **upload token** to add one.', 'no_tokens');
    if (argument === '' || argument.toLowerCase() === 'all') return all;
    const found = await this.tokens.findTokens(actor.tenantId, argument);
    if (found.length === 0) throw new UserFacingError(`No token matches "${argument}". Type **tokens** to see their names, or **sync all**.`, 'token_not_found');
    if (found.length > 1) {
      throw new UserFacingError(`Several tokens match "${argument}": ${found.map((t) => `**${t.displayName}**`).join(', ')}. Type **sync** followed by the full name, or **sync all**.`, 'token_ambiguous');
    }
    return found;
  }

  private async start(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const options = step.options as FlowOptions;
    const actor = options.actor;
    if (!actor) throw new Error('sync runs only for an authorised admin');
    try {
      const tokens = await this.targets(actor, options);
      const target = replyTarget(step.context, actor.tenantId);
      const progress = new ProgressReporter(this.poster, target, this.options);
      const results: StartResult[] = [];
      for (const token of tokens) {
        results.push(
          await this.sync.startToken(actor.tenantId, token.id, {
            trigger: 'manual',
            startedBy: { aadObjectId: actor.aadObjectId, displayName: actor.name },
            onProgress: (p) => progress.update(token.displayName, p),
          }),
        );
      }
      await step.context.sendActivity(startedText(results));
      const running = results.flatMap((r) => (r.status === 'started' ? [r.done] : []));
      if (running.length > 0) {
        // The turn is over by the time this settles: a failure can only be logged.
        this.reportWhenDone(running, target, progress).catch((err: unknown) => this.options.logger?.error({ err }, 'sync result not posted'));
      }
      return step.endDialog();
    } catch (err) {
      return endWithError(step, err);
    }
  }

  private async reportWhenDone(running: Array<Promise<SyncOutcome>>, target: Recipient, progress: ProgressReporter): Promise<void> {
    const settled = await Promise.allSettled(running);
    progress.stop();
    const outcomes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const crashed = settled.length - outcomes.length;
    const [only] = outcomes;
    if (only && outcomes.length === 1 && crashed === 0) {
      await this.poster.send(target, syncResultMessage(only));
      return;
    }
    await this.poster.send(target, summaryMessage(outcomes, crashed));
  }
}

function startedText(results: readonly StartResult[]): string {
  const lines = results.map((r) => {
    switch (r.status) {
      case 'started':
        return `Sync started for **${r.tokenName}**.`;
      case 'alreadyRunning':
        return `A sync of **${r.tokenName}** is already running; I did not start another. Its result will be posted when it finishes.`;
      case 'notSyncable':
        return r.message;
    }
  });
  const started = results.filter((r) => r.status === 'started').length;
  if (results.length > 3) {
    const notStarted = results.flatMap((r, i) => (r.status === 'started' ? [] : [lines[i] ?? '']));
    return [`Sync started for ${started} of ${results.length} tokens. I will post the result here when they finish.`, ...notStarted].join('\n\n');
  }
  if (started > 0) lines.push('I will post the result here when it finishes.');
  return lines.join('\n\n');
}

function summaryMessage(outcomes: readonly SyncOutcome[], crashed: number): { text: string; card: Record<string, unknown> } {
  const completed = outcomes.filter((o) => o.status === 'completed');
  const failed = outcomes.filter((o) => o.status !== 'completed');
  const facts: Fact[] = [...failed, ...completed].slice(0, SUMMARY_LIMIT).map((o) => ({
    title: o.tokenName,
    value: o.status === 'completed' ? `${o.books} books, ${o.licenses.available} of ${o.licenses.total} licenses available` : `failed: ${o.error?.message ?? 'unknown error'}`,
  }));
  const more = outcomes.length - facts.length;
  if (more > 0) facts.push({ title: 'More', value: `${more} more tokens` });
  const text = `Sync of ${outcomes.length + crashed} tokens finished: ${completed.length} completed, ${failed.length + crashed} failed.`;
  const card = notificationCard({
    title: 'Sync finished',
    text,
    color: failed.length + crashed > 0 ? 'Warning' : 'Good',
    facts,
    nextStep: failed.length > 0 ? 'Type **status** to see what needs attention.' : '',
  });
  return { text, card };
}

/** Tells the chat how a long sync is going, without flooding it. */
class ProgressReporter {
  private readonly startedAt = Date.now();
  private lastSent = 0;
  private stopped = false;
  private readonly latest = new Map<string, SyncProgress>();
  private sending = false;

  constructor(
    private readonly poster: ConversationPoster,
    private readonly target: Recipient,
    private readonly options: SyncDialogOptions,
  ) {}

  update(tokenName: string, progress: SyncProgress): void {
    this.latest.set(tokenName, progress);
    const now = Date.now();
    if (this.stopped || this.sending || now - this.startedAt < (this.options.progressAfterMs ?? 15_000)) return;
    if (this.lastSent && now - this.lastSent < (this.options.progressEveryMs ?? 30_000)) return;
    this.lastSent = now;
    this.sending = true;
    this.poster
      .send(this.target, { text: this.describe() })
      .catch(() => 'failed')
      .finally(() => (this.sending = false));
  }

  private describe(): string {
    const entries = [...this.latest.entries()];
    if (entries.length === 1 && entries[0]) {
      const [name, p] = entries[0];
      return `Still syncing **${name}**: ${PHASES[p.phase]}${p.done > 0 ? ` (${p.done.toLocaleString('en-GB')} so far)` : ''}, ${Math.round(p.elapsedMs / 1000)} s in.`;
    }
    return `Still syncing ${entries.length} tokens, ${Math.round((Date.now() - this.startedAt) / 1000)} s in.`;
  }

  stop(): void {
    this.stopped = true;
  }
}
