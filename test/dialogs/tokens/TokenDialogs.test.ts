import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ActivityTypes, TestAdapter, type Activity } from 'botbuilder';
import { MainDialog, PERSONAL_CHAT_ONLY_MESSAGE } from '../../../dialogs/MainDialog';
import { AccessGuard } from '../../../dialogs/AccessGuard';
import { tokenFlows } from '../../../dialogs/tokens/tokenFlows';
import { ASK_FOR_FILE, otherMdmNotice, PASTED_TOKEN_WARNING } from '../../../dialogs/tokens/UploadTokenDialog';
import { GAVE_UP_ON_APPLE_ID } from '../../../dialogs/tokens/AppleIdPrompt';
import { OTHER_MDM } from '../../../local/appleSandbox/demoData';
import { TOKEN_LIKE_MESSAGE } from '../../../services/common/chatText';
import { AdminPolicy } from '../../../services/auth/AdminPolicy';
import { silentLogger } from '../../../services/logging/logger';
import { encodeVppTokenFile } from '../../../services/apple/VppTokenFile';
import { TokenFileReader } from '../../../services/tokens/TokenFileReader';
import { TEST_MDM, TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import { dialogBot } from '../../support/dialogBot';

const TOKENS_DIR = path.resolve(__dirname, '../../../local/appleSandbox/tokens');
const demo = (name: string) => readFileSync(path.join(TOKENS_DIR, name), 'utf8');
const ADMIN = '00000000-0000-0000-0000-0000000000020';
const NON_ADMIN = '00000000-0000-0000-0000-0000000000021';

function cardJson(activity: Partial<Activity>): string {
  return JSON.stringify(activity.attachments?.[0]?.content ?? {});
}

function textOf(activity: Partial<Activity>): string {
  return String(activity.text ?? '');
}

/** An inspector for assertReply: the reply's text matches `pattern`. */
function says(pattern: RegExp): (activity: Partial<Activity>) => void {
  return (activity) => assert.match(textOf(activity), pattern);
}

/** The `ref` a card's choice buttons carry, as a real click would send it back. */
function cardRef(activity: Partial<Activity>): string {
  const match = /"ref":"([^"]+)"/.exec(cardJson(activity));
  assert.ok(match?.[1], 'card has choice buttons with a ref');
  return match[1];
}

