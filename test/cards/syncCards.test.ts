import { strict as assert } from 'node:assert';
import { statusBoardCard, syncResultCard, type TokenStatusView } from '../../cards/syncCards';
import { MAX_CHARTED_ENTRIES } from '../../cards/charts';
import type { SyncResultView } from '../../services/notifications/noticeMessages';
import type { SyncHistoryEntry } from '../../services/sync/types';
import { cardNodes, elementsOfType, fallbackText } from './cardNodes';
import { backendLine } from '../../services/backend/backendText';

const APPLE_MODE = backendLine('apple');

const NOW = new Date('2026-03-20T12:00:00.000Z');

/** A sync every 12 hours, oldest first, the n-th taking n tenths of a second longer and changing n things. */
function history(count: number): SyncHistoryEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    startedDateTime: new Date(Date.parse('2026-03-01T06:00:00.000Z') + i * 12 * 3_600_000).toISOString(),
    durationMs: 1_000 + i * 100,
    changes: i,
    status: i === 2 ? 'failed' : 'completed',
  }));
}

function result(overrides: Partial<SyncResultView> = {}): SyncResultView {
  return {
    tokenId: 'tok-1',
    tokenName: 'Northwind',
    status: 'completed',
    books: 39,
    licenses: { total: 2_000, used: 1_200, available: 800 },
    changes: { booksAdded: 1, booksUpdated: 2, booksRemoved: 0, usersChanged: 3, assignmentsChanged: 4 },
    durationMs: 2_140,
    lowLicenseBooks: [],
    ...overrides,
  };
}

function token(overrides: Partial<TokenStatusView> = {}): TokenStatusView {
  return {
    id: 'tok-1',
    displayName: 'Northwind',
    health: 'healthy',
    reasons: [],
    expirationDateTime: '2026-12-01T00:00:00.000Z',
    lastSyncDateTime: '2026-03-20T06:00:00.000Z',
    lastSyncStatus: 'completed',
    books: 39,
    licenses: { total: 2_000, used: 1_200 },
    ...overrides,
  };
}

