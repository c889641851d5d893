import { strict as assert } from 'node:assert';
import { MAX_CHARTED_ENTRIES } from '../../cards/charts';
import { tokenListCard, type TokenView } from '../../cards/tokenCards';
import { cardNodes, elementsOfType, fallbackText } from './cardNodes';

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
  it("shows each token's expiry as a bar of days left against the year's validity, the same numbers in words", () => {
    const bars = elementsOfType(tokenListCard([token('a', 200), token('b', 12), token('c', 3_504)], NOW), 'Chart.HorizontalBar');
    assert.deepEqual(bars.map((b) => b.displayMode), ['PartToWhole', 'PartToWhole', 'PartToWhole']);
    assert.deepEqual(
      bars.map((b) => (b.data as Array<{ y: number }>).map((d) => d.y)),
      [[200, 165], [12, 353], [365, 0]],
    );
    assert.deepEqual(bars.map((b) => fallbackText(b)), [
      'Expiry: 200 of 365 days left (55%).',
      'Expiry: 12 of 365 days left (3%).',
      "Expiry: 3,504 days left, more than the 365 days of a year's validity.",
    ]);
  });

  it("labels the facts in Apple's current words and British spelling", () => {
    const facts = cardNodes(tokenListCard([{ ...token('a', 200), appleId: 'vpp-admin@northwind.example' }], NOW)).filter((n) => n.title !== undefined && n.value !== undefined);
    assert.ok(facts.some((f) => f.title === 'Organisation' && f.value === 'Northwind Academy'));
    assert.ok(facts.some((f) => f.title === 'Apple Account' && f.value === 'vpp-admin@northwind.example'));
  });

  it('warns of a token expiring soon or expired with an emoji and words, in readable text', () => {
    const warnings = elementsOfType(tokenListCard([token('a', 200), token('b', 12), token('c', -3)], NOW), 'TextBlock').filter((n) => n.weight === 'Bolder' && /^(?:⚠️|⌛)/.test(String(n.text)));
    assert.deepEqual(
      warnings.map((w) => w.text),
      ['⚠️ Expires in 12 days: download a new token from Apple and renew it soon.', '⌛ This token has expired: download a new one from Apple and type **renew** to replace it.'],
    );
    assert.ok(warnings.every((w) => w.color === undefined), "no red text: it fails contrast in Teams' dark theme");
  });

  it('a list of many tokens keeps to its facts, with no chart each', () => {
    const many = Array.from({ length: MAX_CHARTED_ENTRIES + 1 }, (_, i) => token(String(i), 100));
    assert.deepEqual(elementsOfType(tokenListCard(many, NOW), 'Chart.HorizontalBar'), []);
  });
});
