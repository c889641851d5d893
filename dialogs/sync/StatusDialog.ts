import { ComponentDialog, WaterfallDialog, type Dialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { statusBoardCard, type TokenStatusView } from '../../cards/syncCards';
import { licenseTotals } from '../../services/store/entities/eBook';
import type { VppToken } from '../../services/store/entities/vppToken';
import type { SyncService } from '../../services/sync/SyncService';
import { tokenHealth } from '../../services/sync/tokenHealth';
import type { TokenService } from '../../services/tokens/TokenService';
import { endWithError } from '../chatErrors';
import type { FlowOptions } from '../flows';
import { sendCard } from '../replies';
import type { BackendKind } from '../../services/backend/ports';
import { backendLine } from '../../services/backend/backendText';

/** Where the board reads a token's recent syncs (the sync service). */
export type SyncHistorySource = Pick<SyncService, 'history'>;

/**
 * "status": every token's health the way Intune shows it (healthy, warning, unhealthy, and why).
 * "status <token name>" (or a card's Token status button) narrows it to one token, shown with its recent
 * syncs; any other argument is a book title, handed to `bookStatus`.
 */
export class StatusDialog extends ComponentDialog {
  static readonly id = 'status';

  constructor(
    private readonly tokens: TokenService,
    private readonly history: SyncHistorySource,
    /** The book assignment status flow ("status <book title>"). */
    private readonly bookStatus: Dialog,
    private readonly backend: BackendKind,
  ) {
    super(StatusDialog.id);
    this.addDialog(bookStatus);
    this.addDialog(new WaterfallDialog('status.steps', [(step) => this.show(step)]));
    this.initialDialogId = 'status.steps';
  }

  private async show(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const options = step.options as FlowOptions;
    const actor = options.actor;
    if (!actor) throw new Error('status runs only for an authorised admin');
    try {
      const argument = options.argument.trim();
      const tokens = options.tokenId
        ? [await this.tokens.getToken(actor.tenantId, options.tokenId)]
        : argument
          ? await this.tokens.findTokens(actor.tenantId, argument)
          : await this.tokens.listTokens(actor.tenantId);
      if (argument && !options.tokenId && tokens.length === 0) return await step.beginDialog(this.bookStatus.id, options);
      const now = new Date();
      // The sync history of one token is worth its charts; of many it would bury the board.
      const withHistory = tokens.length === 1;
      const views = await Promise.all(tokens.map((t) => this.view(t, now, withHistory)));
      await sendCard(step.context, statusBoardCard(views, now, backendLine(this.backend)));
      return step.endDialog();
    } catch (err) {
      return endWithError(step, err);
    }
  }

  private async view(token: VppToken, now: Date, withHistory: boolean): Promise<TokenStatusView> {
    const [books, history] = await Promise.all([this.tokens.books(token.id), withHistory ? this.history.history(token.id) : undefined]);
    const report = tokenHealth(token, now);
    return {
      id: token.id,
      displayName: token.displayName,
      health: report.health,
      reasons: report.reasons,
      expirationDateTime: token.expirationDateTime,
      lastSyncDateTime: token.lastSyncDateTime,
      lastSyncStatus: token.lastSyncStatus,
      books: books.length,
      licenses: licenseTotals(books),
      history,
    };
  }
}
