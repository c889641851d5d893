import { z } from 'zod';
import { normaliseName } from '../../common/nameMatch';
import { deterministicId } from '../ids';
import { LIMITS, adamIdSchema, dateTimeSchema, idSchema, pricingParamSchema, type PricingParam } from './common';

/**
 * Room for a title and an author that normalising lengthens (a ligature or full-width letter becomes
 * several plain ones); a key is cut to it rather than fail the book's write.
 */
const SEARCH_KEY_MAX = 4 * (LIMITS.title + 512 + 1);
/** Normalised names hold no line break, so a search text never matches across the title and the author. */
const SEARCH_KEY_SEPARATOR = '\n';

/** One purchased book (an Apple asset: adamId + pricingParam) as seen through one token. */
export const eBookSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  adamId: adamIdSchema,
  pricingParam: pricingParamSchema,
  title: z.string().min(1).max(LIMITS.title),
  author: z.string().max(512).optional(),
  coverUrl: z.url().max(2048).optional(),
  totalLicenseCount: z.number().int().min(0),
  usedLicenseCount: z.number().int().min(0),
  availableLicenseCount: z.number().int().min(0),
  retiredLicenseCount: z.number().int().min(0).optional(),
  /** A free book: any number of users may get it, so its counts are left out of totals and warnings. */
  unlimited: z.boolean().optional(),
  /** Intune's managedEBook id, when the book was read from Intune (Intune mode); the adamId stays the key. */
  intuneBookId: z.string().min(1).max(256).optional(),
  /** False while the title is the "Book <adamId>" fallback, so a later sync retries the lookup. */
  metadataResolved: z.boolean(),
  /**
   * The title and author as names are compared (`bookSearchKey`), so a store query can find a book the
   * way people type it. Optional: books written before the key existed lack it until their next write.
   */
  searchKey: z.string().max(SEARCH_KEY_MAX).optional(),
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
});
export type EBook = z.infer<typeof eBookSchema>;

/** Licenses over books that have a limit: free (unlimited) books would swamp any total with 2^31. */
export function licenseTotals(books: Iterable<Pick<EBook, 'totalLicenseCount' | 'usedLicenseCount' | 'availableLicenseCount' | 'unlimited'>>): { total: number; used: number; available: number } {
  const sum = { total: 0, used: 0, available: 0 };
  for (const b of books) {
    if (b.unlimited) continue;
    sum.total += b.totalLicenseCount;
    sum.used += b.usedLicenseCount;
    sum.available += b.availableLicenseCount;
  }
  return sum;
}

export function eBookId(adamId: string, pricingParam: PricingParam): string {
  return deterministicId(adamId, pricingParam);
}

/**
 * A book's `searchKey`: its normalised title, a line break, its normalised author. Without an author it is
 * also what every key of a book with that title starts with, which is how an exact title is queried.
 */
export function bookSearchKey(title: string, author?: string): string {
  return `${normaliseName(title)}${SEARCH_KEY_SEPARATOR}${author ? normaliseName(author) : ''}`.slice(0, SEARCH_KEY_MAX);
}
