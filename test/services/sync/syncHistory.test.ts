import { strict as assert } from 'node:assert';
import type { SyncRun } from '../../../services/store/entities/syncRun';
import { SYNC_HISTORY_LENGTH, syncHistory } from '../../../services/sync/syncHistory';

const HOUR = 3_600_000;
const START = Date.parse('2026-03-01T00:00:00.000Z');

function run(i: number, overrides: Partial<SyncRun> = {}): SyncRun {
  const started = START + i * 12 * HOUR;
  return {
    id: `run-${i}`,
    tokenId: 'tok-1',
    tenantId: 'tenant',
    trigger: 'scheduled',
    startedDateTime: new Date(started).toISOString(),
    finishedDateTime: new Date(started + 1_000 + i * 100).toISOString(),
    status: 'completed',
    counts: { booksAdded: i, booksUpdated: 1, booksUnchanged: 50, usersChanged: 2, assignmentsChanged: 3, writes: 9 },
    ...overrides,
  };
}

describe('syncHistory (what the history chart draws)', () => {
  it('the newest 14 finished runs, oldest first, whatever order the store gave them in', () => {
    const runs = Array.from({ length: 20 }, (_, i) => run(i)).reverse();
    const history = syncHistory(runs);
    assert.equal(SYNC_HISTORY_LENGTH, 14);
    assert.equal(history.length, 14);
    assert.equal(history[0]?.startedDateTime, run(6).startedDateTime, 'the six oldest are left out');
    assert.equal(history[13]?.startedDateTime, run(19).startedDateTime);
    const times = history.map((h) => Date.parse(h.startedDateTime));
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });

  it('duration from start to finish; changes are books added or updated, users and licenses changed', () => {
    const [entry] = syncHistory([run(4)]);
    assert.deepEqual(entry, { startedDateTime: run(4).startedDateTime, durationMs: 1_400, changes: 4 + 1 + 2 + 3, status: 'completed' });
  });

  it('leaves out the run still in progress, and keeps failed ones', () => {
    const history = syncHistory([run(0), run(1, { status: 'failed' }), run(2, { status: 'inProgress', finishedDateTime: undefined })]);
    assert.deepEqual(history.map((h) => h.status), ['completed', 'failed']);
  });
});
