import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { DEMO_GROUPS, DEMO_USERS } from '../../local/directory';
import { capturingLogger } from '../support/logCapture';
import { FakeConnector, cardText, teamsMessage, type CapturedActivity } from '../support/FakeConnector';
import { ASSIGN_MESSAGES } from '../../dialogs/assign/AssignBookDialog';
import { ALEX, PlaygroundChats, chatOf, click, conversationOf, refOf, type ChatUser } from '../support/PlaygroundChats';

const ADELE: ChatUser = { id: 'user-id-2', name: 'Adele Vance', aadObjectId: DEMO_USERS.adeleVance };

interface SearchBody {
  statusCode: number;
  type: string;
  value: { results?: Array<{ title: string; value: string }>; code?: string; message?: string };
}

/**
 * Teams' typeahead search (`Input.ChoiceSet` with `Data.Query`) against the real bot over HTTP: the
 * `application/search` invoke, the assign flow's search boxes, and cards replaced in place.
 */
describe('typeahead search and cards updated in place, over HTTP', function () {
  this.timeout(90_000);
  const connector = new FakeConnector();
  const { logger } = capturingLogger('warn');
  let dataDir: string;
  let app: RunningApplication;
  const chats = new PlaygroundChats(connector, () => app.url);
  const alex = (text: string | Record<string, unknown>, until?: (a: CapturedActivity) => boolean) => chats.say(ALEX, text, until);

  /** The invoke a typeahead box sends as `user` types; resolves with the HTTP status and the invoke response body. */
  async function search(user: ChatUser, value: unknown): Promise<{ status: number; body: SearchBody }> {
    const response = await chats.post({ ...teamsMessage(connector.url, ''), type: 'invoke', name: 'application/search', from: user, conversation: conversationOf(chatOf(user)), value });
    return { status: response.status, body: (await response.json()) as SearchBody };
  }
  const query = (dataset: string, queryText: string, skip = 0, top = 15) => ({ queryText, queryOptions: { skip, top }, dataset });
  const titles = (body: SearchBody) => (body.value.results ?? []).map((r) => r.title);
  /** The id the fake connector gave a message the bot posted (what Teams puts in replyToId of a click on it). */
  const idOf = (activity: CapturedActivity) => `reply-${connector.activities.indexOf(activity) + 1}`;
  const inAlexChat = (a: CapturedActivity) => a.conversation?.id === chatOf(ALEX);
  /** Alex's message, for turns that post nothing new (they replace a card). */
  async function post(text: string | Record<string, unknown>): Promise<void> {
    const body = typeof text === 'string' ? teamsMessage(connector.url, text) : { ...teamsMessage(connector.url, ''), ...text };
    assert.equal((await chats.post({ ...body, from: ALEX, conversation: conversationOf(chatOf(ALEX)) })).status, 200);
  }
  async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
    for (const start = Date.now(); !done(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for a card update');
    }
  }

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-search-http-'));
    await connector.start();
    app = await startApplication(
      loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, APPLE_STATUS_POLL_INTERVAL_MS: '20', RATE_LIMIT_USER_PER_MINUTE: '0', RATE_LIMIT_CONVERSATION_PER_MINUTE: '0' }),
      logger,
    );
    await chats.setUpDemoToken();
  });
  after(async () => {
    await app?.stop();
    await connector.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("finds the admin's books by title or author, with their licenses left and a value naming token and book", async () => {
    const { status, body } = await search(ALEX, query('books', 'austen'));
    assert.equal(status, 200);
    assert.equal(body.type, 'application/vnd.microsoft.search.searchResponse');
    assert.deepEqual(titles(body).sort(), ['Emma · Jane Austen · 22 licenses left', 'Pride and Prejudice · Jane Austen · 106 licenses left', 'Sense and Sensibility · Jane Austen · 25 licenses left']);
    for (const result of body.value.results ?? []) assert.match(result.value, /^[^/]+\/[^/]+$/, 'token id / book id');
    assert.deepEqual(titles((await search(ALEX, query('books', 'tale of two'))).body), ['A Tale of Two Cities · Charles Dickens · no license left']);
    assert.deepEqual(titles((await search(ALEX, query('books', 'art of war'))).body), ['The Art of War · Sun Tzu · free']);
  });

  it('finds groups with their member counts, and names device groups', async () => {
    const year9 = await search(ALEX, query('groups', 'year 9'));
    assert.equal(year9.status, 200);
    assert.deepEqual(titles(year9.body), ['Year 9 Form 9A · 60 members', 'Year 9 Form 9B · 60 members', 'Year 9 Form 9C · 60 members', 'Year 9 Students · 181 members']);
    assert.equal(year9.body.value.results?.[0]?.value, DEMO_GROUPS.year9FormA);
    assert.deepEqual(titles((await search(ALEX, query('groups', 'ipads'))).body), ['All Managed iPads · device group', 'Student iPads · device group']);
    assert.match(titles((await search(ALEX, query('groups', 'science'))).body)[0] ?? '', /^Science Lab Carts · \d+ members? · also holds devices$/);
    assert.deepEqual(titles((await search(ALEX, query('groups', 'book club'))).body), ['Book Club · no members']);
  });

  it('pages with skip and top', async () => {
    const all = titles((await search(ALEX, query('books', '', 0, 10))).body);
    assert.equal(all.length, 10);
    const first = titles((await search(ALEX, query('books', '', 0, 4))).body);
    const second = titles((await search(ALEX, query('books', '', 4, 4))).body);
    assert.deepEqual([...first, ...second], all.slice(0, 8));
    const groups = titles((await search(ALEX, query('groups', 'year 9', 1, 2))).body);
    assert.deepEqual(groups, ['Year 9 Form 9B · 60 members', 'Year 9 Form 9C · 60 members']);
    // Graph sorts, the bot does not re-sort a page: page 2 neither repeats nor skips any of page 1.
    const pages = [titles((await search(ALEX, query('groups', '', 0, 5))).body), titles((await search(ALEX, query('groups', '', 5, 5))).body)];
    assert.deepEqual([...pages[0] ?? [], ...pages[1] ?? []], titles((await search(ALEX, query('groups', '', 0, 10))).body));
    assert.equal(new Set(pages.flat()).size, 10);
    assert.equal(titles((await search(ALEX, query('books', '', 0, 100))).body).length, 15, 'never more than the 15 choices Teams shows');
  });

  it('gives someone who is not an admin an error, and no book or group', async () => {
    for (const dataset of ['books', 'groups']) {
      const { status, body } = await search(ADELE, query(dataset, ''));
      assert.equal(status, 403);
      assert.equal(body.type, 'application/vnd.microsoft.error');
      assert.equal(body.value.code, 'Forbidden');
      assert.match(String(body.value.message), /only VPP Books admins/);
      assert.equal(body.value.results, undefined);
    }
  });

  it('answers an invoke it cannot read with a 400 error response', async () => {
    for (const value of [undefined, {}, query('users', 'x'), { ...query('books', 'x'), queryText: 42 }, query('books', 'x', 0, 0), query('books', 'x', -1)]) {
      const { status, body } = await search(ALEX, value);
      assert.equal(status, 400, JSON.stringify(value));
      assert.deepEqual({ statusCode: body.statusCode, type: body.type, code: body.value.code }, { statusCode: 400, type: 'application/vnd.microsoft.error', code: 'BadRequest' });
    }
  });

  it('refuses a book with no license left at the book step and asks for the book again, in place of the card answered', async () => {
    // Typed with the command there was no card yet: the refusal, then the question as a new card.
    const start = connector.activities.length;
    const question = await alex('assign middlemarch', (a) => inAlexChat(a) && /Which \*\*book\*\*/.test(String(a.text)));
    const said = connector.activities.slice(start).filter(inAlexChat).map((a) => String(a.text));
    assert.equal(said.length, 2);
    assert.match(said[0] ?? '', /^\*\*Middlemarch\*\*: no license of this book was left at the last sync \(\d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC\).*type \*\*sync\*\*/);
    const cardId = idOf(question);
    const nowOnCard = () => connector.updateRequests.filter((u) => u.activityId === cardId).at(-1)?.activity;

    // A search that finds nothing, typed: the same card says so and asks again; nothing new is posted, nothing ticked.
    const before = connector.activities.length;
    await post('zzzz');
    await until(() => connector.updateRequests.some((u) => u.activityId === cardId));
    assert.equal(nowOnCard()?.text, `No book matches "zzzz". Type **books** to browse them.\n\n${ASSIGN_MESSAGES.askBook}`);
    assert.match(JSON.stringify(nowOnCard()), /"dataset":"books"/);

    // The search box lists Middlemarch as having no license left; picking it is refused on that same card too.
    const middlemarch = (await search(ALEX, query('books', 'middlemarch'))).body.value.results?.[0];
    assert.match(String(middlemarch?.title), /no license left/);
    const updatesBefore = connector.updateRequests.length;
    await post({ value: { choice: middlemarch?.value, ref: refOf(nowOnCard() as CapturedActivity) }, replyToId: cardId });
    await until(() => connector.updateRequests.length > updatesBefore);
    assert.match(String(nowOnCard()?.text), /^\*\*Middlemarch\*\*: no license of this book .*Nothing was changed\.\n\nWhich \*\*book\*\*/);
    assert.equal(connector.activities.slice(before).filter(inAlexChat).length, 0, 'no new card stacked below');
    assert.doesNotMatch(JSON.stringify(connector.updateRequests.filter((u) => u.activityId === cardId)), /✓/, 'a refused answer is never shown as taken');
    const cancelled = await alex('cancel', inAlexChat);
    assert.match(String(cancelled.text), /Cancelled/, 'the flow was still asking for the book');
  });

  it('assigns with the search boxes: each answered question card is replaced by its answer, and old buttons go', async () => {
    const bookQuestion = await alex('assign', (a) => inAlexChat(a) && /Which \*\*book\*\*/.test(String(a.text)));
    assert.match(cardText(bookQuestion), /"choices.data":\{"type":"Data.Query","dataset":"books"\}/);
    assert.match(cardText(bookQuestion), /"style":"filtered"/);
    const emma = (await search(ALEX, query('books', 'emma'))).body.value.results?.[0];
    assert.ok(emma);
    const groupQuestion = await alex({ value: { choice: emma.value, ref: refOf(bookQuestion) }, replyToId: idOf(bookQuestion) }, (a) => inAlexChat(a) && /Which \*\*user group\*\*/.test(String(a.text)));
    const bookAnswered = connector.updateRequests.find((u) => u.activityId === idOf(bookQuestion));
    assert.ok(bookAnswered, 'the book question was updated in place');
    assert.match(JSON.stringify(bookAnswered.activity), /Which \*\*book\*\* do you want to assign\?.*✓ \*\*Emma\*\*/);
    assert.doesNotMatch(JSON.stringify(bookAnswered.activity), /Data\.Query|Action\.Submit/, 'no search box or button left on it');

    const more = await alex({ value: { choice: DEMO_GROUPS.englishDepartment, ref: refOf(groupQuestion) }, replyToId: idOf(groupQuestion) }, (a) => inAlexChat(a) && cardText(a).includes('Groups so far'));
    assert.match(JSON.stringify(connector.updateRequests.find((u) => u.activityId === idOf(groupQuestion))?.activity), /✓ \*\*English Department\*\*/);

    const before = connector.activities.length;
    const intent = await alex({ ...click('continue', refOf(more)), replyToId: idOf(more) }, (a) => inAlexChat(a) && /Required\*\* or \*\*Available/.test(cardText(a)));
    const continued = connector.updateRequests.find((u) => u.activityId === idOf(more));
    assert.match(JSON.stringify(continued?.activity), /Groups so far: \*\*English Department\*\*.*✓ Continue/);
    assert.doesNotMatch(JSON.stringify(continued?.activity), /Add another group/);
    assert.equal(connector.activities.slice(before).filter(inAlexChat).length, 1, 'the answer replaced the card: only the next question was posted');

    // Typed answers replace the card too: the bot remembers which card asked.
    await alex('available', (a) => inAlexChat(a) && cardText(a).includes('Request approval'));
    assert.match(JSON.stringify(connector.updateRequests.find((u) => u.activityId === idOf(intent))?.activity), /✓ Available/);
    await alex('cancel', inAlexChat);
  });

  it('pages and searches the books card in place, and posts a new card when the update is refused', async () => {
    const books = await alex('books', (a) => inAlexChat(a) && cardText(a).includes('Next page'));
    const before = connector.activities.length;
    const updates = connector.updateRequests.length;
    const response = await chats.post({ ...teamsMessage(connector.url, ''), from: ALEX, conversation: conversationOf(chatOf(ALEX)), value: { command: 'books', args: { q: '', o: '10' } }, replyToId: idOf(books) });
    assert.equal(response.status, 200);
    const paged = connector.updateRequests.slice(updates);
    assert.equal(paged.length, 1);
    assert.equal(paged[0]?.activityId, idOf(books), 'the same activity was updated');
    assert.equal(paged[0]?.conversationId, chatOf(ALEX));
    assert.match(JSON.stringify(paged[0]?.activity), /Showing 11–20/);
    assert.equal(connector.activities.length, before, 'no new message');

    await chats.post({ ...teamsMessage(connector.url, ''), from: ALEX, conversation: conversationOf(chatOf(ALEX)), value: { command: 'books', args: { search: '1' }, bookSearch: 'Verne' }, replyToId: idOf(books) });
    assert.match(JSON.stringify(connector.updateRequests.at(-1)?.activity), /Books matching \\"Verne\\"/);
    assert.equal(connector.activities.length, before, 'a search replaces the card too');

    // Teams refuses to edit a message that is too old: the page comes as a new card instead.
    connector.refuseUpdates(1);
    const fresh = await alex({ value: { command: 'books', args: { q: '', o: '20' } }, replyToId: idOf(books) }, (a) => inAlexChat(a) && cardText(a).includes('Showing 21–30'));
    assert.ok(fresh, 'the refused update fell back to a new message');
  });
});
