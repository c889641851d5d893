import type { Store } from '../../services/store/Store';
import type { SyncService } from '../../services/sync/SyncService';
import type { TokenService } from '../../services/tokens/TokenService';
import type { Dialog } from 'botbuilder-dialogs';
import type { FlowRegistration } from '../flows';
import { StatusDialog } from './StatusDialog';
import { SyncDialog, type SyncDialogOptions } from './SyncDialog';
import type { ConversationPoster } from './syncChat';

export interface SyncFlowDependencies {
  sync: SyncService;
  tokens: TokenService;
  store: Store;
  /** Posts background progress and results (the NotificationOutbox). */
  poster: ConversationPoster;
  progress?: SyncDialogOptions | undefined;
  now?: (() => Date) | undefined;
  /** Answers "status <book title>" (assignment monitoring). */
  bookStatus?: Dialog | undefined;
}

/** Sync and token health: admins only, fine in channels (nothing secret is shown). */
export function syncFlows({ sync, tokens, store, poster, progress, now, bookStatus }: SyncFlowDependencies): FlowRegistration[] {
  return [
    { command: 'sync', dialog: new SyncDialog(sync, tokens, poster, progress), adminOnly: true, personalChatOnly: false, changesState: true },
    { command: 'status', dialog: new StatusDialog(tokens, store, now, bookStatus), adminOnly: true, personalChatOnly: false },
  ];
}
