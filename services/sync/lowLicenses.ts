import type { SyncTrigger } from './types';

/** When a book counts as running low on licenses. Either limit is enough to warn. */
export interface LowLicenseThreshold {
  /** Warn when this many licenses or fewer are left. */
  count: number;
  /** Warn when this share of all licenses (0–100) or less is left. */
  percent: number;
}

export const DEFAULT_LOW_LICENSE_THRESHOLD: LowLicenseThreshold = { count: 5, percent: 10 };

/**
 * Low means some licenses are in use and few are left. A book nobody uses yet is not "running low",
 * however few licenses it has: warning about it would be noise.
 */
export function isLowOnLicenses(book: { totalLicenseCount: number; usedLicenseCount: number; availableLicenseCount: number; unlimited?: boolean | undefined }, threshold: LowLicenseThreshold): boolean {
  // A free book never runs out.
  if (book.unlimited || book.totalLicenseCount <= 0 || book.usedLicenseCount <= 0) return false;
  return book.availableLicenseCount <= threshold.count || book.availableLicenseCount * 100 <= book.totalLicenseCount * threshold.percent;
}

/**
 * Whether books a sync found running low get a notice of their own. A sync an admin asked for answers
 * with a result card that already lists them, so a notice before it would say the same thing twice;
 * a scheduled sync answers nobody, so its notice is the only way admins hear of it.
 */
export function lowLicensesNoticedSeparately(trigger: SyncTrigger): boolean {
  return trigger === 'scheduled';
}
