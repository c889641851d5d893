import { strict as assert } from 'node:assert';
import { TestAdapter, type TurnContext } from 'botbuilder';
import { AccessGuard } from '../../dialogs/AccessGuard';
import { AdminPolicy, type RefusalAudit } from '../../services/auth/AdminPolicy';
import { DirectoryUnavailableError } from '../../services/directory/errors';
import { silentLogger } from '../../services/logging/logger';
import { useEmbeddedCosmos } from '../services/store/fixtures';

const TENANT = '00000000-0000-0000-0000-0000000000001';
const ADMIN_GROUP = '90000000-0000-4000-8000-000000000001';

/** For tests that do not look at the audit trail or approvers. */
const noAudit: RefusalAudit = { recordRepeated: async () => undefined };
const noApprovers = async (): Promise<boolean> => false;

async function checkAs(guard: AccessGuard, aadObjectId: string, command = 'tokens'): Promise<Awaited<ReturnType<AccessGuard['check']>>> {
  let result: Awaited<ReturnType<AccessGuard['check']>> | undefined;
  const adapter = new TestAdapter(async (context: TurnContext) => {
    result = await guard.check(context, command);
  }, { channelId: 'msteams', from: { id: 'u', name: 'U', aadObjectId }, conversation: { id: 'c', isGroup: false, conversationType: 'personal', tenantId: TENANT, name: 'c' } });
  await adapter.send(command);
  assert.ok(result);
  return result;
}

describe('AccessGuard', () => {
  it('admits members of the admin group through the directory', async () => {
    const policy = new AdminPolicy({ tenantId: TENANT, adminUserIds: [], adminGroupId: ADMIN_GROUP, groupMembership: { isMember: async (user) => user === 'member' } });
    assert.equal((await checkAs(new AccessGuard(policy, noAudit, silentLogger(), noApprovers), 'member')).allowed, true);
    assert.equal((await checkAs(new AccessGuard(policy, noAudit, silentLogger(), noApprovers), 'someone-else')).allowed, false);
  });

  it('refuses with the reason when the directory cannot be reached, instead of failing the turn', async () => {
    const policy = new AdminPolicy({
      tenantId: TENANT,
      adminUserIds: [],
      adminGroupId: ADMIN_GROUP,
      groupMembership: {
        isMember: async () => {
          throw new DirectoryUnavailableError(503);
        },
      },
    });
    const result = await checkAs(new AccessGuard(policy, noAudit, silentLogger(), noApprovers), 'member');
    assert.equal(result.allowed, false);
    assert.ok(!result.allowed && /could not check whether you are a VPP Books admin.*Microsoft Graph is busy/.test(result.message));
  });

  describe('auditing refusals', () => {
    const env = useEmbeddedCosmos();

    it('audits repeated refusals of one user once per window, with a count, per command', async () => {
      const store = await env.newStore();
      const guard = new AccessGuard(new AdminPolicy({ tenantId: TENANT, adminUserIds: ['admin'] }), store.audit, silentLogger(), noApprovers);
      for (let i = 0; i < 25; i++) assert.equal((await checkAs(guard, 'not-an-admin')).allowed, false);
      await checkAs(guard, 'not-an-admin', 'sync');
      await checkAs(guard, 'someone-else');
      const refusals = (await store.audit.list(TENANT, 50)).items.filter((e) => e.action === 'access.refused');
      const summary = refusals.map((e) => `${e.target.id} ${String(e.details?.command)} ×${e.count ?? 1}`).sort();
      assert.deepEqual(summary, ['not-an-admin sync ×1', 'not-an-admin tokens ×25', 'someone-else tokens ×1']);
    });
  });
});
