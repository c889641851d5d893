import type { SyncRun } from '../store/entities/syncRun';
import type { SyncHistoryEntry } from './types';

/** Syncs a token's history chart shows: two weeks of the default twice-a-day schedule. */
export const SYNC_HISTORY_LENGTH = 14;

/**
 * The finished runs among `runs` (any order), the newest `limit` of them, oldest first as a chart reads.
 * A run still in progress has no duration yet, so it is left out rather than drawn as zero.
 */
export function syncHistory(runs: readonly SyncRun[], limit = SYNC_HISTORY_LENGTH): SyncHistoryEntry[] {
  const finished = runs.flatMap((run) => {
    if (run.status === 'inProgress' || !run.finishedDateTime) return [];
    const { booksAdded, booksUpdated, usersChanged, assignmentsChanged } = run.counts;
    return [
      {
        startedDateTime: run.startedDateTime,
        durationMs: Math.max(0, Date.parse(run.finishedDateTime) - Date.parse(run.startedDateTime)),
        changes: booksAdded + booksUpdated + usersChanged + assignmentsChanged,
        status: run.status,
      },
    ];
  });
  finished.sort((a, b) => Date.parse(a.startedDateTime) - Date.parse(b.startedDateTime));
  return finished.slice(Math.max(0, finished.length - limit));
}
