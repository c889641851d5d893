import { strict as assert } from 'node:assert';
import { MAX_CHARTED_ENTRIES } from '../../cards/charts';
import { tokenListCard, type TokenView } from '../../cards/tokenCards';
import { elementsOfType, fallbackText } from './cardNodes';

const NOW = new Date('2026-03-01T00:00:00.000Z');
const DAY = 24 * 3_600_000;

function token(id: string, daysLeft: number): TokenView {
  return {
    id,
    displayName: `Token ${id}`,
    organizationName: 'Northwind Academy',
    locationName: 'Main Campus',
    expirationDateTime: new Date(NOW.getTime() + daysLeft * DAY + 3_600_000).toISOString(),
    state: 'valid',
    lastSyncStatus: 'completed',
  };
}

describe('tokens card', () => {
  it("shows each token's expiry as a gauge of days left against the year's validity, the same numbers in words", () => {
    const gauges = elementsOfType(tokenListCard([token('a', 200), token('b', 12), token('c', 3_504)], NOW), 'Chart.Gauge');
    assert.deepEqual(gauges.map((g) => [g.value, g.min, g.max]), [[200, 0, 365], [12, 0, 365], [365, 0, 365]]);
    assert.deepEqual(gauges.map((g) => g.subLabel), ['200 days left', '12 days left', '3,504 days left']);
    assert.deepEqual(gauges.map((g) => fallbackText(g)), [
      'Expiry: 200 of 365 days left (55%).',
      'Expiry: 12 of 365 days left (3%).',
      "Expiry: 3,504 days left, more than the 365 days of a year's validity.",
    ]);
  });

  it('a list of many tokens keeps to its facts, with no gauge each', () => {
    const many = Array.from({ length: MAX_CHARTED_ENTRIES + 1 }, (_, i) => token(String(i), 100));
    assert.deepEqual(elementsOfType(tokenListCard(many, NOW), 'Chart.Gauge'), []);
  });
});
