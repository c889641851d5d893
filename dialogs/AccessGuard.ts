import type { TurnContext } from 'botbuilder';
import type { AdminPolicy, Authorization } from '../services/auth/AdminPolicy';
import type { AuditLog } from '../services/store/repositories/AuditLog';
import type { Logger } from '../services/logging/logger';

/**
 * Checks the sender of a turn against the admin policy, from what Teams put on the activity (never from
 * card data), and leaves an audit entry for every refusal.
 */
export class AccessGuard {
  constructor(
    private readonly policy: AdminPolicy,
    private readonly audit: AuditLog | undefined,
    private readonly logger?: Logger,
  ) {}

  async check(context: TurnContext, command: string): Promise<Authorization> {
    const activity = context.activity;
    const channelTenant = (activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
    const tenantId = activity.conversation?.tenantId ?? (typeof channelTenant === 'string' ? channelTenant : undefined);
    const result = await this.policy.authorize({ tenantId, aadObjectId: activity.from?.aadObjectId, name: activity.from?.name });
    if (!result.allowed) {
      this.logger?.warn({ reason: result.reason, command, tenantId, user: activity.from?.aadObjectId }, 'access refused');
      try {
        await this.audit?.record({
          tenantId: tenantId ?? 'unknown-tenant',
          actor: { aadObjectId: activity.from?.aadObjectId ?? 'unknown-user', displayName: activity.from?.name },
          action: 'access.refused',
          target: { type: 'user', id: activity.from?.aadObjectId ?? 'unknown-user' },
          outcome: 'refused',
          details: { command, reason: result.reason },
        });
      } catch (err) {
        // The refusal stands even if the audit store is down; the log line above still records it.
        this.logger?.error({ err }, 'could not audit a refused access');
      }
    }
    return result;
  }
}
