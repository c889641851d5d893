import { strict as assert } from 'node:assert';
import { bookLicenseBars, budgetGauge, expiryBar, licenseDonut, licenseGauge, percent, syncHistoryCharts } from '../../cards/charts';
import type { SyncHistoryEntry } from '../../services/sync/types';

function entry(startedDateTime: string, durationMs: number, changes: number, status: SyncHistoryEntry['status'] = 'completed'): SyncHistoryEntry {
  return { startedDateTime, durationMs, changes, status };
}

describe('chart data (cards/charts.ts)', () => {
  it('percentages never read 0% for some or 100% for not all', () => {
    assert.equal(percent(12, 60), '20%');
    assert.equal(percent(1, 1_000), 'under 1%');
    assert.equal(percent(999, 1_000), 'over 99%');
    assert.equal(percent(0, 0), '0%');
    assert.equal(percent(20, 20), '100%');
  });

  it('a license donut: used and available, with the reserved share split out, and the same numbers in words', () => {
    const plain = licenseDonut({ used: 1_200, available: 800 });
    assert.equal(plain.show, true);
    assert.deepEqual(plain.data.map((d) => [d.legend, d.value]), [['Used', 1_200], ['Available', 800]]);
    assert.equal(plain.text, 'Licenses: 1,200 of 2,000 used (60%), 800 available.');

    const reserved = licenseDonut({ used: 10, available: 30, reserved: 12 });
    assert.deepEqual(reserved.data.map((d) => [d.legend, d.value]), [['Used', 10], ['Held for requests and assignments', 12], ['Available, not reserved', 18]]);
    assert.equal(reserved.text, 'Licenses: 10 of 40 used (25%), 30 available, 12 of them held for requests and approved assignments.');

    assert.equal(licenseDonut({ used: 0, available: 0 }).show, false, 'nothing to draw');
    assert.deepEqual(licenseDonut({ used: 0, available: 5 }).data.map((d) => d.legend), ['Available'], 'an empty part has no legend entry');
  });

  it('a usage gauge fills up to the used part of the whole', () => {
    const gauge = licenseGauge(45, 60);
    assert.deepEqual([gauge.value, gauge.min, gauge.max], [45, 0, 60]);
    assert.deepEqual(gauge.segments.map((s) => [s.legend, s.size]), [['Used', 45], ['Available', 15]]);
    assert.equal(gauge.subLabel, '45 of 60 used');
    assert.equal(gauge.text, 'Licenses: 45 of 60 used (75%), 15 available.');
    assert.equal(licenseGauge(0, 0).show, false, 'a token with no counted licenses has no gauge');

    const budget = budgetGauge(60, 60);
    assert.deepEqual(budget.segments.map((s) => [s.legend, s.size]), [['Spent', 60]]);
    assert.equal(budget.text, 'Approved licenses: 60 of 60 spent (100%), 0 left.');
  });

  it("expiry as a bar of days left against a year's validity, red under 30 days, and a longer token said as it is", () => {
    const soon = expiryBar(12);
    assert.deepEqual(soon.data.map((d) => [d.x, d.y]), [['Days left', 12], ['Days gone', 353]]);
    assert.equal(soon.data[0]?.color, 'attention');
    assert.equal(soon.text, 'Expiry: 12 of 365 days left (3%).');

    const fine = expiryBar(200);
    assert.equal(fine.data[0]?.color, 'categoricalBlue');
    assert.deepEqual(fine.data.map((d) => d.y), [200, 165]);

    const long = expiryBar(3_504);
    assert.deepEqual(long.data.map((d) => d.y), [365, 0], 'the bar is full, not past its end');
    assert.equal(long.text, "Expiry: 3,504 days left, more than the 365 days of a year's validity.");

    const expired = expiryBar(-3);
    assert.deepEqual(expired.data.map((d) => d.y), [0, 365]);
    assert.equal(expired.text, 'Expiry: expired, 0 of 365 days left.');
  });

  it("a book's licenses as used and available bars; a free book has none", () => {
    const bars = bookLicenseBars({ totalLicenseCount: 20, usedLicenseCount: 20, availableLicenseCount: 0 });
    assert.deepEqual(bars.data.map((d) => [d.x, d.y, d.color]), [['Used', 20, 'categoricalBlue'], ['Available', 0, 'attention']]);
    assert.equal(bars.text, 'Licenses: 20 of 20 used (100%), 0 available.');
    assert.equal(bookLicenseBars({ totalLicenseCount: 2_147_483_647, usedLicenseCount: 40, availableLicenseCount: 2_147_483_607, unlimited: true }).show, false);
  });

  it('sync history: oldest first whatever the order given, failures marked, labels unique, the same numbers in words', () => {
    const history = [
      entry('2026-03-02T06:00:00.000Z', 2_140, 5, 'failed'),
      entry('2026-03-01T18:00:00.000Z', 1_500, 240),
      entry('2026-03-02T06:00:30.000Z', 900, 0),
    ];
    const charts = syncHistoryCharts(history);
    assert.equal(charts.show, true);
    assert.equal(charts.title, 'Last 3 syncs');
    assert.deepEqual(charts.durations.map((d) => [d.x, d.y, d.color]), [
      ['1 Mar, 18:00', 1.5, 'categoricalBlue'],
      ['2 Mar, 06:00:00', 2.1, 'attention'],
      ['2 Mar, 06:00:30', 0.9, 'categoricalBlue'],
    ]);
    assert.deepEqual(charts.changes.map((d) => [d.x, d.y]), [['1 Mar, 18:00', 240], ['2 Mar, 06:00:00', 5], ['2 Mar, 06:00:30', 0]]);
    assert.equal(charts.durationText, 'Duration of the last 3 syncs, oldest first (from 1 Mar, 18:00 to 2 Mar, 06:00:30 UTC): 1.5 s, 2.1 s, 900 ms. Failed: 2 Mar, 06:00:00.');
    assert.equal(charts.changesText, 'Changes in the last 3 syncs, oldest first: 240, 5, 0.');
  });

  it('sync history: syncs started in the same second still get labels of their own; one sync is no history', () => {
    const same = syncHistoryCharts([entry('2026-03-02T06:00:00.100Z', 100, 1), entry('2026-03-02T06:00:00.900Z', 100, 2)]);
    assert.deepEqual(same.changes.map((d) => d.x), ['2 Mar, 06:00:00', '2 Mar, 06:00:00 (2)']);
    assert.equal(syncHistoryCharts([entry('2026-03-02T06:00:00.000Z', 100, 1)]).show, false);
    assert.equal(syncHistoryCharts([]).show, false);
  });
});
