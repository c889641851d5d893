import { z } from 'zod';
import type { TargetUser } from './IntuneState';

/**
 * How the local Intune learns who is in an assignment's group: Graph's
 * `GET /groups/{id}/transitiveMembers/microsoft.graph.user` (group-list-transitivemembers), page by page,
 * against the local directory or any Graph-shaped server.
 */

const memberPageSchema = z.looseObject({
  value: z.array(z.looseObject({ id: z.string(), displayName: z.string().nullish(), userPrincipalName: z.string().nullish() })),
  '@odata.nextLink': z.url().optional(),
});

/** The directory could not say who is in the group (it does not exist, or the directory failed). */
class DirectoryUnavailable extends Error {
  constructor(
    readonly groupId: string,
    readonly status: number,
  ) {
    super(`directory answered ${status} for group ${groupId}`);
  }
}

export class DirectoryLink {
  /** `baseUrl` is Graph's origin (what GRAPH_BASE_URL names); the link adds /v1.0. */
  constructor(readonly baseUrl: string) {}

  /** Every user in the group, nested groups included, each once. A group the directory does not know has none. */
  async groupUsers(groupId: string): Promise<TargetUser[]> {
    const users = new Map<string, TargetUser>();
    let next: string | undefined =
      `${this.baseUrl}/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user?$select=id,displayName,userPrincipalName&$top=999`;
    while (next) {
      const response: Response = await fetch(next, { headers: { accept: 'application/json' } });
      if (response.status === 404) return [];
      if (!response.ok) throw new DirectoryUnavailable(groupId, response.status);
      const page = memberPageSchema.parse(await response.json());
      for (const user of page.value) {
        users.set(user.id, { id: user.id, displayName: user.displayName ?? user.userPrincipalName ?? user.id, userPrincipalName: user.userPrincipalName ?? user.id });
      }
      next = page['@odata.nextLink'];
    }
    return [...users.values()];
  }
}
