import { APPLE_PORTALS } from '../services/common/appleTerms';
import { escapeMarkdown } from '../services/common/chatText';
import { formatCount, formatDateTime, formatDuration } from '../services/common/format';
import type { SyncResultView } from '../services/notifications/noticeMessages';
import type { SyncHistoryEntry } from '../services/sync/types';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { licenseDonut, licenseGauge, MAX_CHARTED_ENTRIES, syncHistoryCharts } from './charts';
import notificationTemplate from './notification.json';
import statusBoardTemplate from './statusBoard.json';
import syncResultTemplate from './syncResult.json';
import { expiryLabel } from './tokenCards';

export interface Fact {
  title: string;
  value: string;
}

export interface CardAction {
  title: string;
  command: string;
  tokenId: string;
}

/**
 * Title, text, facts and next step are chat Markdown: whoever composes them escapes the names they hold. The
 * title says the state in words led by an emoji; there is no text colour to choose, because Teams' green, yellow
 * and red text each fail contrast in one theme (docs/STYLE-GUIDE.md, "Colour").
 */
export interface NotificationCardData {
  title: string;
  text: string;
  facts?: readonly Fact[];
  /** What the admin should do, in bold under the facts. */
  nextStep?: string;
  actions?: readonly CardAction[];
}

export function notificationCard(data: NotificationCardData): AdaptiveCardJson {
  return renderCard(notificationTemplate, { nextStep: '', facts: [], actions: [], ...data });
}

export function syncResultCard(result: SyncResultView): AdaptiveCardJson {
  const ok = result.status === 'completed';
  const c = result.changes;
  const facts: Fact[] = ok
    ? [
        { title: 'Books', value: formatCount(result.books) },
        { title: 'Licenses', value: `${formatCount(result.licenses.total)} total, ${formatCount(result.licenses.used)} used, ${formatCount(result.licenses.available)} available` },
        { title: 'Books changed', value: `${formatCount(c.booksAdded)} added, ${formatCount(c.booksUpdated)} updated, ${formatCount(c.booksRemoved)} removed` },
        { title: 'Users changed', value: formatCount(c.usersChanged) },
        { title: 'Licenses changed', value: formatCount(c.assignmentsChanged) },
        { title: 'Duration', value: formatDuration(result.durationMs) },
      ]
    : [{ title: 'Duration', value: formatDuration(result.durationMs) }];
  const tokenName = escapeMarkdown(result.tokenName);
  return renderCard(syncResultTemplate, {
    tokenId: result.tokenId,
    // The emoji and the words carry the outcome; the error sits on a tinted container, in the theme's text colour.
    title: ok ? `✅ Sync of ${tokenName} finished` : `⚠️ Sync of ${tokenName} failed`,
    // Sync errors are the bot's own chat text (names in them already escaped).
    error: result.error?.message ?? '',
    buyMore: `Buy more licenses in ${APPLE_PORTALS}, then sync again.`,
    facts,
    licenseChart: ok ? licenseDonut(result.licenses) : { show: false },
    history: syncHistoryCharts(result.history ?? []),
    lowBooks: lowLicenseLines(result.lowLicenseBooks),
  });
}

/** "Title: 2 of 20 left" for each book the sync saw running low. */
function lowLicenseLines(books: SyncResultView['lowLicenseBooks']): Array<{ label: string }> {
  return books.map((b) => ({ label: `${escapeMarkdown(b.title)}: ${formatCount(b.available)} of ${formatCount(b.total)} left` }));
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

// The word says the health and the emoji helps the eye; no text colour, as Teams' green, yellow and red text
// each fail contrast in one of its themes.
const HEALTH: Record<TokenStatusView['health'], { label: string; emoji: string }> = {
  healthy: { label: 'Healthy', emoji: '✅' },
  warning: { label: 'Warning', emoji: '⚠️' },
  unhealthy: { label: 'Unhealthy', emoji: '⛔' },
};

/** `backend`: who holds the tokens (VPP_BACKEND), in a sentence. */
export function statusBoardCard(tokens: readonly TokenStatusView[], now: Date, backend: string): AdaptiveCardJson {
  const counts = { healthy: 0, warning: 0, unhealthy: 0 };
  for (const t of tokens) counts[t.health]++;
  const charted = tokens.length <= MAX_CHARTED_ENTRIES;
  return renderCard(statusBoardTemplate, {
    count: tokens.length,
    backend,
    countLabel: formatCount(tokens.length),
    summary: `${formatCount(counts.healthy)} healthy, ${formatCount(counts.warning)} warning, ${formatCount(counts.unhealthy)} unhealthy`,
    tokens: tokens.map((t) => ({
      id: t.id,
      displayName: escapeMarkdown(t.displayName),
      healthLabel: HEALTH[t.health].label,
      healthEmoji: HEALTH[t.health].emoji,
      reason: t.reasons.join(' '),
      expiresLabel: expiryLabel(t.expirationDateTime, now),
      lastSyncLabel: t.lastSyncDateTime ? `${formatDateTime(t.lastSyncDateTime)}${t.lastSyncStatus === 'failed' ? ' (last attempt failed)' : ''}` : 'never',
      books: formatCount(t.books),
      licensesLabel: `${formatCount(t.licenses.used)} of ${formatCount(t.licenses.total)}`,
      licenseChart: charted ? licenseGauge(t.licenses.used, t.licenses.total) : { show: false },
      history: syncHistoryCharts(t.history ?? []),
    })),
  });
}
