import type { TurnContext } from 'botbuilder';
import type { AdminPolicy, Authorization, RefusalAudit } from '../services/auth/AdminPolicy';
import type { Logger } from '../services/logging/logger';
import { isExpectedError, toChatError } from './chatErrors';

/** The tenant Teams put on the activity (never from card data). */
function tenantOf(context: TurnContext): string | undefined {
  const activity = context.activity;
  const channelTenant = (activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
  return activity.conversation?.tenantId ?? (typeof channelTenant === 'string' ? channelTenant : undefined);
}

/**
 * Refusals of one user, for one command and reason, within this long are one audit entry with a count:
 * a script repeating a refused command must not write a document per message.
 */
const REFUSAL_AUDIT_WINDOW_MS = 10 * 60_000;

/**
 * Checks the sender of a turn against the admin policy, from what Teams put on the activity (never from
 * card data), and audits refusals (repeats within REFUSAL_AUDIT_WINDOW_MS counted in one entry).
 */
export class AccessGuard {
  constructor(
    private readonly policy: AdminPolicy,
    private readonly audit: RefusalAudit,
    private readonly logger: Logger,
    /** Approvers who are not admins may use the commands that say so (`approvals`). */
    private readonly isApprover: (tenantId: string, aadObjectId: string) => Promise<boolean>,
  ) {}

  async check(context: TurnContext, command: string, options: { approversToo?: boolean } = {}): Promise<Authorization> {
    const activity = context.activity;
    const tenantId = tenantOf(context);
    let result = await this.authorize(tenantId, activity.from?.aadObjectId, activity.from?.name);
    if (!result.allowed && result.reason === 'notAdmin' && options.approversToo && tenantId && activity.from?.aadObjectId) {
      if (await this.isApprover(tenantId, activity.from.aadObjectId)) result = { allowed: true, actor: { tenantId, aadObjectId: activity.from.aadObjectId, name: activity.from.name } };
    }
    if (!result.allowed) await this.refused(context, command, result);
    return result;
  }

  /**
   * For commands anyone of our tenant may use (`my books`): admits every identified user of the tenant,
   * admin or not, and refuses (with the same audit entry) anyone else. Admin rights are not looked at, so a
   * directory outage checking the admin group keeps nobody from their own books.
   */
  async checkMember(context: TurnContext, command: string): Promise<Authorization> {
    const activity = context.activity;
    const tenantId = tenantOf(context);
    const result = await this.authorize(tenantId, activity.from?.aadObjectId, activity.from?.name);
    const known = result.allowed || result.reason === 'notAdmin' || result.reason === 'checkFailed';
    if (known && tenantId && activity.from?.aadObjectId) return { allowed: true, actor: { tenantId, aadObjectId: activity.from.aadObjectId, name: activity.from.name } };
    const refusal: Authorization = result.allowed ? { allowed: false, reason: 'unknownUser', message: 'Sorry, I cannot tell who you are, so I cannot show your books.' } : result;
    await this.refused(context, command, refusal);
    return refusal;
  }

  /**
   * Who the sender is to the bot, for what `help` shows: an admin (the full command list), an approver who
   * is not an admin, or anyone else. Nothing is refused here, so nothing is audited; a directory outage
   * shows the full list (the commands themselves are still checked).
   */
  async role(context: TurnContext): Promise<'admin' | 'approver' | 'member'> {
    const activity = context.activity;
    const tenantId = tenantOf(context);
    const result = await this.authorize(tenantId, activity.from?.aadObjectId, activity.from?.name);
    if (result.allowed || result.reason === 'checkFailed') return 'admin';
    if (result.reason === 'notAdmin' && tenantId && activity.from?.aadObjectId) {
      try {
        if (await this.isApprover(tenantId, activity.from.aadObjectId)) return 'approver';
      } catch (err) {
        if (!isExpectedError(err)) throw err;
      }
    }
    return 'member';
  }

  private async refused(context: TurnContext, command: string, result: Authorization & { allowed: false }): Promise<void> {
    const activity = context.activity;
    const tenantId = tenantOf(context);
    this.logger.warn({ reason: result.reason, command, tenantId, user: activity.from?.aadObjectId }, 'access refused');
    const user = activity.from?.aadObjectId ?? 'unknown-user';
    try {
      await this.audit.recordRepeated(
        JSON.stringify(['access.refused', tenantId, user, activity.from?.aadObjectId ? '' : activity.from?.id, command, result.reason]),
        {
          tenantId: tenantId ?? 'unknown-tenant',
          actor: { aadObjectId: user, displayName: activity.from?.name },
          action: 'access.refused',
          target: { type: 'user', id: user },
          outcome: 'refused',
          details: { command, reason: result.reason },
        },
        REFUSAL_AUDIT_WINDOW_MS,
      );
    } catch (err) {
      // The refusal stands even if the audit store is down; the log line above still records it.
      this.logger.error({ err }, 'could not audit a refused access');
    }
  }

  /** A directory outage while checking the admin group refuses the action with the reason, not a crash. */
  private async authorize(tenantId: string | undefined, aadObjectId: string | undefined, name: string | undefined): Promise<Authorization> {
    try {
      return await this.policy.authorize({ tenantId, aadObjectId, name });
    } catch (err) {
      if (!isExpectedError(err)) throw err;
      this.logger.warn({ err }, 'admin check failed');
      return { allowed: false, reason: 'checkFailed', message: `I could not check whether you are a VPP Books admin, so nothing was done. ${toChatError(err).text}` };
    }
  }
}
