import { strict as assert } from 'node:assert';
import { formatAxisTime, formatCount, formatDate, formatDateTime, formatDuration } from '../../../services/common/format';

describe('format: the one way dates and numbers are written', () => {
  it('writes a day as "30 Jun 2036", from an ISO string or a Date', () => {
    assert.equal(formatDate('2036-06-30T22:33:22Z'), '30 Jun 2036');
    assert.equal(formatDate(new Date(Date.UTC(2036, 5, 30))), '30 Jun 2036');
    assert.equal(formatDate('2026-01-05T00:00:00Z'), '5 Jan 2026', 'no leading zero');
  });

  it("takes the day in UTC, whatever the reader's or the server's zone", () => {
    // 23:30 in Chicago on 30 June is already 1 July in UTC; a minute before UTC midnight is still the 30th.
    assert.equal(formatDate('2036-06-30T23:30:00-05:00'), '1 Jul 2036');
    assert.equal(formatDate('2036-06-30T23:59:59Z'), '30 Jun 2036');
  });

  it('writes a moment with its zone: "30 Jun 2036, 14:05 UTC", on a 24-hour clock', () => {
    assert.equal(formatDateTime('2036-06-30T14:05:59Z'), '30 Jun 2036, 14:05 UTC');
    assert.equal(formatDateTime(new Date('2036-07-01T00:00:00Z')), '1 Jul 2036, 00:00 UTC');
    assert.equal(formatDateTime('2036-06-30T20:05:00+02:00'), '30 Jun 2036, 18:05 UTC');
  });

  it('refuses what is not a date instead of printing "Invalid Date" on a card', () => {
    assert.throws(() => formatDate('2036-13-45'), RangeError);
    assert.throws(() => formatDateTime('soon'), /not a date: "soon"/);
    assert.throws(() => formatAxisTime(new Date(Number.NaN)), RangeError);
  });

  it('writes counts with thousands separators, as toLocaleString("en-GB") does', () => {
    assert.equal(formatCount(1621), '1,621');
    assert.equal(formatCount(2147483647), '2,147,483,647', "Apple's unlimited free book");
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(0), '0');
    for (const n of [1, 12, 1000, 5000, 65_536, 1_000_000, -1234]) assert.equal(formatCount(n), n.toLocaleString('en-GB'));
  });

  it('labels a chart axis with the day and the time, seconds when asked', () => {
    assert.equal(formatAxisTime('2026-06-12T14:05:09Z'), '12 Jun, 14:05');
    assert.equal(formatAxisTime('2026-06-12T04:05:09Z', 'second'), '12 Jun, 04:05:09');
  });

  it('writes how long work took in the unit that reads best', () => {
    assert.equal(formatDuration(850), '850 ms');
    assert.equal(formatDuration(2_140), '2.1 s');
    assert.equal(formatDuration(185_000), '3 min 5 s');
    assert.equal(formatDuration(20 * 61 * 60_000), '1,220 min 0 s', 'a long one still has separators');
  });
});
