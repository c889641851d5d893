import { strict as assert } from 'node:assert';
import { TestAdapter, type Activity, type TurnContext } from 'botbuilder';
import { AccessGuard } from '../../../dialogs/AccessGuard';
import { MainDialog } from '../../../dialogs/MainDialog';
import { memberFlows } from '../../../dialogs/members/memberFlows';
import { NO_GET_MESSAGE, STALE_GET_MESSAGE } from '../../../dialogs/members/myBooksCommand';
import { claimAnswer } from '../../../dialogs/members/claimAnswers';
import { myBooksCard } from '../../../cards/myBooksCards';
import { AdminPolicy } from '../../../services/auth/AdminPolicy';
import { silentLogger } from '../../../services/logging/logger';
import type { ClaimOutcome, ClaimingMember } from '../../../services/assignments/claimModel';
import type { IntuneShelf, MemberBookPort } from '../../../services/assignments/memberBooks';
import type { AuditEntry, AuditLog } from '../../../services/store/repositories/AuditLog';

const TENANT = '00000000-0000-0000-0000-0000000000001';
const ADMIN = '00000000-0000-0000-0000-0000000000020';
const MEMBER = '00000000-0000-0000-0000-0000000000022';
const APPROVER = '00000000-0000-0000-0000-0000000000025';
const book = { tokenId: 'tok-1', runId: 'run|r1', adamId: '1447212493', pricingParam: 'STDQ', title: 'Emma' };

/** Records what `my books` asked of the claim service. */
class FakeClaims implements MemberBookPort {
  readonly claims: Array<{ tenantId: string; member: ClaimingMember; ref: { tokenId: string; runId: string } }> = [];
  answer: ClaimOutcome = { outcome: 'licensed', book };

  async booksFor(): Promise<{ offered: []; yours: [] }> {
    return { offered: [], yours: [] };
  }

  async claim(tenantId: string, member: ClaimingMember, ref: { tokenId: string; runId: string }): Promise<ClaimOutcome> {
    this.claims.push({ tenantId, member, ref });
    return this.answer;
  }
}

class RecordingAudit {
  readonly entries: AuditEntry[] = [];
  async record(entry: AuditEntry): Promise<void> {
    this.entries.push(entry);
  }
  async recordRepeated(_key: string, entry: AuditEntry): Promise<void> {
    this.entries.push(entry);
  }
}

/** Intune mode's books: what Intune delivers, and no Get. */
class FakeIntuneBooks implements MemberBookPort {
  readonly asked: string[] = [];
  async booksFor(tenantId: string, member: { aadObjectId: string }): Promise<IntuneShelf> {
    this.asked.push(`${tenantId}|${member.aadObjectId}`);
    return {
      delivery: 'intune',
      available: [{ tokenId: 'tok-1', adamId: '1', pricingParam: 'STDQ', title: 'Emma', author: 'Jane Austen' }],
      required: [{ tokenId: 'tok-1', adamId: '2', pricingParam: 'STDQ', title: 'Middlemarch' }],
    };
  }
}

function setUp(books?: MemberBookPort): { chat: (from: string, tenantId?: string, conversationType?: string) => TestAdapter; claims: FakeClaims; audit: RecordingAudit } {
  const claims = new FakeClaims();
  const audit = new RecordingAudit();
  const policy = new AdminPolicy({ tenantId: TENANT, adminUserIds: [ADMIN] });
  const guard = new AccessGuard(policy, audit as unknown as AuditLog, silentLogger(), async (_t, id) => id === APPROVER);
  const main = new MainDialog(memberFlows({ claims: books ?? claims }), guard);
  const chat = (from: string, tenantId = TENANT, conversationType = 'personal') =>
    new TestAdapter(
      async (context: TurnContext) => {
        const accessor = { get: async () => ({ dialogStack: [] }), set: async () => undefined, delete: async () => undefined };
        await main.run(context, accessor as never);
      },
      { channelId: 'msteams', from: { id: `29:${from}`, name: 'Adele Vance', aadObjectId: from }, conversation: { id: 'c', isGroup: false, conversationType, tenantId, name: 'c' } },
    );
  return { chat, claims, audit };
}

const cardOf = (activity: Partial<Activity>): string => JSON.stringify(activity.attachments?.[0]?.content ?? {});
const getClick = (tokenId: unknown, runId: unknown): Partial<Activity> => ({ type: 'message', value: { command: 'my books', tokenId, args: { get: runId } } });

