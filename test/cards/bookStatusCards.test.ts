import { strict as assert } from 'node:assert';
import { bookStatusCard, type BookStatusView } from '../../cards/bookStatusCards';
import { elementsOfType, fallbackText } from './cardNodes';

type Group = BookStatusView['groups'][number];

function group(name: string, budget?: Group['budget']): Group {
  return {
    groupName: name,
    installIntent: 'required',
    status: 'completed',
    counts: { processed: 60, licensed: 60, awaitingInvitation: 0, failed: 0 },
    reasons: [],
    budget,
    lastModifiedDateTime: '2026-03-01T10:00:00.000Z',
  };
}

function view(overrides: Partial<BookStatusView> = {}): BookStatusView {
  return {
    book: { title: 'Emma', totalLicenseCount: 1_000, usedLicenseCount: 600, availableLicenseCount: 400 },
    token: { displayName: 'Northwind' },
    reserved: 150,
    groups: [group('Year 9', { approved: 300, spent: 120, left: 180, leftOut: 0 }), group('Staff')],
    ...overrides,
  };
}

describe('book status card', () => {
  it("draws the book's licenses as a donut: used, held for requests and approved assignments, and the rest, with the numbers in words", () => {
    const [donut] = elementsOfType(bookStatusCard(view()), 'Chart.Donut');
    assert.deepEqual((donut?.data as Array<{ legend: string; value: number }>).map((d) => [d.legend, d.value]), [
      ['Used', 600],
      ['Held for requests and assignments', 150],
      ['Available, not reserved', 250],
    ]);
    assert.equal(fallbackText(donut), 'Licenses: 600 of 1,000 used (60%), 400 available, 150 of them held for requests and approved assignments.');
  });

  it("draws each group's approved budget as a gauge of spent licenses; a group without a budget has none", () => {
    const gauges = elementsOfType(bookStatusCard(view()), 'Chart.Gauge');
    assert.equal(gauges.length, 1);
    assert.deepEqual([gauges[0]?.value, gauges[0]?.max], [120, 300]);
    assert.equal(fallbackText(gauges[0]), 'Approved licenses: 120 of 300 spent (40%), 180 left.');
  });

  it("puts a group's failure reasons on a tinted container in readable text; a group without any has none", () => {
    const failing = { ...group('Year 9'), reasons: [{ code: '9610', message: 'The user is not in the organisation', count: 1_200 }], lastError: 'Apple did not answer.' };
    const card = bookStatusCard(view({ groups: [failing, group('Staff')] }));
    const tinted = elementsOfType(card, 'Container').filter((c) => c.style === 'attention');
    assert.equal(tinted.length, 1, 'only the failing group');
    const lines = elementsOfType(tinted[0], 'TextBlock');
    assert.deepEqual(lines.map((l) => l.text), ['1,200 × The user is not in the organisation (Apple 9610)', 'Apple did not answer.']);
    assert.ok(lines.every((l) => l.color === undefined), "no red text: it fails contrast in Teams' dark theme");
  });

  it('a free book has no license donut (unlimited is no whole)', () => {
    const free = bookStatusCard(view({ book: { title: 'Free', totalLicenseCount: 2_147_483_647, usedLicenseCount: 40, availableLicenseCount: 2_147_483_607, unlimited: true } }));
    assert.deepEqual(elementsOfType(free, 'Chart.Donut'), []);
  });
});
