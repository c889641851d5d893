/**
 * The one way dates, times, counts and durations are written in chat and on cards (docs/STYLE-GUIDE.md,
 * "Dates, times and numbers"): British English as Intl writes it, every date in UTC. UTC because the bot has
 * no idea of the reader's time zone and a card is read by people in several; a wrong local time is worse
 * than a labelled UTC one.
 */

const DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });
const DATE_TIME = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
const COUNT = new Intl.NumberFormat('en-GB');
const AXIS_MINUTE = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });
const AXIS_SECOND = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });

/** Dates arrive as ISO strings from the store and from Apple, and as Dates from clocks. */
function toDate(when: Date | string): Date {
  const date = typeof when === 'string' ? new Date(when) : when;
  // "Invalid Date" in a card would hide the bug that put it there.
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a date: ${JSON.stringify(String(when))}`);
  return date;
}

/** "30 Jun 2036": the calendar day in UTC. */
export function formatDate(when: Date | string): string {
  return DATE.format(toDate(when));
}

/** "30 Jun 2036, 14:05 UTC": the zone is written out, so nobody reads it as their own time. */
export function formatDateTime(when: Date | string): string {
  return `${DATE_TIME.format(toDate(when))} UTC`;
}

/**
 * "12 Jun, 14:05" (or "12 Jun, 14:05:09" with seconds): a point on a chart's axis, where a full date-time
 * would not fit. The chart's caption says "UTC" once for all its labels.
 */
export function formatAxisTime(when: Date | string, precision: 'minute' | 'second' = 'minute'): string {
  return (precision === 'second' ? AXIS_SECOND : AXIS_MINUTE).format(toDate(when));
}

/** "1,621": counts with thousands separators (the same text as toLocaleString('en-GB')). Apple's error numbers and HTTP statuses are codes, not counts: write them as they are. */
export function formatCount(count: number): string {
  return COUNT.format(count);
}

/** "850 ms", "2.1 s", "3 min 5 s": how long a piece of work took. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${formatCount(Math.round(ms))} ms`;
  const seconds = Math.round(ms / 100) / 10;
  if (seconds < 60) return `${formatCount(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${formatCount(minutes)} min ${formatCount(Math.round(seconds - minutes * 60))} s`;
}
