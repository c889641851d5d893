import { formatAxisTime, formatCount, formatDuration } from '../services/common/format';
import type { SyncHistoryEntry } from '../services/sync/types';

/*
 * The data of the cards' charts, computed here so the templates only place it. Teams renders Chart.Donut,
 * Chart.Gauge, Chart.HorizontalBar and Chart.VerticalBar (among others) in Adaptive Cards 1.5 ("Charts in
 * Adaptive Cards", learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/charts-in-adaptive-cards);
 * a client that does not (the Agents Playground, older clients) renders each chart's `fallback`, so every
 * chart here comes with `text`: the same numbers in words.
 */

/** The chart colours used here, from Teams' list; green and red are never the only difference between two parts. */
type ChartColor = 'attention' | 'neutral' | 'categoricalBlue' | 'categoricalTeal' | 'categoricalPurple';

interface DonutDatum {
  legend: string;
  value: number;
  color: ChartColor;
}

interface GaugeSegment {
  legend: string;
  size: number;
  color: ChartColor;
}

interface BarDatum {
  x: string;
  y: number;
  color: ChartColor;
}

/** A Chart.Donut's data; `show` is false when there is nothing to draw. */
export interface DonutChartData {
  show: boolean;
  data: DonutDatum[];
  text: string;
}

/** A Chart.Gauge's value on its scale, drawn as filled and unfilled segments. */
export interface GaugeChartData {
  show: boolean;
  value: number;
  min: number;
  max: number;
  segments: GaugeSegment[];
  subLabel: string;
  text: string;
}

/** A Chart.HorizontalBar's bars. */
export interface BarChartData {
  show: boolean;
  data: BarDatum[];
  text: string;
}

/**
 * A token's recent syncs: duration and changes, each a Chart.VerticalBar over the same syncs. Bars, not a
 * line: Microsoft documents a bar chart's x values as any label, while a line chart's text x values read
 * as dates, which "12 Jun, 14:05" is not quite.
 */
export interface SyncHistoryChartData {
  show: boolean;
  title: string;
  durations: BarDatum[];
  changes: BarDatum[];
  durationText: string;
  changesText: string;
}

/**
 * Cards with more entries than this show their facts without a chart each: a card of hundreds of tokens
 * with a chart apiece would outgrow the size Teams accepts for one message.
 */
export const MAX_CHARTED_ENTRIES = 20;

/** A VPP token is valid for one year; its expiry gauge measures days left against that. */
const TOKEN_VALIDITY_DAYS = 365;

/** Under this many days left the expiry gauge turns red (Intune warns from 30 days). */
const EXPIRY_ALERT_DAYS = 30;

/** A share as a whole percentage that never reads 0% for some or 100% for not all. */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const rounded = Math.round((part * 100) / whole);
  if (rounded === 0 && part > 0) return 'under 1%';
  if (rounded === 100 && part < whole) return 'over 99%';
  return `${rounded}%`;
}

/** Segments with nothing in them are left out: a legend entry for an empty part is noise. */
function nonEmpty<T extends { size: number } | { value: number }>(items: T[]): T[] {
  return items.filter((item) => ('size' in item ? item.size : item.value) > 0);
}

/**
 * A book's or token's licenses as a donut: used, held (if any), free. Held are the licenses open requests ask
 * for and what approved assignments keep of their budget for members who have not asked yet or not joined
 * yet; they are part of the available ones, as Apple counts them.
 */
export function licenseDonut(licenses: { used: number; available: number; reserved?: number | undefined }): DonutChartData {
  const reserved = Math.min(Math.max(0, licenses.reserved ?? 0), licenses.available);
  const free = licenses.available - reserved;
  const total = licenses.used + licenses.available;
  const data = nonEmpty<DonutDatum>([
    { legend: 'Used', value: licenses.used, color: 'categoricalBlue' },
    { legend: 'Held for requests and assignments', value: reserved, color: 'categoricalPurple' },
    { legend: reserved > 0 ? 'Available, not reserved' : 'Available', value: free, color: 'neutral' },
  ]);
  const text =
    `Licenses: ${formatCount(licenses.used)} of ${formatCount(total)} used (${percent(licenses.used, total)}), ${formatCount(licenses.available)} available` +
    (reserved > 0 ? `, ${formatCount(reserved)} of them held for requests and approved assignments.` : '.');
  return { show: total > 0, data, text };
}

/** How much of a whole is used, as a gauge filled up to the used part. */
function usageGauge(used: number, total: number, words: { used: string; left: string; subject: string }): GaugeChartData {
  const value = Math.min(Math.max(0, used), Math.max(0, total));
  return {
    show: total > 0,
    value,
    min: 0,
    max: total,
    segments: nonEmpty<GaugeSegment>([
      { legend: words.used, size: value, color: 'categoricalBlue' },
      { legend: words.left, size: total - value, color: 'neutral' },
    ]),
    subLabel: `${formatCount(value)} of ${formatCount(total)} ${words.used.toLowerCase()}`,
    text: `${words.subject}: ${formatCount(value)} of ${formatCount(total)} ${words.used.toLowerCase()} (${percent(value, total)}), ${formatCount(total - value)} ${words.left.toLowerCase()}.`,
  };
}

