import { isUnlimitedAsset } from '../apple/schemas';
import { runId, type AssignmentRunRepository } from '../assignments/AssignmentRunRepository';
import type { AppleClientProvider } from '../assignments/ports';
import type { Store } from '../store/Store';
import type { FreshLicenseCounts } from './ApprovalService';

/**
 * The licenses of a request's book free at Apple right now, read for that one book
 * (`GET /assets?adamId=…`), not the counts of the last sync. Free books have no limit (undefined).
 */
export function appleLicenseCounts(store: Store, runs: AssignmentRunRepository, clients: AppleClientProvider): FreshLicenseCounts {
  return {
    available: async (request) => {
      const [token, run] = await Promise.all([store.tokens.get(request.tenantId, request.tokenId), runs.get(request.tokenId, runId(request.id))]);
      if (!token || !run) return undefined;
      const asset = await clients(token).getAsset({ adamId: run.adamId, pricingParam: run.pricingParam });
      // A book Apple no longer lists has nothing free.
      if (!asset) return 0;
      return isUnlimitedAsset(asset) ? undefined : asset.availableCount;
    },
  };
}
