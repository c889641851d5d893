import type { FreshLicenseCounts } from '../backend/ports';
import type { Store } from '../store/Store';
import { pricingParamSchema } from '../store/entities/common';
import type { IntuneApi } from './IntuneApi';

/**
 * The licenses of a book free in Intune right now, read for that one book (`GET managedEBooks/{id}`), not the
 * counts of the last sync: Intune's total less the licenses it has used. Free books have no limit (undefined);
 * a book Intune no longer has, or one never read from Intune, has nothing free.
 */
export function intuneLicenseCounts(store: Pick<Store, 'books'>, intune: Pick<IntuneApi, 'getEBook'>): FreshLicenseCounts {
  return {
    available: async (book) => {
      const pricingParam = pricingParamSchema.safeParse(book.pricingParam);
      const stored = pricingParam.success ? await store.books.get(book.tokenId, book.adamId, pricingParam.data) : undefined;
      if (!stored?.intuneBookId) return 0;
      if (stored.unlimited) return undefined;
      const counts = await intune.getEBook(stored.intuneBookId);
      return counts ? Math.max(0, counts.totalLicenseCount - counts.usedLicenseCount) : 0;
    },
  };
}
