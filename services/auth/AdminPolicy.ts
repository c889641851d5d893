import type { AuditEntry } from '../store/repositories/AuditLog';

/** Who is acting, as Teams tells us; never taken from card data. */
export interface Actor {
  tenantId: string | undefined;
  aadObjectId: string | undefined;
  name?: string | undefined;
}

/** An authorised admin: who the policy let through, and whom services record as having acted. */
export interface AdminActor {
  tenantId: string;
  aadObjectId: string;
  name?: string | undefined;
}

export type Authorization =
  | { allowed: true; actor: AdminActor }
  | { allowed: false; reason: 'wrongTenant' | 'unknownUser' | 'notAdmin' | 'checkFailed'; message: string };

/** Answers "is this user in that Entra group?" (Microsoft Graph in production). */
export interface GroupMembership {
  isMember(userObjectId: string, groupId: string): Promise<boolean>;
}

export interface AdminPolicyOptions {
  tenantId: string;
  adminUserIds: readonly string[];
  adminGroupId?: string | undefined;
  groupMembership?: GroupMembership | undefined;
}

/**
 * Where refused access is recorded (the AuditLog in production): repeats of one `key` within `windowMs`
 * are one entry with a count, so a script repeating a refused command writes no document per message.
 */
export interface RefusalAudit {
  recordRepeated(key: string, entry: AuditEntry, windowMs: number): Promise<void>;
}

export const NOT_ADMIN_MESSAGE =
  'Sorry, only VPP Books admins can do that. Ask your IT administrator to add you to the bot admins if you need to manage VPP tokens or book assignments.';

/**
 * Decides who may change tokens and assignments: users of the configured tenant who are listed as
 * admins or belong to the admin group.
 */
export class AdminPolicy {
  private readonly adminIds: Set<string>;

  constructor(private readonly options: AdminPolicyOptions) {
    this.adminIds = new Set(options.adminUserIds.map((id) => id.toLowerCase()));
  }

  async authorize(actor: Actor): Promise<Authorization> {
    if (!actor.tenantId || actor.tenantId.toLowerCase() !== this.options.tenantId.toLowerCase()) {
      return { allowed: false, reason: 'wrongTenant', message: 'Sorry, this bot only serves its own organisation; your account belongs to another tenant.' };
    }
    if (!actor.aadObjectId) {
      return { allowed: false, reason: 'unknownUser', message: 'Sorry, I cannot tell who you are (no Entra ID account on this message), so I cannot let you change anything.' };
    }
    const allowed = { allowed: true as const, actor: { tenantId: actor.tenantId, aadObjectId: actor.aadObjectId, name: actor.name } };
    if (this.adminIds.has(actor.aadObjectId.toLowerCase())) return allowed;
    const { adminGroupId, groupMembership } = this.options;
    if (adminGroupId && groupMembership && (await groupMembership.isMember(actor.aadObjectId, adminGroupId))) return allowed;
    return { allowed: false, reason: 'notAdmin', message: NOT_ADMIN_MESSAGE };
  }
}
