import { z } from 'zod';
import { deterministicId } from '../ids';
import { adamIdSchema, dateTimeSchema, idSchema, pricingParamSchema, type PricingParam } from './common';

/** One purchased book (an Apple asset: adamId + pricingParam) as seen through one token. */
export const eBookSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  adamId: adamIdSchema,
  pricingParam: pricingParamSchema,
  title: z.string().min(1).max(512),
  author: z.string().max(512).optional(),
  coverUrl: z.url().max(2048).optional(),
  totalLicenseCount: z.number().int().min(0),
  usedLicenseCount: z.number().int().min(0),
  availableLicenseCount: z.number().int().min(0),
  retiredLicenseCount: z.number().int().min(0).optional(),
  /** False while the title is the "Book <adamId>" fallback, so a later sync retries the lookup. */
  metadataResolved: z.boolean(),
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
});
export type EBook = z.infer<typeof eBookSchema>;

export function eBookId(adamId: string, pricingParam: PricingParam): string {
  return deterministicId(adamId, pricingParam);
}
