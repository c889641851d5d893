import { strict as assert } from 'node:assert';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, TurnContext, type Activity } from 'botbuilder';
import { ConversationReferenceRecorder } from '../../bot/ConversationReferenceRecorder';
import { TeamsProactiveSender } from '../../bot/TeamsProactiveSender';
import { AdminRecipients } from '../../services/notifications/AdminRecipients';
import { NotificationOutbox } from '../../services/notifications/NotificationOutbox';
import { FakeConnector } from '../support/FakeConnector';
import { TestEnvironment } from '../support/TestEnvironment';
import { addAdminChat } from '../support/syncSender';

/**
 * NOTIFY_CONVERSATION_ID may name any channel of a team the bot is in, while Teams only ever tells the bot
 * about the team's General channel: the notice must still reach that channel.
 */
describe('Admin notices in NOTIFY_CONVERSATION_ID (any channel of a team)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  const connector = new FakeConnector();
  const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
  let outbox: NotificationOutbox;
  before(async () => {
    await env.start();
    await connector.start();
    outbox = new NotificationOutbox({ store: env.store, sender: new TeamsProactiveSender(adapter, undefined), retryBaseMs: 10 });
  });
  after(async () => {
    await outbox.stop();
    await connector.stop();
    await env.stop();
  });

  const general = '19:general-team-a@thread.tacv2';
  const admins = '19:vpp-admins@thread.tacv2';

  /** What Teams sends when the app is added to a team: conversation is the General channel, whose id is the team's. */
  function installedInTeam(tenantId: string): TurnContext {
    const activity: Partial<Activity> = {
      type: 'conversationUpdate',
      id: 'install-1',
      channelId: 'msteams',
      serviceUrl: connector.url,
      from: { id: '29:installer', name: 'Installer', aadObjectId: 'installer-aad' },
      recipient: { id: '28:bot', name: 'VPP Books' },
      conversation: { id: general, isGroup: true, conversationType: 'channel', tenantId, name: '' },
      membersAdded: [{ id: '28:bot', name: 'VPP Books' }],
      channelData: { tenant: { id: tenantId }, team: { id: general, name: 'IT' }, eventType: 'teamMemberAdded' },
    };
    return new TurnContext(adapter, activity as Activity);
  }

  const notice = (tenantId: string) => ({ tokenId: `token-${tenantId}`, tenantId, kind: 'tokenExpiring' as const, threshold: '30d', occurrenceKey: '2030-01-01' });

  it('reaches a non-General channel when only the team\'s General reference is stored', async () => {
    const tenantId = '00000000-0000-0000-0000-00000000a001';
    assert.equal(await new ConversationReferenceRecorder(env.store.conversations).record(installedInTeam(tenantId)), 'saved');
    assert.equal(await env.store.conversations.getForConversation(tenantId, admins), undefined, 'no reference for the admins\' channel');
    await addAdminChat(env.store, tenantId); // newer, but a team reference is preferred as the template

    const recipients = await new AdminRecipients({ store: env.store, adminChannelConversationId: admins }).forTenant(tenantId);
    assert.deepEqual(recipients.map((r) => r.conversationId), [admins]);
    assert.equal(recipients[0]?.reference.serviceUrl, connector.url);
    const arrived = connector.waitForNext((a) => a.text === 'token expiring');
    assert.deepEqual(await outbox.deliverOnce(notice(tenantId), recipients, { text: 'token expiring' }), { sent: 1, skipped: 0, dropped: 0, failed: 0 });
    const activity = await arrived;
    assert.equal(activity.conversation?.id, admins);
    assert.deepEqual(
      { ...(activity.conversation as Record<string, unknown>) },
      { id: admins, isGroup: true, conversationType: 'channel', tenantId },
    );
    assert.equal((activity.from as { id?: string } | undefined)?.id, '28:bot');
  });

  it('falls back to any reference of the tenant (its serviceUrl), and reaches nobody in a tenant it has no reference of', async () => {
    const tenantId = '00000000-0000-0000-0000-00000000a002';
    const chat = await addAdminChat(env.store, tenantId);
    const stored = await env.store.conversations.getForUser(tenantId, chat.userAadObjectId);
    await env.store.conversations.save({ tenantId, scope: 'personal', userAadObjectId: chat.userAadObjectId, conversationId: chat.conversationId, reference: { ...stored!.reference, serviceUrl: connector.url } });

    const [channel] = await new AdminRecipients({ store: env.store, adminChannelConversationId: admins }).forTenant(tenantId);
    assert.equal(channel?.reference.conversation.id, admins);
    assert.equal(channel?.reference.user, undefined, 'the personal chat\'s user is not carried into the channel');
    const arrived = connector.waitForNext((a) => a.text === 'sync failed');
    await outbox.send({ tenantId, conversationId: admins, reference: channel!.reference }, { text: 'sync failed' });
    assert.equal((await arrived).conversation?.id, admins);

    assert.deepEqual(await new AdminRecipients({ store: env.store, adminChannelConversationId: admins }).forTenant('00000000-0000-0000-0000-00000000a003'), []);
  });
});
