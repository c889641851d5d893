import type { SyncResultNotices } from '../../services/notifications/SyncResultNotices';
import type { TokenService } from '../../services/tokens/TokenService';
import type { Dialog } from 'botbuilder-dialogs';
import type { BackendKind } from '../../services/backend/ports';
import type { FlowRegistration } from '../flows';
import { StatusDialog, type SyncHistorySource } from './StatusDialog';
import { SyncDialog, type SyncDialogOptions } from './SyncDialog';
import type { ConversationPoster } from './syncChat';

export interface SyncFlowDependencies {
  tokens: TokenService;
  /** Posts background progress (the NotificationOutbox). */
  poster: ConversationPoster;
  /** Starts chat-requested syncs and posts their result to the chat, once, across restarts. */
  results: SyncResultNotices;
  /** The tokens' recent syncs, charted by "status" (the sync service). */
  history: SyncHistorySource;
  progress?: SyncDialogOptions | undefined;
  /** Answers "status <book title>" (assignment monitoring). */
  bookStatus: Dialog;
  /** Who holds the tokens (VPP_BACKEND), named on the status board. */
  backend: BackendKind;
}

/** Sync and token health: admins only, fine in channels (nothing secret is shown). */
export function syncFlows({ tokens, poster, results, history, progress, bookStatus, backend }: SyncFlowDependencies): FlowRegistration[] {
  return [
    { command: 'sync', dialog: new SyncDialog(results, tokens, poster, progress), adminOnly: true, personalChatOnly: false, changesState: true },
    { command: 'status', dialog: new StatusDialog(tokens, history, bookStatus, backend), adminOnly: true, personalChatOnly: false },
  ];
}
