import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import type { Recipient } from '../../services/notifications/NotificationOutbox';
import type { SyncResultNotices } from '../../services/notifications/SyncResultNotices';
import { echoArgument, escapeMarkdown } from '../../services/common/chatText';
import { formatCount } from '../../services/common/format';
import { UserFacingError } from '../../services/errors';
import type { VppToken } from '../../services/store/entities/vppToken';
import type { StartResult } from '../../services/sync/SyncService';
import type { SyncProgress } from '../../services/sync/types';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import type { TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import type { FlowOptions } from '../flows';
import { replyTarget, type ConversationPoster } from './syncChat';

export interface SyncDialogOptions {
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

/**
 * "sync [token name | all]" and the tokens card's Sync now button: starts syncs in the background,
 * answers at once, posts progress for long syncs; the result reaches the conversation that asked once,
 * even across a restart (SyncResultNotices).
 */
export class SyncDialog extends ComponentDialog {
  static readonly id = 'sync';

  constructor(
    private readonly results: SyncResultNotices,
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
    if (found.length === 0) throw new UserFacingError(`No token matches ${echoArgument(argument)}. Type **tokens** to see their names, or **sync all**.`, 'token_not_found');
    if (found.length > 1) {
      throw new UserFacingError(`Several tokens match ${echoArgument(argument)}: ${found.map((t) => `**${escapeMarkdown(t.displayName)}**`).join(', ')}. Type **sync** followed by the full name, or **sync all**.`, 'token_ambiguous');
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
      const names = new Map(tokens.map((t) => [t.id, t.displayName]));
      // The result is posted by whichever process finishes the syncs (SyncResultNotices), after this reply.
      const results = await this.results.start(
        {
          tenantId: actor.tenantId,
          tokens,
          recipient: target,
          request: {
            trigger: 'manual',
            startedBy: { aadObjectId: actor.aadObjectId, displayName: actor.name },
            onProgress: (p) => progress.update(names.get(p.tokenId) ?? p.tokenId, p),
          },
        },
        async (started) => {
          await step.context.sendActivity(startedText(started));
        },
      );
      const running = results.flatMap((r) => (r.status === 'started' ? [r.done] : []));
      void Promise.allSettled(running).then(() => progress.stop());
      return step.endDialog();
    } catch (err) {
      return endWithError(step, err);
    }
  }
}

function startedText(results: readonly StartResult[]): string {
  const lines = results.map((r) => {
    switch (r.status) {
      case 'started':
        return `Sync started for **${escapeMarkdown(r.tokenName)}**.`;
      case 'alreadyRunning':
        return `A sync of **${escapeMarkdown(r.tokenName)}** is already running; I did not start another. Its result will be posted when it finishes.`;
      case 'notSyncable':
        return r.message;
    }
  });
  const started = results.filter((r) => r.status === 'started').length;
  if (results.length > 3) {
    const notStarted = results.flatMap((r, i) => (r.status === 'started' ? [] : [lines[i] ?? '']));
    return [`Sync started for ${formatCount(started)} of ${formatCount(results.length)} tokens. I will post the result here when they finish.`, ...notStarted].join('\n\n');
  }
  if (started > 0) lines.push('I will post the result here when it finishes.');
  return lines.join('\n\n');
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
      return `Still syncing **${escapeMarkdown(name)}**: ${PHASES[p.phase]}${p.done > 0 ? ` (${formatCount(p.done)} so far)` : ''}, ${formatCount(Math.round(p.elapsedMs / 1000))} s in.`;
    }
    return `Still syncing ${formatCount(entries.length)} tokens, ${formatCount(Math.round((Date.now() - this.startedAt) / 1000))} s in.`;
  }

  stop(): void {
    this.stopped = true;
  }
}
