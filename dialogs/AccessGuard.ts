import type { TurnContext } from 'botbuilder';
import type { AdminPolicy, Authorization } from '../services/auth/AdminPolicy';
import type { AuditLog } from '../services/store/repositories/AuditLog';
import type { Logger } from '../services/logging/logger';
import { isExpectedError, toChatError } from './chatErrors';

/**
 * Checks the sender of a turn against the admin policy, from what Teams put on the activity (never from
 * card data), and leaves an audit entry for every refusal.
 */
export class AccessGuard {
  constructor(
    private readonly policy: AdminPolicy,
    private readonly audit: AuditLog | undefined,
    private readonly logger?: Logger,
    /** Approvers who are not admins may use the commands that say so (`approvals`). */
    private readonly isApprover?: (tenantId: string, aadObjectId: string) => Promise<boolean>,
  ) {}

  async check(context: TurnContext, command: string, options: { approversToo?: boolean } = {}): Promise<Authorization> {
    const activity = context.activity;
    const channelTenant = (activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
    const tenantId = activity.conversation?.tenantId ?? (typeof channelTenant === 'string' ? channelTenant : undefined);
    let result = await this.authorize(tenantId, activity.from?.aadObjectId, activity.from?.name);
    if (!result.allowed && result.reason === 'notAdmin' && options.approversToo && tenantId && activity.from?.aadObjectId && this.isApprover) {
      if (await this.isApprover(tenantId, activity.from.aadObjectId)) result = { allowed: true, actor: { tenantId, aadObjectId: activity.from.aadObjectId, name: activity.from.name } };
    }
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

  /** A directory outage while checking the admin group refuses the action with the reason, not a crash. */
  private async authorize(tenantId: string | undefined, aadObjectId: string | undefined, name: string | undefined): Promise<Authorization> {
    try {
      return await this.policy.authorize({ tenantId, aadObjectId, name });
    } catch (err) {
      if (!isExpectedError(err)) throw err;
      this.logger?.warn({ err }, 'admin check failed');
      return { allowed: false, reason: 'checkFailed', message: `I could not check whether you are a VPP Books admin, so nothing was done. ${toChatError(err).text}` };
    }
  }
}
