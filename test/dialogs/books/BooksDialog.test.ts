import { strict as assert } from 'node:assert';
import { ActivityTypes, TestAdapter, type Activity } from 'botbuilder';
import { AccessGuard } from '../../../dialogs/AccessGuard';
import { MainDialog } from '../../../dialogs/MainDialog';
import { bookFlows } from '../../../dialogs/books/bookFlows';
import { INVALID_BOOKS_REQUEST } from '../../../dialogs/books/BooksDialog';
import { AdminPolicy } from '../../../services/auth/AdminPolicy';
import { silentLogger } from '../../../services/logging/logger';
import { BookCatalog } from '../../../services/books/BookCatalog';
import type { Store } from '../../../services/store/Store';
import { TENANT, useEmbeddedCosmos } from '../../services/store/fixtures';
import { seedBooks } from '../../services/books/seedBooks';
import { dialogBot } from '../../support/dialogBot';

const ADMIN = '00000000-0000-0000-0000-0000000000020';
const NON_ADMIN = '00000000-0000-0000-0000-0000000000021';

type Json = Record<string, unknown>;

function card(activity: Partial<Activity>): Json {
  const content: unknown = activity.attachments?.[0]?.content;
  assert.ok(content && typeof content === 'object', 'reply is a card');
  return content as Json;
}

/** Every object in the card, depth first, to find actions and facts wherever the template put them. */
function walk(node: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(node)) for (const n of node) walk(n, out);
  else if (node && typeof node === 'object') {
    out.push(node as Json);
    for (const v of Object.values(node)) walk(v, out);
  }
  return out;
}

function button(activity: Partial<Activity>, title: string): Json | undefined {
  const action = walk(card(activity)).find((n) => n.type === 'Action.Submit' && n.title === title);
  return action?.data as Json | undefined;
}

const texts = (activity: Partial<Activity>) => walk(card(activity)).filter((n) => n.type === 'TextBlock').map((n) => String(n.text));