describe('token dialogs (test adapter, sandbox, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  let fileServer: http.Server;
  let fileUrl: string;

  before(async () => {
    await env.start();
    fileServer = http.createServer((req, res) => {
      if (req.url === '/files/demo-valid.vpptoken') res.end(demo('demo-valid.vpptoken'));
      else if (req.url === '/files/huge') res.end('A'.repeat(200_000));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => fileServer.listen(0, '127.0.0.1', () => r()));
    fileUrl = `http://127.0.0.1:${(fileServer.address() as AddressInfo).port}/files`;
  });
  after(async () => {
    fileServer.closeAllConnections();
    await new Promise<void>((r) => fileServer.close(() => r()));
    await env.stop();
  });
  afterEach(async () => {
    const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
    for (const token of await env.tokens.listTokens(TEST_TENANT)) await env.tokens.remove(actor, token.id);
  });

  function adapter(options: { user?: string; conversationType?: string; tenantId?: string } = {}): TestAdapter {
    const policy = new AdminPolicy({ tenantId: TEST_TENANT, adminUserIds: [ADMIN] });
    const flows = tokenFlows({ tokens: env.tokens, reader: new TokenFileReader({ production: false }) });
    const bot = dialogBot(new MainDialog(flows, new AccessGuard(policy, env.store.audit, silentLogger(), async () => false)));
    return new TestAdapter((context) => bot.run(context), {
      channelId: 'msteams',
      from: { id: 'user-1', name: 'Alex Wilber', aadObjectId: options.user ?? ADMIN },
      conversation: { id: 'conv-1', isGroup: false, conversationType: options.conversationType ?? 'personal', tenantId: options.tenantId ?? TEST_TENANT, name: 'chat' },
    });
  }

  it('uploads a pasted token: Apple Account, account type, preview, save, then lists it', async () => {
    let accountRef = '';
    let previewRef = '';
    const chat = adapter();
    await chat
      .send('upload token')
      .assertReply(ASK_FOR_FILE)
      .send(demo('demo-valid.vpptoken'))
      .assertReply(PASTED_TOKEN_WARNING)
      .assertReply((r) => assert.match(textOf(r), /token is for \*\*Northwind Academy\*\*.*Which Apple Account/))
      .send('not an email')
      .assertReply(says(/^"not an email" is not an Apple Account: it has no @\. .*\(try 2 of 3\)/))
      .send('vpp-admin@northwind.example')
      .assertReply((r) => {
        assert.ok(cardJson(r).includes('Apple Business Manager or an Apple School Manager'));
        accountRef = cardRef(r);
      })
      .send({ type: ActivityTypes.Message, value: { choice: 'education', ref: 'some-older-card' } })
      .assertReply((r) => assert.match(textOf(r), /choose \*\*Business\*\* or \*\*Education\*\*/, 'a click from another card does not count'));
    // A click is built after its card arrived, as in Teams: its ref comes from that card.
    await chat
      .send({ type: ActivityTypes.Message, value: { choice: 'education', ref: accountRef } })
      .assertReply((r) => {
        const card = cardJson(r);
        for (const fact of ['Northwind Academy', 'Books found', '"value":"39"', 'vpp-admin@northwind.example', 'Education (Apple School Manager)', '30 Jun 2036']) {
          assert.ok(card.includes(fact), `preview shows ${fact}`);
        }
        assert.ok(!card.includes('managed by'), 'no other MDM');
        previewRef = cardRef(r);
      });
    await chat
      .send({ type: ActivityTypes.Message, value: { choice: 'save', ref: previewRef } })
      .assertReply((r) => assert.match(textOf(r), /^Saved \*\*Northwind Academy – Main Campus\*\*\. It expires on 30 Jun 2036/))
      .send('tokens')
      .assertReply((r) => {
        const card = cardJson(r);
        assert.ok(card.includes('VPP tokens (1)'));
        assert.ok(card.includes('vpp-admin@northwind.example'));
        assert.ok(card.includes('"title":"Renew"'));
      });
    const [token] = await env.tokens.listTokens(TEST_TENANT);
    assert.equal(token?.accountType, 'education');
  });

  it('downloads a Teams file attachment instead of pasted text', async () => {
    await adapter()
      .send('upload token')
      .assertReply(ASK_FOR_FILE)
      .send({
        type: ActivityTypes.Message,
        text: '',
        attachments: [
          { contentType: 'text/html', content: '<div></div>' },
          { contentType: 'application/vnd.microsoft.teams.file.download.info', name: 'northwind.vpptoken', content: { downloadUrl: `${fileUrl}/demo-valid.vpptoken`, fileType: 'vpptoken' } },
        ],
      })
      .assertReply((r) => assert.match(textOf(r), /Which Apple Account/, 'no pasted-token warning for a file'));
  });

  it('asks again after each refused file, saying what was wrong, and stops after the third, saving nothing', async () => {
    const malformed = demo('demo-malformed.vpptoken');
    const expired = demo('demo-expired.vpptoken');
    const noFileRepeated = (r: Partial<Activity>) => {
      for (const file of [malformed, expired]) assert.ok(!textOf(r).includes(file.trim().slice(0, 24)), 'the reply does not repeat the file');
    };
    await adapter()
      .send('upload token')
      .assertReply(ASK_FOR_FILE)
      .send({ type: ActivityTypes.Message, attachments: [{ contentType: 'application/vnd.microsoft.teams.file.download.info', content: { downloadUrl: `${fileUrl}/huge` } }] })
      .assertReply(says(/larger than 16 KB/))
      .assertReply(says(/^Send me the \*\*\.vpptoken\*\* file again: .*\(try 2 of 3\)/))
      // A command typed meanwhile is no file: the question again, not a refusal, and no try used.
      .send('upload token')
      .assertReply(says(/^I still need the token file/))
      .send(expired)
      .assertReply((r) => {
        assert.match(textOf(r), /expired/i);
        noFileRepeated(r);
      })
      .assertReply(says(/\(try 3 of 3\)/))
      .send(malformed)
      .assertReply((r) => {
        assert.match(textOf(r), /incomplete|not a VPP token/);
        noFileRepeated(r);
      })
      .assertReply(says(/^I could not use any of the 3 files you sent, so I stopped here; nothing was saved\. Type \*\*upload token\*\* to start again/))
      // The flow is over: a paste now is a message like any other, and is not taken as the file.
      .send(demo('demo-valid.vpptoken'))
      .assertReply(TOKEN_LIKE_MESSAGE);
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
  });

  it('goes on with a good paste after a bad one', async () => {
    await adapter()
      .send('upload token')
      .assertReply(ASK_FOR_FILE)
      .send(demo('demo-malformed.vpptoken'))
      .assertReply(says(/incomplete|not a VPP token/))
      .assertReply(says(/\(try 2 of 3\)/))
      .send(demo('demo-valid.vpptoken'))
      .assertReply(PASTED_TOKEN_WARNING)
      .assertReply(says(/token is for \*\*Northwind Academy\*\*.*Which Apple Account/));
  });

  it('asks for the Apple Account again, saying what is wrong, and stops after the third wrong answer', async () => {
    await adapter()
      .send('upload token')
      .assertReply(ASK_FOR_FILE)
      .send(demo('demo-valid.vpptoken'))
      .assertReply(PASTED_TOKEN_WARNING)
      .assertReply(says(/Which Apple Account/))
      .send('vpp admin@northwind.example')
      .assertReply(says(/^"vpp admin@northwind\.example" is not an Apple Account: an e-mail address has no spaces\. .*\(try 2 of 3\)/))
      .send(demo('demo-valid.vpptoken'))
      .assertReply((r) => {
        assert.match(textOf(r), /^That looks like the VPP token itself, not an Apple Account, so I will not repeat it here\. .*\(try 3 of 3\)/);
        assert.ok(!textOf(r).includes(demo('demo-valid.vpptoken').trim().slice(0, 24)));
      })
      .send('vpp-admin@')
      .assertReply(GAVE_UP_ON_APPLE_ID)
      .send('vpp-admin@northwind.example')
      .assertReply(says(/don't know that command/), 'the flow is over');
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
  });

  it('names the other MDM and saves nothing when the admin cancels', async () => {
    let ref = '';
    const chat = adapter();
    await chat
      .send('upload token')
      .assertReply(ASK_FOR_FILE)
      .send(demo('demo-other-mdm.vpptoken'))
      .assertReply(PASTED_TOKEN_WARNING)
      // Named as soon as the file is read, with what saving would do, before any question.
      .assertReply(otherMdmNotice('Contoso MDM'))
      .assertReply(says(/Which Apple Account/))
      .send('admin@fabrikam.example')
      .assertReply(() => undefined)
      .send('business')
      .assertReply((r) => {
        const card = cardJson(r);
        assert.ok(card.includes('This token is managed by Contoso MDM'));
        assert.ok(card.includes('Take control from Contoso MDM'));
        ref = cardRef(r);
      })
      .send('save')
      .assertReply(says(/take control/));
    await chat
      .send({ type: ActivityTypes.Message, value: { choice: 'cancel', ref } })
      .assertReply('Cancelled. Nothing was saved and the token stays with Contoso MDM.');
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
  });

  it('takes control only on the confirmation, and says from whom', async () => {
    const fabrikam = [...env.sandbox.state.organisations.values()].find((o) => o.mdmInfo?.name === OTHER_MDM.name);
    assert.ok(fabrikam, 'the sandbox seeds an organisation held by another MDM');
    let ref = '';
    try {
      const chat = adapter();
      await chat
        .send('upload token')
        .assertReply(ASK_FOR_FILE)
        .send(demo('demo-other-mdm.vpptoken'))
        .assertReply(PASTED_TOKEN_WARNING)
        .assertReply((r) => {
          assert.match(textOf(r), /^This token is in use by \*\*Contoso MDM\*\*\. .*saving it here takes control from Contoso MDM/);
          // Named from a read: Apple still has Contoso MDM as the holder.
          assert.equal(fabrikam.mdmInfo?.id, OTHER_MDM.id);
        })
        .assertReply(says(/Which Apple Account/))
        .send('admin@fabrikam.example')
        .assertReply(() => undefined)
        .send('education')
        .assertReply((r) => {
          ref = cardRef(r);
        });
      assert.equal(fabrikam.mdmInfo?.id, OTHER_MDM.id, 'nothing claimed before the confirmation');
      await chat
        .send({ type: ActivityTypes.Message, value: { choice: 'takeover', ref } })
        .assertReply(says(/^Saved \*\*Fabrikam Public Library – Downtown\*\*\. VPP Books took control of it from \*\*Contoso MDM\*\*, which no longer manages it\. It expires on/));
      assert.equal(fabrikam.mdmInfo?.id, TEST_MDM.id);
      assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 1);
    } finally {
      // The sandbox is shared by this file's tests: Contoso MDM holds the token again for the others.
      env.sandbox.state.claim(fabrikam, OTHER_MDM);
    }
  });

  it('finds a token by its location typed with a hyphen for Apple\'s en dash, in any case and spacing', async () => {
    const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
    await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, demo('demo-valid.vpptoken')), { appleId: 'a@northwind.example', accountType: 'education', takeOver: false });
    const annex = env.sandbox.state.addOrganisation({ orgName: 'Northwind Academy', locationName: 'Northwind Academy – Annex' });
    await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(annex)), { appleId: 'a@northwind.example', accountType: 'education', takeOver: false });
    let pickRef = '';
    const chat = adapter();
    await chat
      .send('renew northwind academy -  MAIN campus')
      .assertReply(says(/new \*\*\.vpptoken\*\* file for \*\*Northwind Academy – Main Campus\*\*/))
      .send('cancel')
      .assertReply(says(/^Cancelled/))
      .send('remove northwind')
      .assertReply((r) => {
        assert.ok(cardJson(r).includes('Which token do you want to remove?'));
        pickRef = cardRef(r);
      });
    assert.ok(pickRef);
    // Typed at the picker instead of clicking: the same name, spelt with a hyphen.
    await chat
      .send('Northwind Academy - Annex')
      .assertReply((r) => assert.ok(cardJson(r).includes('Remove Northwind Academy – Annex?')))
      .send('keep')
      .assertReply(says(/^Kept/))
      .send('remove Northwind Academy / Main')
      .assertReply('No token matches "Northwind Academy / Main". Type **tokens** to see the tokens and their names.');
  });

  it('lets cancel leave the upload at any step', async () => {
    await adapter().send('upload token').assertReply(ASK_FOR_FILE).send('cancel').assertReply(says(/^Cancelled/)).send('tokens').assertReply((r) => assert.ok(cardJson(r).includes('VPP tokens (0)')));
  });

  it('refuses a non-admin politely and audits it', async () => {
    await adapter({ user: NON_ADMIN }).send('upload token').assertReply(says(/only VPP Books admins/)).send('tokens').assertReply(says(/only VPP Books admins/));
    const audit = await env.store.audit.listForTarget(TEST_TENANT, 'user', NON_ADMIN);
    assert.ok(audit.some((a) => a.action === 'access.refused' && a.outcome === 'refused'));
  });

  it('refuses a user from another tenant', async () => {
    await adapter({ tenantId: '99999999-9999-9999-9999-999999999999' }).send('tokens').assertReply(says(/another tenant/));
  });

  it('sends uploads from a channel to a personal chat, and lists tokens there', async () => {
    await adapter({ conversationType: 'channel' })
      .send('upload token')
      .assertReply(PERSONAL_CHAT_ONLY_MESSAGE)
      .send('tokens')
      .assertReply((r) => assert.ok(cardJson(r).includes('VPP tokens')));
  });

  it('answers read-only commands in a group chat and refuses changes there', async () => {
    await adapter({ conversationType: 'groupChat' })
      .send('tokens')
      .assertReply((r) => assert.ok(cardJson(r).includes('VPP tokens')))
      .send('remove lakeside')
      .assertReply(PERSONAL_CHAT_ONLY_MESSAGE);
  });

  it('renews by name and removes through the card buttons with a confirmation', async () => {
    const org = env.sandbox.state.addOrganisation({ orgName: 'Contoso High' });
    const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
    const token = await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org, { expiresAt: new Date('2027-02-01T00:00:00Z') })), {
      appleId: 'a@contoso.example',
      accountType: 'education',
      takeOver: false,
    });
    let removeRef = '';
    const chat = adapter();
    await chat
      .send('renew contoso')
      .assertReply(says(/new \*\*\.vpptoken\*\* file for \*\*Contoso High\*\*/))
      .send(env.sandbox.state.mintToken(org, { expiresAt: new Date('2028-02-01T00:00:00Z') }))
      .assertReply(PASTED_TOKEN_WARNING)
      .assertReply(says(/^Renewed \*\*Contoso High\*\*\. It now expires on 1 Feb 2028/))
      .send({ type: ActivityTypes.Message, value: { command: 'remove', tokenId: token.id } })
      .assertReply((r) => {
        assert.ok(cardJson(r).includes('Remove Contoso High?'));
        assert.ok(cardJson(r).includes('cannot be reclaimed'));
        removeRef = cardRef(r);
      })
      .send('keep')
      .assertReply('Kept **Contoso High**. Nothing was changed.')
      .send({ type: ActivityTypes.Message, value: { choice: 'remove', ref: 'stale' } })
      .assertReply(says(/no longer active/))
      .send({ type: ActivityTypes.Message, value: { command: 'remove', tokenId: token.id } })
      .assertReply((r) => {
        removeRef = cardRef(r);
      });
    await chat
      .send({ type: ActivityTypes.Message, value: { choice: 'remove', ref: removeRef } })
      .assertReply(says(/^Removed \*\*Contoso High\*\*/));
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
  });

  it('refuses to renew with a file for another location, and asks for the right one', async () => {
    const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
    const org = env.sandbox.state.addOrganisation({ orgName: 'Lakeside' });
    await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org)), { appleId: 'a@b.example', accountType: 'business', takeOver: false });
    const other = env.sandbox.state.addOrganisation({ orgName: 'Hillside' });
    await adapter()
      .send('renew lakeside')
      .assertReply(says(/Lakeside/))
      .send(env.sandbox.state.mintToken(other))
      .assertReply(says(/not "Lakeside"/))
      // Asked again for the same token, without asking which one.
      .assertReply(says(/^Send me the new \*\*\.vpptoken\*\* file for \*\*Lakeside\*\* .* again: .*\(try 2 of 3\)/))
      .send(env.sandbox.state.mintToken(org, { expiresAt: new Date('2028-02-01T00:00:00Z') }))
      .assertReply(PASTED_TOKEN_WARNING)
      .assertReply(says(/^Renewed \*\*Lakeside\*\*\. It now expires on 1 Feb 2028/));
  });

  describe('answers that are not what the question asks for', () => {
    it('re-asks without using a try for a typo or a question at the file prompt, suggesting the command it nearly is', async () => {
      await adapter()
        .send('upload token')
        .assertReply(ASK_FOR_FILE)
        .send('cancle')
        .assertReply(says(/^"cancle" is not a token file\. Did you mean \*\*cancel\*\*\? I still need the token file\./))
        .send('where do I download it?')
        .assertReply(`I still need the token file. ${ASK_FOR_FILE}`)
        .send('hlep')
        .assertReply(says(/^"hlep" is not a token file\. Did you mean \*\*help\*\*\?/))
        .send('{"token":"x"}')
        .assertReply(says(/not a VPP token/))
        // Only the paste was a try.
        .assertReply(says(/\(try 2 of 3\)/))
        .send('cancel')
        .assertReply(says(/^Cancelled/));
      assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
    });

    it('after Apple refuses the file, asks for another without advising a command the prompt will not take', async () => {
      const unknown = encodeVppTokenFile({ token: 'sandbox-unknown-token-abcdef0123456789', expDate: '2036-06-30T23:59:59+0000', orgName: 'Northwind Academy' });
      await adapter()
        .send('upload token')
        .assertReply(ASK_FOR_FILE)
        .send(unknown)
        .assertReply((r) => {
          assert.match(textOf(r), /^Apple does not accept this VPP token .*then send it to me\.$/);
          assert.doesNotMatch(textOf(r), /type \*\*/);
        })
        .assertReply(says(/^Send me the \*\*\.vpptoken\*\* file again: .*\(try 2 of 3\)/))
        .send(demo('demo-valid.vpptoken'))
        .assertReply(PASTED_TOKEN_WARNING)
        .assertReply(says(/Which Apple Account/));
    });

    it('after a renewal file for another location, tells a way to add it that works', async () => {
      const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
      const org = env.sandbox.state.addOrganisation({ orgName: 'Brookside' });
      await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org)), { appleId: 'a@b.example', accountType: 'business', takeOver: false });
      await adapter()
        .send('renew brookside')
        .assertReply(says(/Brookside/))
        .send(demo('demo-valid.vpptoken'))
        .assertReply(says(/not "Brookside"\. Send me the token downloaded for "Brookside"; to add this file as a token of its own instead, stop the renewal \(\*\*cancel\*\*\) and type \*\*upload token\*\*\.$/))
        .assertReply(says(/\(try 2 of 3\)/))
        .send('cancel')
        .assertReply(says(/^Cancelled/))
        .send('upload token')
        .assertReply(ASK_FOR_FILE);
    });

    it('does not count a command typed at the Apple Account prompt as a wrong answer', async () => {
      const waiting = (command: string) =>
        `I am still waiting for the Apple Account for this token, so I did not run **${command}**. Type the e-mail address of the Apple Account (for example vpp-admin@contoso.com), or **cancel** to stop this upload.`;
      await adapter()
        .send('upload token')
        .assertReply(ASK_FOR_FILE)
        .send(demo('demo-valid.vpptoken'))
        .assertReply(PASTED_TOKEN_WARNING)
        .assertReply(says(/Which Apple Account/))
        .send('upload token')
        .assertReply(waiting('upload token'))
        .send('sync')
        .assertReply(waiting('sync'))
        .send('status')
        .assertReply(waiting('status'))
        .send('not an email')
        .assertReply(says(/^"not an email" is not an Apple Account: it has no @\. .*\(try 2 of 3\)/))
        .send('vpp-admin@northwind.example')
        .assertReply((r) => assert.ok(cardJson(r).includes('Apple Business Manager or an Apple School Manager')));
    });
  });

  describe('answered cards', () => {
    /**
     * Every activity the bot replaced in place during the adapter's turns (updateActivity), by the id it
     * replaced, and how many times each was (one answer, one update).
     */
    function recordUpdates(chat: TestAdapter): Map<string, Partial<Activity>> {
      const updates = new Map<string, Partial<Activity>>();
      const update = chat.updateActivity.bind(chat);
      chat.updateActivity = async (context, activity) => {
        if (activity.id) {
          updateCounts.set(activity.id, (updateCounts.get(activity.id) ?? 0) + 1);
          updates.set(activity.id, activity);
        }
        return update(context, activity);
      };
      return updates;
    }
    const updateCounts = new Map<string, number>();

    function assertAnswered(updates: Map<string, Partial<Activity>>, card: Partial<Activity>, answered: RegExp): void {
      assert.ok(card.id, 'the question card has an id');
      const update = updates.get(card.id);
      assert.ok(update, `the card "${cardJson(card).slice(0, 80)}" was replaced in place`);
      assert.equal(updateCounts.get(card.id), 1, 'replaced once, not once per recognition');
      assert.match(cardJson(update), answered);
      assert.doesNotMatch(cardJson(update), /Action\.Submit/, 'no live buttons on the answered card');
    }

    it('replaces the account type and Take control cards with the answers, typed or clicked', async () => {
      const fabrikam = [...env.sandbox.state.organisations.values()].find((o) => o.mdmInfo?.name === OTHER_MDM.name);
      assert.ok(fabrikam);
      const chat = adapter();
      const updates = recordUpdates(chat);
      let accountCard: Partial<Activity> = {};
      let previewCard: Partial<Activity> = {};
      try {
        await chat
          .send('upload token')
          .assertReply(ASK_FOR_FILE)
          .send(demo('demo-other-mdm.vpptoken'))
          .assertReply(PASTED_TOKEN_WARNING)
          .assertReply(says(/Contoso MDM/))
          .assertReply(says(/Which Apple Account/))
          .send('admin@fabrikam.example')
          .assertReply((r) => {
            accountCard = r;
          })
          .send('education')
          .assertReply((r) => {
            previewCard = r;
          });
        assertAnswered(updates, accountCard, /Apple Business Manager or an Apple School Manager account\?.*✓ Education/);
        await chat.send({ type: ActivityTypes.Message, value: { choice: 'takeover', ref: cardRef(previewCard) }, replyToId: previewCard.id }).assertReply(says(/^Saved /));
        assertAnswered(updates, previewCard, /Save the VPP token for \*\*Fabrikam Public Library\*\* \(Fabrikam Public Library – Downtown\)\?.*✓ Take control from Contoso MDM/);
      } finally {
        env.sandbox.state.claim(fabrikam, OTHER_MDM);
      }
    });

    it('replaces the token picker and the remove confirmation with the answers', async () => {
      const actor = { tenantId: TEST_TENANT, aadObjectId: ADMIN };
      for (const locationName of ['Riverside – North', 'Riverside – South']) {
        const org = env.sandbox.state.addOrganisation({ orgName: 'Riverside', locationName });
        await env.tokens.saveUpload(actor, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org)), { appleId: 'a@b.example', accountType: 'business', takeOver: false });
      }
      const chat = adapter();
      const updates = recordUpdates(chat);
      let picker: Partial<Activity> = {};
      let confirm: Partial<Activity> = {};
      await chat
        .send('remove riverside')
        .assertReply((r) => {
          picker = r;
        })
        .send('Riverside - South')
        .assertReply((r) => {
          confirm = r;
        })
        .send('keep')
        .assertReply(says(/^Kept/));
      assertAnswered(updates, picker, /Which token do you want to remove\?.*✓ Riverside – South/);
      assertAnswered(updates, confirm, /Remove \*\*Riverside – South\*\*\?.*✓ Keep it/);
    });
  });
});
