import { strict as assert } from 'node:assert';
import { TestAdapter, type TurnContext } from 'botbuilder';
import { AccessGuard } from '../../dialogs/AccessGuard';
import { AdminPolicy } from '../../services/auth/AdminPolicy';
import { DirectoryUnavailableError } from '../../services/directory/errors';

const TENANT = '00000000-0000-0000-0000-0000000000001';
const ADMIN_GROUP = '90000000-0000-4000-8000-000000000001';

async function checkAs(guard: AccessGuard, aadObjectId: string): Promise<Awaited<ReturnType<AccessGuard['check']>>> {
  let result: Awaited<ReturnType<AccessGuard['check']>> | undefined;
  const adapter = new TestAdapter(async (context: TurnContext) => {
    result = await guard.check(context, 'tokens');
  }, { channelId: 'msteams', from: { id: 'u', name: 'U', aadObjectId }, conversation: { id: 'c', isGroup: false, conversationType: 'personal', tenantId: TENANT, name: 'c' } });
  await adapter.send('tokens');
  assert.ok(result);
  return result;
}

describe('AccessGuard', () => {
  it('admits members of the admin group through the directory', async () => {
    const policy = new AdminPolicy({ tenantId: TENANT, adminUserIds: [], adminGroupId: ADMIN_GROUP, groupMembership: { isMember: async (user) => user === 'member' } });
    assert.equal((await checkAs(new AccessGuard(policy, undefined), 'member')).allowed, true);
    assert.equal((await checkAs(new AccessGuard(policy, undefined), 'someone-else')).allowed, false);
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
    const result = await checkAs(new AccessGuard(policy, undefined), 'member');
    assert.equal(result.allowed, false);
    assert.ok(!result.allowed && /could not check whether you are a VPP Books admin.*Microsoft Graph is busy/.test(result.message));
  });
});