describe('my books in chat (MainDialog, AccessGuard, the card)', () => {
  it('a Get claims for whoever Teams says clicked, from the run the button names, and answers in plain words', async () => {
    const { chat, claims } = setUp();
    await chat(MEMBER)
      .send(getClick('tok-1', 'run|r1'))
      .assertReply((r) => assert.match(String(r.text), /^"Emma" is yours\. Open the \*\*Books\*\* app/));
    assert.deepEqual(claims.claims, [{ tenantId: TENANT, member: { aadObjectId: MEMBER, displayName: 'Adele Vance' }, ref: { tokenId: 'tok-1', runId: 'run|r1' } }]);
  });

  it('a Get with data no run could have changes nothing', async () => {
    const { chat, claims } = setUp();
    await chat(MEMBER).send(getClick('tok-1', 'a/b?c')).assertReply(STALE_GET_MESSAGE);
    assert.equal(claims.claims.length, 0);
  });

  it('is refused, and audited, for someone of another tenant; only in a personal chat', async () => {
    const { chat, claims, audit } = setUp();
    await chat(MEMBER, 'another-tenant').send('my books').assertReply((r) => assert.match(String(r.text), /only serves its own organisation/));
    assert.equal(audit.entries.length, 1);
    assert.deepEqual([audit.entries[0]?.action, audit.entries[0]?.details?.command], ['access.refused', 'my books']);
    await chat(MEMBER, TENANT, 'channel').send('my books').assertReply((r) => assert.match(String(r.text), /only in your personal chat/));
    assert.equal(claims.claims.length, 0);
  });

  it('help: the member help for members (approvals too for an approver), the command list for admins', async () => {
    const { chat, audit } = setUp();
    await chat(MEMBER)
      .send('help')
      .assertReply((r) => {
        assert.match(cardOf(r), /"title":"my books"/);
        assert.doesNotMatch(cardOf(r), /approvals|VPP Books: commands/);
      });
    await chat(APPROVER).send('help').assertReply((r) => assert.match(cardOf(r), /"title":"approvals"/));
    await chat(ADMIN).send('help').assertReply((r) => assert.match(cardOf(r), /VPP Books: commands/));
    assert.equal(audit.entries.length, 0, 'help refuses nobody');
  });

  it('the card has a Get button for books to get only, and a Join button for a book waiting on the invitation', () => {
    const card = JSON.stringify(
      myBooksCard({
        offered: [
          { tokenId: 'tok-1', runId: 'run|a', title: 'Emma', status: 'offered' },
          { tokenId: 'tok-1', runId: 'run|b', title: 'Persuasion', status: 'waiting' },
        ],
        yours: [{ tokenId: 'tok-1', title: 'Middlemarch', status: 'joinVpp', invitationUrl: 'https://vpp.example/invite/1' }],
      }),
    );
    assert.equal(card.match(/"title":"Get"/g)?.length, 1);
    assert.match(card, /"data":\{"command":"my books","tokenId":"tok-1","args":\{"get":"run\|a"\}\}/);
    assert.match(card, /the admins were asked for more/);
    assert.match(card, /"type":"Action.OpenUrl","title":"Join","url":"https:\/\/vpp.example\/invite\/1"/);
  });

  it('says each outcome plainly', () => {
    assert.match(claimAnswer({ outcome: 'licensed', book, invitationUrl: 'https://vpp.example/i' }), /First join your organisation's Apple volume purchasing programme .*https:\/\/vpp\.example\/i/);
    assert.match(claimAnswer({ outcome: 'budgetUsedUp', book, topUp: 'asked' }), /are taken, so you do not have it yet\. I asked the admins for more/);
    assert.match(claimAnswer({ outcome: 'budgetUsedUp', book, topUp: 'notAsked', problem: 'nobody can approve' }), /could not ask the admins for more \(nobody can approve\)/);
    assert.match(claimAnswer({ outcome: 'notInGroup', book }), /not in them\. Nothing was changed/);
    assert.match(claimAnswer({ outcome: 'onItsWay', book }), /I will tell you here/);
  });

  describe('in Intune mode', () => {
    it('lists the books of their groups with where to get each, and no Get button', async () => {
      const books = new FakeIntuneBooks();
      const { chat } = setUp(books);
      await chat(MEMBER)
        .send('my books')
        .assertReply((r) => {
          const card = cardOf(r);
          assert.doesNotMatch(card, /"title":"Get"|Action\.Submit","title":"Get/);
          assert.match(card, /"text":"Available to you in Company Portal"/);
          assert.match(card, /"text":"📲 Open Company Portal on your iPad or iPhone and install it from there\."/);
          assert.match(card, /"text":"Required for you"/);
          assert.match(card, /"text":"📲 Required: installs on your managed iPad or iPhone by itself\."/);
          assert.doesNotMatch(card, /Installed for you/, 'Intune is not asked whether it is installed, so the card does not say it is');
        });
      assert.deepEqual(books.asked, [`${TENANT}|${MEMBER}`]);
    });

    it('answers a Get click (an old card, or forged data) by saying Intune delivers, and claims nothing', async () => {
      const { chat, claims } = setUp(new FakeIntuneBooks());
      await chat(MEMBER).send(getClick('tok-1', 'run|r1')).assertReply(NO_GET_MESSAGE);
      assert.equal(claims.claims.length, 0);
    });

    it('the card puts each intent in its own section, in order, and says so when nothing is assigned', () => {
      const card = myBooksCard({
        delivery: 'intune',
        available: [{ tokenId: 't', title: 'Emma *1*' }],
        required: [{ tokenId: 't', title: 'Middlemarch', coverUrl: 'https://covers.example/m.png' }],
      });
      const json = JSON.stringify(card);
      const lines: string[] = json.match(/"text":"[^"]*"/g) ?? [];
      const at = (text: string): number => lines.indexOf(`"text":"${text}"`);
      assert.ok(at('Available to you in Company Portal') >= 0);
      assert.ok(at('Available to you in Company Portal') < at('Emma \\\\*1\\\\*'), 'the Available book, escaped, under its heading');
      assert.ok(at('Emma \\\\*1\\\\*') < at('Required for you') && at('Required for you') < at('Middlemarch'));
      assert.match(json, /"altText":"Cover of Middlemarch"/);
      const empty = JSON.stringify(myBooksCard({ delivery: 'intune', available: [], required: [] }));
      assert.match(empty, /No books are assigned to you right now/);
      assert.doesNotMatch(empty, /Available to you|Required for you/);
    });
  });
});