describe('sync cards: charts with their numbers in words', () => {
  describe('the sync result', () => {
    it('draws licenses as a donut with the totals, and says them in the fallback and the facts', () => {
      const card = syncResultCard(result());
      const [donut] = elementsOfType(card, 'Chart.Donut');
      assert.deepEqual((donut?.data as Array<{ legend: string; value: number }>).map((d) => [d.legend, d.value]), [['Used', 1_200], ['Available', 800]]);
      assert.equal(fallbackText(donut), 'Licenses: 1,200 of 2,000 used (60%), 800 available.');
      assert.ok(JSON.stringify(card).includes('2,000 total, 1,200 used, 800 available'), 'the fact stays for screen readers');
    });

    it('a failed sync has no license chart; the outcome is said with an emoji and words, never a text colour', () => {
      const failed = syncResultCard(result({ status: 'failed', error: { message: 'Apple said no.' } }));
      assert.deepEqual(elementsOfType(failed, 'Chart.Donut'), []);
      const title = (card: unknown) => cardNodes(card).find((n) => n.type === 'TextBlock' && String(n.text).includes('Sync of'));
      assert.equal(title(failed)?.text, '⚠️ Sync of Northwind failed');
      assert.equal(title(syncResultCard(result()))?.text, '✅ Sync of Northwind finished');
      assert.ok(elementsOfType(failed, 'TextBlock').every((n) => n.color === undefined), 'no coloured text');
      const [tinted] = elementsOfType(failed, 'Container').filter((c) => c.style === 'attention');
      assert.ok(JSON.stringify(tinted).includes('Apple said no.'), 'the error sits on a tinted container');
    });

    it('charts the last syncs, at most 14, oldest first, with every number in the fallbacks', () => {
      const card = syncResultCard(result({ history: history(14) }));
      const [durations, changes] = elementsOfType(card, 'Chart.VerticalBar');
      const points = durations?.data as Array<{ x: string; y: number }>;
      assert.equal(points.length, 14);
      assert.equal(points[0]?.x, '1 Mar, 06:00');
      assert.equal(points[13]?.x, '7 Mar, 18:00');
      assert.deepEqual(points.map((p) => p.y), Array.from({ length: 14 }, (_, i) => Math.round(10 + i) / 10));
      assert.deepEqual((changes?.data as Array<{ y: number }>).map((p) => p.y), Array.from({ length: 14 }, (_, i) => i));
      assert.match(fallbackText(durations), /^Duration of the last 14 syncs, oldest first \(from 1 Mar, 06:00 to 7 Mar, 18:00 UTC\): 1 s, 1.1 s, 1.2 s, .*, 2.3 s\. Failed: 2 Mar, 06:00\.$/);
      assert.equal(fallbackText(changes), `Changes in the last 14 syncs, oldest first: ${Array.from({ length: 14 }, (_, i) => i).join(', ')}.`);
      assert.ok(cardNodes(card).some((n) => n.type === 'TextBlock' && n.text === 'Last 14 syncs'));
    });

    it('no history chart for a first sync, or when the history could not be read', () => {
      assert.deepEqual(elementsOfType(syncResultCard(result({ history: history(1) })), 'Chart.VerticalBar'), []);
      assert.deepEqual(elementsOfType(syncResultCard(result()), 'Chart.VerticalBar'), []);
    });

    it('lists the books running low with what to do, and the Token status button opens this token', () => {
      const card = syncResultCard(result({ lowLicenseBooks: [{ title: 'Emma', available: 2, total: 1_000 }] }));
      const texts = cardNodes(card).filter((n) => n.type === 'TextBlock').map((n) => String(n.text));
      assert.ok(texts.includes('Running low on licenses'));
      assert.ok(texts.includes('Emma: 2 of 1,000 left'));
      assert.ok(texts.some((t) => t.startsWith('Buy more licenses')));
      const status = cardNodes(card).find((n) => n.type === 'Action.Submit' && n.title === 'Token status');
      assert.deepEqual(status?.data, { command: 'status', tokenId: 'tok-1' });
    });
  });

  describe('the status board', () => {
    it("draws each token's licenses used as a gauge, with the numbers in the fallback and the fact", () => {
      const card = statusBoardCard([token(), token({ id: 'tok-2', displayName: 'Fabrikam', licenses: { total: 40, used: 40 } })], NOW, APPLE_MODE);
      const gauges = elementsOfType(card, 'Chart.Gauge');
      assert.deepEqual(gauges.map((g) => [g.value, g.min, g.max]), [[1_200, 0, 2_000], [40, 0, 40]]);
      assert.deepEqual(gauges.map((g) => fallbackText(g)), ['Licenses: 1,200 of 2,000 used (60%), 800 available.', 'Licenses: 40 of 40 used (100%), 0 available.']);
      assert.ok(JSON.stringify(card).includes('"title":"Licenses used","value":"1,200 of 2,000"'));
      assert.deepEqual(elementsOfType(card, 'Chart.VerticalBar'), [], 'no history given, none drawn');
    });

    it('names who holds the tokens, Intune or the bot, so an admin knows what an assignment does', () => {
      const says = (backend: 'apple' | 'intune') => cardNodes(statusBoardCard([token()], NOW, backendLine(backend))).some((n) => n.type === 'TextBlock' && n.text === backendLine(backend));
      assert.ok(says('apple') && says('intune'));
      assert.match(backendLine('intune'), /Microsoft Intune\*\* holds the VPP tokens/);
      assert.match(backendLine('apple'), /this bot\*\* holds the VPP tokens/);
    });

    it('a token with no counted licenses has no gauge; a board of many tokens keeps to its facts', () => {
      assert.deepEqual(elementsOfType(statusBoardCard([token({ licenses: { total: 0, used: 0 } })], NOW, APPLE_MODE), 'Chart.Gauge'), []);
      const many = Array.from({ length: MAX_CHARTED_ENTRIES + 1 }, (_, i) => token({ id: `tok-${i}`, displayName: `Token ${i}` }));
      const card = statusBoardCard(many, NOW, APPLE_MODE);
      assert.deepEqual(elementsOfType(card, 'Chart.Gauge'), []);
      assert.equal(cardNodes(card).filter((n) => n.title === 'Licenses used' && n.value === '1,200 of 2,000').length, many.length);
    });

    it("shows one token's sync history, and says each token's health with an emoji, not a text colour", () => {
      const card = statusBoardCard([token({ health: 'unhealthy', reasons: ['The token expired.'], history: history(5) })], NOW, APPLE_MODE);
      const [durations] = elementsOfType(card, 'Chart.VerticalBar');
      assert.equal((durations?.data as unknown[]).length, 5);
      const heading = cardNodes(card).find((n) => n.type === 'TextBlock' && n.text === '⛔ Northwind: Unhealthy');
      assert.ok(heading, 'the unhealthy heading');
      assert.equal(heading.color, undefined, 'no red text');
      const warning = cardNodes(statusBoardCard([token({ health: 'warning' })], NOW, APPLE_MODE)).find((n) => n.text === '⚠️ Northwind: Warning');
      assert.ok(warning, 'the warning heading');
      assert.equal(warning.color, undefined, 'no yellow text');
    });
  });
});
