import type { SyncResultNotices } from '../../services/notifications/SyncResultNotices';
import type { Store } from '../../services/store/Store';
import type { TokenService } from '../../services/tokens/TokenService';
import type { Dialog } from 'botbuilder-dialogs';
import type { FlowRegistration } from '../flows';
import { StatusDialog } from './StatusDialog';
import { SyncDialog, type SyncDialogOptions } from './SyncDialog';
import type { ConversationPoster } from './syncChat';

export interface SyncFlowDependencies {
  tokens: TokenService;
  store: Store;
  /** Posts background progress (the NotificationOutbox). */
  poster: ConversationPoster;
  /** Starts chat-requested syncs and posts their result to the chat, once, across restarts. */
  results: SyncResultNotices;
  progress?: SyncDialogOptions | undefined;
  now?: (() => Date) | undefined;
  /** Answers "status <book title>" (assignment monitoring). */
  bookStatus?: Dialog | undefined;
}

/** Sync and token health: admins only, fine in channels (nothing secret is shown). */
export function syncFlows({ tokens, store, poster, results, progress, now, bookStatus }: SyncFlowDependencies): FlowRegistration[] {
  return [
    { command: 'sync', dialog: new SyncDialog(results, tokens, poster, progress), adminOnly: true, personalChatOnly: false, changesState: true },
    { command: 'status', dialog: new StatusDialog(tokens, store, now, bookStatus), adminOnly: true, personalChatOnly: false },
  ];
}
