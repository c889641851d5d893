import { strict as assert } from 'node:assert';
import { ActivityTypes, TestAdapter, type Activity, type ChannelAccount } from 'botbuilder';
import { TextPrompt, WaterfallDialog } from 'botbuilder-dialogs';
import { FLOW_EXPIRED_MESSAGE, FLOW_EXPIRY_MS, MainDialog, notYourQuestionMessage } from '../../dialogs/MainDialog';
import { AccessGuard } from '../../dialogs/AccessGuard';
import { tokenFlows } from '../../dialogs/tokens/tokenFlows';
import { AdminPolicy, NOT_ADMIN_MESSAGE } from '../../services/auth/AdminPolicy';
import { silentLogger } from '../../services/logging/logger';
import { CachedGroupMembership } from '../../services/directory/CachedGroupMembership';
import { TokenFileReader } from '../../services/tokens/TokenFileReader';
import { TEST_TENANT, TestEnvironment } from '../support/TestEnvironment';
import { dialogBot, everyoneAdmin } from '../support/dialogBot';

const ADMIN = '00000000-0000-0000-0000-0000000000030';
const ADMIN_GROUP = '90000000-0000-4000-8000-000000000030';
const ALICE: ChannelAccount = { id: '29:alice', name: 'Alice Adams', aadObjectId: '00000000-0000-0000-0000-00000000a11c' };
const BOB: ChannelAccount = { id: '29:bob', name: 'Bob Brown', aadObjectId: '00000000-0000-0000-0000-000000000b0b' };
const HOUR = 60 * 60_000;

function textOf(activity: Partial<Activity>): string {
  return String(activity.text ?? '');
}

function cardJson(activity: Partial<Activity>): string {
  return JSON.stringify(activity.attachments?.[0]?.content ?? {});
}

/** A stand-in flow with two questions, so "last advanced" differs from "started". */
function probeMain(options: ConstructorParameters<typeof MainDialog>[2] = {}, rules: { adminOnly: boolean } = { adminOnly: false }, guard: ConstructorParameters<typeof MainDialog>[1] = everyoneAdmin): MainDialog {
  const flow = new WaterfallDialog('probe', [
    (step) => step.prompt('probePrompt', 'Which Apple ID manages this token?'),
    (step) => step.prompt('probePrompt', `Which location for ${String(step.result)}?`),
    async (step) => {
      await step.context.sendActivity(`Noted: ${String(step.result)}`);
      return step.endDialog();
    },
  ]);
  const main = new MainDialog([{ command: 'tokens', dialog: flow, adminOnly: rules.adminOnly, personalChatOnly: false }], guard, options);
  main.addDialog(new TextPrompt('probePrompt'));
  return main;
}

/** A Teams channel: every member shares one conversation, so one dialog stack. */
function channel(main: MainDialog): TestAdapter {
  const bot = dialogBot(main);
  // No `from` in the template: the test adapter's template would overwrite each activity's sender.
  return new TestAdapter((context) => bot.run(context), {
    channelId: 'msteams',
    conversation: { id: '19:general@thread.tacv2', isGroup: true, conversationType: 'channel', tenantId: TEST_TENANT, name: 'General' },
  });
}

function says(from: ChannelAccount, text: string): Partial<Activity> {
  return { type: ActivityTypes.Message, text, from };
}

describe('MainDialog: a question is answered only by whoever it was asked of', () => {
  it('refuses answers, clicks and cancel from another member of the channel, then lets the owner continue', async () => {
    await channel(probeMain())
      .send(says(ALICE, 'tokens'))
      .assertReply('Which Apple ID manages this token?')
      .send(says(BOB, 'bob@example.com'))
      .assertReply(notYourQuestionMessage('Alice Adams'))
      .send({ type: ActivityTypes.Message, value: { choice: 'keep', ref: 'whatever' }, from: BOB })
      .assertReply(notYourQuestionMessage('Alice Adams'))
      .send(says(BOB, 'cancel'))
      .assertReply('That question is for Alice Adams; nothing was changed.')
      .send(says(BOB, 'help'))
      .assertReply((r) => assert.ok(cardJson(r).includes('VPP Books: commands'), 'help is shown, the flow stays'))
      .send(says(ALICE, 'alice@example.com'))
      .assertReply('Which location for alice@example.com?')
      .send(says(ALICE, 'Main campus'))
      .assertReply('Noted: Main campus');
  });

  it('lets the owner cancel their own flow, after which anyone may start one', async () => {
    await channel(probeMain())
      .send(says(ALICE, 'tokens'))
      .assertReply('Which Apple ID manages this token?')
      .send(says(ALICE, 'cancel'))
      .assertReply((r) => assert.match(textOf(r), /^Cancelled/))
      .send(says(BOB, 'tokens'))
      .assertReply('Which Apple ID manages this token?')
      .send(says(ALICE, 'alice@example.com'))
      .assertReply(notYourQuestionMessage('Bob Brown'));
  });
});

