import { escapeMarkdown } from '../services/common/chatText';
import type { SyncResultView } from '../services/notifications/noticeMessages';
import type { SyncHistoryEntry } from '../services/sync/types';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { formatDuration, licenseDonut, licenseGauge, MAX_CHARTED_ENTRIES, syncHistoryCharts } from './charts';
import notificationTemplate from './notification.json';
import statusBoardTemplate from './statusBoard.json';
import syncResultTemplate from './syncResult.json';
import { expiryLabel } from './tokenCards';

type CardColor = 'Default' | 'Good' | 'Warning' | 'Attention' | 'Accent';

export interface Fact {
  title: string;
  value: string;
}

export interface CardAction {
  title: string;
  command: string;
  tokenId: string;
}

/** Title, text, facts and next step are chat Markdown: whoever composes them escapes the names they hold. */
export interface NotificationCardData {
  title: string;
  text: string;
  color: CardColor;
  facts?: readonly Fact[];
  /** What the admin should do, in bold under the facts. */
  nextStep?: string;
  actions?: readonly CardAction[];
}

export function notificationCard(data: NotificationCardData): AdaptiveCardJson {
  return renderCard(notificationTemplate, { nextStep: '', facts: [], actions: [], ...data });
}

const n = (value: number): string => value.toLocaleString('en-GB');

export function syncResultCard(result: SyncResultView): AdaptiveCardJson {
  const ok = result.status === 'completed';
  const c = result.changes;
  const facts: Fact[] = ok
    ? [
        { title: 'Books', value: n(result.books) },
        { title: 'Licenses', value: `${n(result.licenses.total)} total, ${n(result.licenses.used)} used, ${n(result.licenses.available)} available` },
        { title: 'Books changed', value: `${n(c.booksAdded)} added, ${n(c.booksUpdated)} updated, ${n(c.booksRemoved)} removed` },
        { title: 'Users changed', value: n(c.usersChanged) },
        { title: 'Licenses changed', value: n(c.assignmentsChanged) },
        { title: 'Duration', value: formatDuration(result.durationMs) },
      ]
    : [{ title: 'Duration', value: formatDuration(result.durationMs) }];
  const tokenName = escapeMarkdown(result.tokenName);
  return renderCard(syncResultTemplate, {
    tokenId: result.tokenId,
    title: ok ? `Sync of ${tokenName} finished` : `Sync of ${tokenName} failed`,
    // Red for a failure; a success needs no colour (green text is hard to read on Teams' light theme).
    color: ok ? 'Default' : 'Attention',
    // Sync errors are the bot's own chat text (names in them already escaped).
    error: result.error?.message ?? '',
    facts,
    licenseChart: ok ? licenseDonut(result.licenses) : { show: false },
    history: syncHistoryCharts(result.history ?? []),
    lowBooks: lowLicenseLines(result.lowLicenseBooks),
  });
}

/** "Title: 2 of 20 left" for each book the sync saw running low. */
function lowLicenseLines(books: SyncResultView['lowLicenseBooks']): Array<{ label: string }> {
  return books.map((b) => ({ label: `${escapeMarkdown(b.title)}: ${n(b.available)} of ${n(b.total)} left` }));
}

export interface TokenStatusView {
  id: string;
  displayName: string;
  health: 'healthy' | 'warning' | 'unhealthy';
  reasons: readonly string[];
  expirationDateTime: string;
  lastSyncDateTime?: string | undefined;
  lastSyncStatus: 'none' | 'inProgress' | 'completed' | 'failed';
  books: number;
  licenses: { total: number; used: number };
  /** The token's recent syncs, oldest first; given when the board shows this one token. */
  history?: readonly SyncHistoryEntry[] | undefined;
}

// Only Unhealthy is coloured: Teams' yellow and green text are hard to read, and the word says it anyway.
const HEALTH: Record<TokenStatusView['health'], { label: string; color: CardColor }> = {
  healthy: { label: 'Healthy', color: 'Default' },
  warning: { label: 'Warning', color: 'Default' },
  unhealthy: { label: 'Unhealthy', color: 'Attention' },
};

const dateTimeFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

export function statusBoardCard(tokens: readonly TokenStatusView[], now: Date): AdaptiveCardJson {
  const counts = { healthy: 0, warning: 0, unhealthy: 0 };
  for (const t of tokens) counts[t.health]++;
  const charted = tokens.length <= MAX_CHARTED_ENTRIES;
  return renderCard(statusBoardTemplate, {
    count: tokens.length,
    summary: `${counts.healthy} healthy, ${counts.warning} warning, ${counts.unhealthy} unhealthy`,
    tokens: tokens.map((t) => ({
      id: t.id,
      displayName: escapeMarkdown(t.displayName),
      healthLabel: HEALTH[t.health].label,
      color: HEALTH[t.health].color,
      reason: t.reasons.join(' '),
      expiresLabel: expiryLabel(t.expirationDateTime, now),
      lastSyncLabel: t.lastSyncDateTime ? `${dateTimeFormat.format(new Date(t.lastSyncDateTime))} UTC${t.lastSyncStatus === 'failed' ? ' (last attempt failed)' : ''}` : 'never',
      books: n(t.books),
      licensesLabel: `${n(t.licenses.used)} of ${n(t.licenses.total)}`,
      licenseChart: charted ? licenseGauge(t.licenses.used, t.licenses.total) : { show: false },
      history: syncHistoryCharts(t.history ?? []),
    })),
  });
}