/** A token's licenses in use, of all it holds (free books, unlimited, are not counted). */
export function licenseGauge(used: number, total: number): GaugeChartData {
  return usageGauge(used, total, { used: 'Used', left: 'Available', subject: 'Licenses' });
}

/** An assignment's approved license budget: spent of approved. */
export function budgetGauge(spent: number, approved: number): GaugeChartData {
  return usageGauge(spent, approved, { used: 'Spent', left: 'Left', subject: 'Approved licenses' });
}

/**
 * A token's days left as a bar against its one-year validity (days left, days gone: parts of the year). A
 * token valid for longer (Apple allows renewing early) fills the bar and its words say how long it really has.
 */
export function expiryBar(daysLeft: number): BarChartData {
  const value = Math.min(Math.max(0, daysLeft), TOKEN_VALIDITY_DAYS);
  const text =
    daysLeft < 0
      ? `Expiry: expired, 0 of ${formatCount(TOKEN_VALIDITY_DAYS)} days left.`
      : daysLeft > TOKEN_VALIDITY_DAYS
        ? `Expiry: ${formatCount(daysLeft)} days left, more than the ${formatCount(TOKEN_VALIDITY_DAYS)} days of a year's validity.`
        : `Expiry: ${formatCount(value)} of ${formatCount(TOKEN_VALIDITY_DAYS)} days left (${percent(value, TOKEN_VALIDITY_DAYS)}).`;
  return {
    show: true,
    data: [
      { x: 'Days left', y: value, color: daysLeft < EXPIRY_ALERT_DAYS ? 'attention' : 'categoricalBlue' },
      { x: 'Days gone', y: TOKEN_VALIDITY_DAYS - value, color: 'neutral' },
    ],
    text,
  };
}

/** A book's licenses as two bars, used and available, each a part of all its licenses. */
export function bookLicenseBars(book: { totalLicenseCount: number; usedLicenseCount: number; availableLicenseCount: number; unlimited?: boolean | undefined }): BarChartData {
  const total = book.usedLicenseCount + book.availableLicenseCount;
  return {
    // A free book's licenses are unlimited: there is no whole to show a part of.
    show: !book.unlimited && total > 0,
    data: [
      { x: 'Used', y: book.usedLicenseCount, color: 'categoricalBlue' },
      { x: 'Available', y: book.availableLicenseCount, color: book.availableLicenseCount === 0 ? 'attention' : 'categoricalTeal' },
    ],
    text: `Licenses: ${formatCount(book.usedLicenseCount)} of ${formatCount(total)} used (${percent(book.usedLicenseCount, total)}), ${formatCount(book.availableLicenseCount)} available.`,
  };
}

/**
 * "12 Jun, 14:05" for each sync; a chart draws points with the same label as one, so syncs started in the
 * same minute get their seconds, and any still alike a number.
 */
function historyLabels(entries: readonly SyncHistoryEntry[]): string[] {
  const byMinute = entries.map((e) => formatAxisTime(e.startedDateTime, 'minute'));
  const labels = entries.map((e, i) => (byMinute.indexOf(byMinute[i] ?? '') !== byMinute.lastIndexOf(byMinute[i] ?? '') ? formatAxisTime(e.startedDateTime, 'second') : (byMinute[i] ?? '')));
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const times = (seen.get(label) ?? 0) + 1;
    seen.set(label, times);
    return times === 1 ? label : `${label} (${times})`;
  });
}

/** Charts of a token's recent syncs, oldest first; a single sync makes no history worth drawing. */
export function syncHistoryCharts(history: readonly SyncHistoryEntry[]): SyncHistoryChartData {
  const entries = [...history].sort((a, b) => Date.parse(a.startedDateTime) - Date.parse(b.startedDateTime));
  const labels = historyLabels(entries);
  const failed = entries.flatMap((e, i) => (e.status === 'failed' ? [labels[i] ?? ''] : []));
  const span = entries.length > 0 ? `from ${labels[0]} to ${labels[labels.length - 1]} UTC` : '';
  return {
    show: entries.length >= 2,
    title: `Last ${formatCount(entries.length)} syncs`,
    durations: entries.map((e, i) => ({ x: labels[i] ?? '', y: Math.round(e.durationMs / 100) / 10, color: e.status === 'failed' ? 'attention' : 'categoricalBlue' })),
    changes: entries.map((e, i) => ({ x: labels[i] ?? '', y: e.changes, color: e.status === 'failed' ? 'attention' : 'categoricalTeal' })),
    durationText:
      `Duration of the last ${formatCount(entries.length)} syncs, oldest first (${span}): ${entries.map((e) => formatDuration(e.durationMs)).join(', ')}.` +
      (failed.length > 0 ? ` Failed: ${failed.join(', ')}.` : ''),
    changesText: `Changes in the last ${formatCount(entries.length)} syncs, oldest first: ${entries.map((e) => formatCount(e.changes)).join(', ')}.`,
  };
}