describe('MainDialog: an unanswered question expires', () => {
  it('drops a flow left for longer than the limit and takes the message as a new command', async () => {
    let now = new Date('2030-01-01T09:00:00Z');
    const clock = (ms: number) => (now = new Date(now.getTime() + ms));
    const chat = channel(probeMain({ now: () => now }));
    await chat.send(says(ALICE, 'tokens')).assertReply('Which Apple ID manages this token?');
    // Within the limit the flow goes on, and answering moves its clock.
    clock(FLOW_EXPIRY_MS - 1);
    await chat.send(says(ALICE, 'alice@example.com')).assertReply('Which location for alice@example.com?');
    clock(FLOW_EXPIRY_MS - 1);
    await chat.send(says(ALICE, 'help')).assertReply((r) => assert.ok(cardJson(r).includes('VPP Books: commands')));
    clock(2);
    // The flow last advanced FLOW_EXPIRY_MS + 1 ago: help did not keep it alive.
    await chat
      .send(says(ALICE, 'tokens'))
      .assertReply(FLOW_EXPIRED_MESSAGE)
      .assertReply('Which Apple ID manages this token?', 'the new message started the flow afresh');
  });

  it('expires for anyone: another member of the channel is no longer held up by a lapsed question', async () => {
    let now = new Date('2030-01-01T09:00:00Z');
    const chat = channel(probeMain({ now: () => now, flowExpiryMs: HOUR }));
    await chat.send(says(ALICE, 'tokens')).assertReply('Which Apple ID manages this token?');
    now = new Date(now.getTime() + HOUR + 1);
    await chat
      .send(says(BOB, 'hello'))
      .assertReply(FLOW_EXPIRED_MESSAGE)
      .assertReply((r) => assert.match(textOf(r), /don't know that command/))
      .send(says(BOB, 'cancel'))
      .assertReply('There is nothing to cancel.');
  });
});

describe('MainDialog: admin rights are checked on every turn of a flow', () => {
  it('ends a waiting flow, card clicks included, when its admin lost the rights', async () => {
    let member = true;
    const policy = new AdminPolicy({ tenantId: TEST_TENANT, adminUserIds: [], adminGroupId: ADMIN_GROUP, groupMembership: { isMember: async () => member } });
    const chat = channel(probeMain({}, { adminOnly: true }, new AccessGuard(policy, { recordRepeated: async () => undefined }, silentLogger(), async () => false)));
    await chat.send(says(ALICE, 'tokens')).assertReply('Which Apple ID manages this token?');
    member = false;
    await chat
      .send({ type: ActivityTypes.Message, value: { choice: 'remove', ref: 'r' }, from: ALICE })
      .assertReply(NOT_ADMIN_MESSAGE)
      .send(says(ALICE, 'alice@example.com'))
      .assertReply((r) => assert.match(textOf(r), /don't know that command/, 'the stack was cleared'));
  });

  it('keeps a group answer at most five minutes, whatever the configuration asks', async () => {
    let now = 0;
    let calls = 0;
    const cache = new CachedGroupMembership(
      {
        isMember: async () => {
          calls += 1;
          return true;
        },
      },
      { ttlMs: 24 * HOUR, now: () => now },
    );
    await cache.isMember('u', 'g');
    now = 5 * 60_000 - 1;
    await cache.isMember('u', 'g');
    assert.equal(calls, 1);
    now = 5 * 60_000;
    await cache.isMember('u', 'g');
    assert.equal(calls, 2, 'asked again once five minutes passed');
  });
});

describe('remove token: an admin removed mid-flow (test adapter, sandbox, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  it('refuses the confirmation with the admin message and keeps the token', async () => {
    const admins = new Set([ADMIN]);
    // The directory answers through the same five-minute cache as production.
    let now = Date.now();
    const membership = new CachedGroupMembership({ isMember: async (user) => admins.has(user) }, { now: () => now });
    const policy = new AdminPolicy({ tenantId: TEST_TENANT, adminUserIds: [], adminGroupId: ADMIN_GROUP, groupMembership: membership });
    const flows = tokenFlows({ tokens: env.tokens, reader: new TokenFileReader({ production: false }) });
    const bot = dialogBot(new MainDialog(flows, new AccessGuard(policy, env.store.audit, silentLogger(), async () => false)));
    const chat = new TestAdapter((context) => bot.run(context), {
      channelId: 'msteams',
      from: { id: '29:admin', name: 'Alex Wilber', aadObjectId: ADMIN },
      conversation: { id: 'conv-demoted', isGroup: false, conversationType: 'personal', tenantId: TEST_TENANT, name: 'chat' },
    });
    const org = env.sandbox.state.addOrganisation({ orgName: 'Fabrikam College' });
    const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
    const token = await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org)), {
      appleId: 'a@fabrikam.example',
      accountType: 'education',
      takeOver: false,
    });

    await chat.send('remove fabrikam').assertReply((r) => assert.ok(cardJson(r).includes('Remove Fabrikam College?')));
    admins.delete(ADMIN);
    now += 5 * 60_000;
    await chat
      .send('yes')
      .assertReply(NOT_ADMIN_MESSAGE)
      .send('yes')
      .assertReply((r) => assert.match(textOf(r), /don't know that command/, 'the flow is gone'));

    assert.equal((await env.tokens.listTokens(TEST_TENANT)).filter((t) => t.id === token.id).length, 1, 'the token still exists');
    const audit = await env.store.audit.listForTarget(TEST_TENANT, 'user', ADMIN);
    assert.ok(audit.some((a) => a.action === 'access.refused' && (a.details as { command?: string } | undefined)?.command === 'remove'));
    await env.tokens.remove(actor, token.id);
  });
});
