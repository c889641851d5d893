import { isUnlimitedAsset } from '../apple/schemas';
import type { AppleClientProvider } from '../assignments/ports';
import type { Store } from '../store/Store';
import type { FreshLicenseCounts } from '../backend/ports';

/**
 * The licenses of a book free at Apple right now, read for that one book (`GET /assets?adamId=…`), not
 * the counts of the last sync. Free books have no limit (undefined).
 */
export function appleLicenseCounts(store: Store, clients: AppleClientProvider): FreshLicenseCounts {
  return {
    available: async (book) => {
      const token = await store.tokens.get(book.tenantId, book.tokenId);
      if (!token) return undefined;
      const asset = await clients(token).getAsset({ adamId: book.adamId, pricingParam: book.pricingParam });
      // A book Apple no longer lists has nothing free.
      if (!asset) return 0;
      return isUnlimitedAsset(asset) ? undefined : asset.availableCount;
    },
  };
}