describe('books dialog (test adapter, embedded Cosmos)', function () {
  this.timeout(30_000);
  const cosmos = useEmbeddedCosmos();
  let store: Store;

  before(async () => {
    store = await cosmos.newStore();
    await seedBooks(store);
  });

  function adapter(options: { user?: string; conversationType?: string } = {}): TestAdapter {
    const policy = new AdminPolicy({ tenantId: TENANT, adminUserIds: [ADMIN] });
    const flows = bookFlows({ catalog: new BookCatalog(store) });
    const bot = dialogBot(new MainDialog(flows, new AccessGuard(policy, store.audit, silentLogger(), async () => false)));
    return new TestAdapter((context) => bot.run(context), {
      channelId: 'msteams',
      from: { id: 'user-1', name: 'Alex Wilber', aadObjectId: options.user ?? ADMIN },
      conversation: { id: 'conv-1', isGroup: false, conversationType: options.conversationType ?? 'personal', tenantId: TENANT, name: 'chat' },
    });
  }

  it('shows a page of books with cover, author, token, license counts and paging', async () => {
    let first: Partial<Activity> = {};
    const chat = adapter();
    await chat.send('books').assertReply((r) => {
      first = r;
    });
    const c = card(first);
    assert.equal(c.version, '1.5');
    assert.ok(texts(first).includes('Books'));
    assert.ok(texts(first).includes('Showing 1–10, more on the next page'));
    assert.ok(texts(first).includes('Title 001') && texts(first).includes('Title 010'));
    const nodes = walk(c);
    assert.ok(nodes.some((n) => n.type === 'Image' && String(n.url).includes('/2/100x100bb.jpg')), 'cover image');
    assert.ok(nodes.some((n) => n.type === 'Input.Text' && n.id === 'bookSearch'), 'search box');
    const facts = nodes.filter((n) => n.title !== undefined && 'value' in n);
    assert.ok(facts.length >= 40);
    assert.ok(facts.every((f) => typeof f.value === 'string'), 'FactSet values are strings');
    assert.ok(facts.some((f) => f.title === 'Token' && f.value === 'Alpha Academy'));
    assert.ok(facts.some((f) => f.title === 'Available' && f.value === '0 (none left)'), 'Title 007 has none left');
    assert.ok(texts(first).some((t) => t.startsWith('No licenses available')), 'highlighted');
    assert.equal(button(first, 'Previous page'), undefined);
    const next = button(first, 'Next page');
    assert.deepEqual(next, { command: 'books', args: { q: '', o: '10' } });

    // A click is built after its card arrived, as in Teams.
    let second: Partial<Activity> = {};
    await chat.send({ type: ActivityTypes.Message, value: next }).assertReply((r) => {
      second = r;
    });
    assert.ok(texts(second).includes('Showing 11–20, more on the next page'));
    assert.ok(texts(second).includes('Title 011'));
    const previous = button(second, 'Previous page');
    assert.deepEqual(previous, { command: 'books', args: { q: '', o: '0' } });
    await chat.send({ type: ActivityTypes.Message, value: previous }).assertReply((r) => assert.ok(texts(r).includes('Title 001')));
  });

  it('searches with "books <text>" and with the card search box, keeping the search on the next page', async () => {
    let page: Partial<Activity> = {};
    const chat = adapter();
    await chat.send('books Dickens').assertReply((r) => {
      page = r;
    });
    assert.ok(texts(page).includes('Books matching "Dickens"'));
    const next = button(page, 'Next page');
    assert.deepEqual(next, { command: 'books', args: { q: 'Dickens', o: '10' } });
    await chat.send({ type: ActivityTypes.Message, value: next }).assertReply((r) => assert.ok(texts(r).includes('Showing 11–20, more on the next page')));

    const search = button(page, 'Search');
    assert.deepEqual(search, { command: 'books', args: { search: '1' } });
    await chat
      .send({ type: ActivityTypes.Message, value: { ...search, bookSearch: 'title 29' } })
      .assertReply((r) => {
        assert.ok(texts(r).includes('Books matching "title 29"'));
        assert.ok(texts(r).includes('Title 290') && texts(r).includes('Title 299'));
        assert.ok(texts(r).includes('Showing 1–10'));
      })
      .send('books no such book')
      .assertReply((r) => assert.ok(texts(r).some((t) => t.startsWith('No books match "no such book"'))));
  });

  it('answers forged or invalid submissions clearly and lists nothing', async () => {
    await adapter()
      .send({ type: ActivityTypes.Message, value: { command: 'books', args: { o: '-5' } } })
      .assertReply(INVALID_BOOKS_REQUEST)
      .send({ type: ActivityTypes.Message, value: { command: 'books', args: { o: '10', tenant: 'other-tenant' } } })
      .assertReply(INVALID_BOOKS_REQUEST)
      .send({ type: ActivityTypes.Message, value: { command: 'books', args: { search: '1' }, bookSearch: { $ne: null } } })
      .assertReply(INVALID_BOOKS_REQUEST)
      .send({ type: ActivityTypes.Message, value: { command: 'books', args: { o: '1'.repeat(300) } } })
      .assertReply('Type **help** to see the commands I understand.');
  });

  it('is for admins only, in any conversation', async () => {
    await adapter({ user: NON_ADMIN }).send('books').assertReply((r) => assert.match(String(r.text), /only VPP Books admins/));
    await adapter({ conversationType: 'channel' }).send('books').assertReply((r) => assert.ok(texts(r).includes('Books')));
  });
  it('shows a page or a search in place of the card it was asked from, and as a new card when that cannot be updated', async () => {
    const chat = adapter();
    const updates: Array<Partial<Activity>> = [];
    let refuse = false;
    chat.updateActivity = async (_context, activity) => {
      if (refuse) throw new Error('Teams: the message can no longer be edited');
      updates.push(activity);
      return { id: String(activity.id) };
    };
    let first: Partial<Activity> = {};
    await chat.send('books').assertReply((r) => (first = r));
    const next = button(first, 'Next page');
    // Teams sends the card's activity id as replyToId with a click on it.
    await chat.send({ type: ActivityTypes.Message, value: next, replyToId: first.id }).assertNoReply('no new message: the card was replaced', 100);
    assert.equal(updates.length, 1);
    assert.equal(updates[0]?.id, first.id, 'the card the click came from');
    assert.ok(texts(updates[0] ?? {}).includes('Showing 11–20, more on the next page'));

    await chat.send({ type: ActivityTypes.Message, value: { ...button(first, 'Search'), bookSearch: 'title 29' }, replyToId: first.id }).assertNoReply('no new message: the card was replaced', 100);
    assert.ok(texts(updates[1] ?? {}).includes('Books matching "title 29"'));

    refuse = true;
    await chat.send({ type: ActivityTypes.Message, value: next, replyToId: first.id }).assertReply((r) => assert.ok(texts(r).includes('Showing 11–20, more on the next page')));
    assert.equal(updates.length, 2, 'nothing more was replaced');
    // Typed, the command always answers with a new card.
    refuse = false;
    await chat.send('books').assertReply((r) => assert.ok(texts(r).includes('Books')));
    assert.equal(updates.length, 2);
  });
});
