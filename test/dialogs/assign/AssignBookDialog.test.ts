import { strict as assert } from 'node:assert';
import { ActivityTypes, TestAdapter, type Activity } from 'botbuilder';
import { MainDialog } from '../../../dialogs/MainDialog';
import { AccessGuard } from '../../../dialogs/AccessGuard';
import type { VppBooksBot } from '../../../bot/VppBooksBot';
import { AdminPolicy } from '../../../services/auth/AdminPolicy';
import { DEMO_GROUPS } from '../../../local/directory';
import { assignFlows } from '../../../dialogs/assign/assignFlows';
import { BookSearch } from '../../../services/assignments/bookSearch';
import { ASSIGN_MESSAGES } from '../../../dialogs/assign/AssignBookDialog';
import { bookFlows } from '../../../dialogs/books/bookFlows';
import { BookCatalog } from '../../../services/books/BookCatalog';
import { BookStatusDialog } from '../../../dialogs/assign/BookStatusDialog';
import { ApprovalCardHandler } from '../../../dialogs/approvals/ApprovalCardHandler';
import { BookStatusService } from '../../../services/assignments/BookStatusService';
import { assignResultCard } from '../../../cards/assignCards';
import type { AssignmentExecutor } from '../../../services/assignments/AssignmentExecutor';
import { ALEX, ASSIGN_TENANT, AssignEnvironment, MEGAN, RecordingReporter, unsentApprovalMessages } from '../../support/assignFixtures';
import { silentLogger } from '../../../services/logging/logger';
import { storeTeamsChat } from '../../support/storedChat';
import { dialogBot } from '../../support/dialogBot';
import { GroupMemberCounts } from '../../../services/directory/GroupMemberCounts';

const cardJson = (a: Partial<Activity>): string => JSON.stringify(a.attachments?.[0]?.content ?? {});
const textOf = (a: Partial<Activity>): string => String(a.text ?? '');
function cardRef(a: Partial<Activity>): string {
  const match = /"ref":"([^"]+)"/.exec(cardJson(a));
  assert.ok(match?.[1], 'card has choice buttons with a ref');
  return match[1];
}

describe('assign dialog (test adapter, sandbox, local directory, embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new AssignEnvironment({ studentCount: 200 });
  const reporter = new RecordingReporter();
  let bot: VppBooksBot;
  let executor: AssignmentExecutor;

  before(async () => {
    await env.start();
    await env.seedToken([
      { title: 'Middlemarch Annotated', totalCount: 200 },
      { title: 'Ivanhoe Illustrated', totalCount: 20 },
      { title: 'Persuasion Revisited', totalCount: 0 },
    ], undefined, { membersJoined: false });
    // Megan has chatted with the bot before: her Teams user id is known for the card's refresh.
    await storeTeamsChat(env.store, { tenantId: ASSIGN_TENANT, aadObjectId: MEGAN, mri: '29:megan-mri' });
    executor = env.executor({ reporter });
    const approvals = env.approvals(executor);
    const policy = new AdminPolicy({ tenantId: ASSIGN_TENANT, adminUserIds: [ALEX, MEGAN] });
    const isAdmin = async (tenantId: string, aadObjectId: string): Promise<boolean> => (await policy.authorize({ tenantId, aadObjectId })).allowed;
    const flows = [...assignFlows({ books: new BookSearch(env.store), directory: env.directory, planner: env.planner, approvals, approverNotice: unsentApprovalMessages, executor, isAdmin, groupCounts: new GroupMemberCounts(env.directory) }), ...bookFlows({ catalog: new BookCatalog(env.store) }), { command: 'status', dialog: new BookStatusDialog(new BookStatusService(env.store, env.runs, (id) => env.directory.countMembers(id, 'user'))), adminOnly: true, personalChatOnly: false }];
    // Messages through the main dialog, Universal Actions through the approval card handler.
    const isApprover = (tenantId: string, aadObjectId: string): Promise<boolean> => approvals.approvers.isApprover(tenantId, aadObjectId);
    bot = dialogBot(new MainDialog(flows, new AccessGuard(policy, env.store.audit, silentLogger(), isApprover)), { approvalCards: new ApprovalCardHandler(approvals, unsentApprovalMessages, silentLogger(), isAdmin) });
  });
  after(async () => {
    await env.stop();
  });

  function chat(user = ALEX, name = 'Alex Wilber'): TestAdapter {
    return new TestAdapter((context) => bot.run(context), {
      channelId: 'msteams',
      from: { id: `29:${user}`, name, aadObjectId: user },
      conversation: { id: 'conv-assign', isGroup: false, conversationType: 'personal', tenantId: ASSIGN_TENANT, name: 'chat' },
    });
  }
  const click = (choice: string, ref: string) => ({ type: ActivityTypes.Message, value: { choice, ref } });

  it('assigns end to end: book, device group refused by name, user group, intent, preview, approval by another admin, result', async () => {
    const alex = chat();
    const updates = recordUpdates(alex);
    let ref = '';
    let approvalId = '';
    let groupQuestion: Partial<Activity> = {};
    await alex
      .send('assign')
      .assertReply((r) => assert.match(textOf(r), /Which \*\*book\*\*/))
      .send('middlemarch')
      .assertReply((r) => assert.match(textOf(r), /Assigning \*\*Middlemarch Annotated\*\*/))
      .assertReply((r) => {
        assert.match(textOf(r), /Which \*\*user group\*\*/);
        groupQuestion = r;
      })
      // Refused by name, in place of the question's card: the refusal above the same question, a new search box.
      .send('Student iPads')
      .send('Year 9')
      .assertReply((r) => {
        assert.match(cardJson(r), /Which group do you mean/);
        ref = cardRef(r);
      });
    const refused = updates.filter((u) => u.id === groupQuestion.id);
    assert.equal(textOf(refused[0] ?? {}), 'Books can be assigned to user groups only; "Student iPads" is a device group. Nothing was changed.\n\nWhich **user group** should get the book? Pick it in the search box, or type part of its name.');
    assert.match(cardJson(refused[0] ?? {}), /"dataset":"groups"/, 'the card asks again, with a search box');
    assert.notEqual(cardRef(refused[0] ?? {}), cardRef(groupQuestion), 'a new question: the old box no longer answers');
    assert.doesNotMatch(JSON.stringify(refused[0]), /✓/, 'the refused group is never shown as taken');
    assert.match(updateOf(updates.slice(-1), groupQuestion.id), /✓ \\"Year 9\\"/, 'the search term that was taken');
    await alex
      .send(click(DEMO_GROUPS.year9FormA, ref))
      .assertReply((r) => {
        assert.match(cardJson(r), /Groups so far: \*\*Year 9 Form 9A\*\*/);
        ref = cardRef(r);
      });
    await alex
      .send(click('add', ref))
      .assertReply((r) => assert.match(textOf(r), /Which other group/))
      .send('Science Lab')
      .assertReply((r) => assert.match(textOf(r), /"Science Lab Carts" holds users and 10 devices: only its users get the book/))
      .assertReply((r) => (ref = cardRef(r)));
    await alex.send(click('continue', ref)).assertReply((r) => {
      assert.match(cardJson(r), /Required\*\* or \*\*Available/);
      ref = cardRef(r);
    });
    await alex.send(click('required', ref)).assertReply((r) => {
      const card = cardJson(r);
      for (const fact of ['Assign Middlemarch Annotated as Required?', 'Year 9 Form 9A', '60 users', 'Science Lab Carts', '(10 devices skipped)', 'Licenses needed', 'cannot be reclaimed', 'built-in Books app', 'Request approval', 'Request approval, +10 for newcomers']) {
        assert.ok(card.includes(fact), `preview shows ${fact}`);
      }
      ref = cardRef(r);
    });
    await alex
      .send(click('request', ref))
      .assertReply((r) => {
        const card = cardJson(r);
        assert.match(card, /Waiting for approval/);
        assert.ok(!card.includes('"verb":"approve"'), 'the requester sees no buttons');
        assert.match(card, /"refresh":\{"action":\{"type":"Action.Execute"/);
        assert.ok(card.includes('"userIds":["29:megan-mri"]'), 'Teams refreshes it for the approvers, by their Teams user ids');
        assert.ok(card.includes('"verb":"withdraw"'), 'the requester may withdraw it');
        approvalId = /"approvalId":"([^"]+)"/.exec(card)?.[1] ?? '';
      })
      .assertReply((r) => assert.match(textOf(r), /^Sent for approval/));
    assert.ok(approvalId);
    const pending = await env.store.approvals.get(ASSIGN_TENANT, approvalId);
    assert.equal(pending?.state, 'pending');
    assert.equal(pending?.card?.conversationId, 'conv-assign');

    // Megan approves from the card (an invoke, answered with the updated card).
    const megan = chat(MEGAN, 'Megan Bowen');
    await megan
      .send({ type: ActivityTypes.Invoke, name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'approve', data: { approvalId } }, trigger: 'manual' } })
      .assertReply((r) => {
        const body = (r.value as { status: number; body: { type: string; value: unknown } }).body;
        assert.equal(body.type, 'application/vnd.microsoft.card.adaptive');
        assert.match(JSON.stringify(body.value), /Approved by Megan Bowen/);
      });
    await executor.idle();
    const outcome = reporter.outcomes[0];
    assert.equal(outcome?.state, 'completed');
    const users = new Set([...env.members(DEMO_GROUPS.year9FormA), ...env.members(DEMO_GROUPS.scienceLabCarts)]);
    assert.equal(outcome?.totals.processed, users.size);
    const result = JSON.stringify(assignResultCard(outcome!, 'apple'));
    assert.match(result, /Assigned \\"Middlemarch Annotated\\" \(Required\)/);
    assert.match(result, /Invited: licensed once they join/);
    assert.match(result, /invitation link/);
    assert.match(result, /built-in Books app/);

    await alex.send('status middlemarch').assertReply((r) => {
      const card = cardJson(r);
      for (const fact of ['Assignment status: Middlemarch Annotated', 'Year 9 Form 9A', 'Science Lab Carts', 'Required', 'Completed', 'Licensed', 'Invited, not joined yet']) assert.ok(card.includes(fact), `status shows ${fact}`);
    });
  });

  it('offers a reduced scope when licenses are short, and refuses when none are left', async () => {
    const alex = chat();
    let ref = '';
    await alex
      .send('assign ivanhoe')
      .assertReply((r) => assert.match(textOf(r), /Assigning \*\*Ivanhoe Illustrated\*\*/))
      .assertReply((r) => assert.match(textOf(r), /Which \*\*user group\*\*/))
      .send('Form 9B')
      .assertReply((r) => (ref = cardRef(r)));
    await alex.send(click('continue', ref)).assertReply((r) => (ref = cardRef(r)));
    await alex.send(click('available', ref)).assertReply((r) => {
      const card = cardJson(r);
      assert.match(card, /Not enough licenses: 60 needed, 20 available/);
      assert.ok(card.includes('Assign to the first 20 users'));
      assert.ok(!card.includes('Request approval'));
      ref = cardRef(r);
    });
    // A stale click (the preview's old ref is gone once answered) changes nothing; "limit" requests 20.
    await alex
      .send(click('limit', ref))
      .assertReply((r) => assert.match(cardJson(r), /Licenses approved by this","value":"20"/))
      .assertReply((r) => assert.match(textOf(r), /^Sent for approval/))
      .send(click('limit', ref))
      .assertReply((r) => assert.match(textOf(r), /no longer active/));

    // A book with no license left is refused at the book step, before any group or intent is asked for, and
    // the book asked for again (typed with the command, there was no card to ask again in).
    await alex
      .send('assign persuasion')
      .assertReply((r) => assert.match(textOf(r), /^\*\*Persuasion Revisited\*\*: no license of this book .*type \*\*sync\*\*.*Nothing was changed\.$/))
      .assertReply((r) => assert.match(textOf(r), /Which \*\*book\*\*/, 'the flow goes on: the book question again'))
      .send('cancel')
      .assertReply((r) => assert.match(textOf(r), /Cancelled/));

    await alex
      .send('approvals')
      .assertReply((r) => assert.equal(textOf(r), '1 request waiting for a decision.'))
      .assertReply((r) => {
        const card = cardJson(r);
        assert.ok(card.includes('Ivanhoe Illustrated'));
        assert.ok(card.includes('"verb":"withdraw"') && card.includes('"verb":"resend"'), 'the requester, an admin, may withdraw or resend');
        assert.ok(!card.includes('"verb":"approve"'), 'but not approve their own request');
      });
  });
  /** Every object in a card, depth first. */
  function nodes(node: unknown, out: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
    if (Array.isArray(node)) for (const n of node) nodes(n, out);
    else if (node && typeof node === 'object') {
      out.push(node as Record<string, unknown>);
      for (const v of Object.values(node)) nodes(v, out);
    }
    return out;
  }

  /** The data of a book's Assign button on the books card, as Teams would submit it. */
  function assignButton(booksCard: Partial<Activity>, title: string): Record<string, unknown> {
    const entry = nodes(booksCard.attachments?.[0]?.content).find((n) => n.type === 'Container' && nodes(n.items).some((i) => i.type === 'TextBlock' && i.text === title));
    const button = nodes(entry).find((n) => n.type === 'Action.Submit' && n.title === 'Assign');
    assert.ok(button, `the books card has an Assign button for ${title}`);
    return button.data as Record<string, unknown>;
  }

  it("starts the assign flow from the books card's Assign button with that book, straight at the group step", async () => {
    const alex = chat();
    let booksCard: Partial<Activity> = {};
    await alex.send('books').assertReply((r) => (booksCard = r));
    const middlemarch = assignButton(booksCard, 'Middlemarch Annotated');
    let ref = '';
    await alex
      .send({ type: ActivityTypes.Message, value: middlemarch })
      .assertReply((r) => assert.equal(textOf(r), 'Assigning **Middlemarch Annotated**.', 'no "Which book?" first'))
      .assertReply((r) => assert.match(textOf(r), /Which \*\*user group\*\*/))
      .send('Form 9B')
      .assertReply((r) => (ref = cardRef(r)));
    await alex.send(click('continue', ref)).assertReply((r) => (ref = cardRef(r)));
    await alex.send(click('required', ref)).assertReply((r) => {
      assert.ok(cardJson(r).includes('Assign Middlemarch Annotated as Required?'), 'the preview is for the book on the button');
      ref = cardRef(r);
    });
    await alex.send(click('cancel', ref)).assertReply(ASSIGN_MESSAGES.kept);

    // A book with no license left has no Assign button; a click from an older card is refused at once, by name,
    // before any group is asked for.
    assert.throws(() => assignButton(booksCard, 'Persuasion Revisited'), /has an Assign button for Persuasion Revisited/);
    const persuasion = (await env.store.books.listByToken(String(middlemarch.tokenId))).find((b) => b.title === 'Persuasion Revisited');
    assert.ok(persuasion);
    await alex
      .send({ type: ActivityTypes.Message, value: { ...middlemarch, args: { bookId: persuasion.id } } })
      .assertReply((r) => assert.match(textOf(r), /^\*\*Persuasion Revisited\*\*: no license of this book /))
      .send('Form 9B')
      .assertReply((r) => assert.match(textOf(r), /don't know that command/, 'the flow ended'));

    // A book that is no longer there (here: an id the token does not hold), or a button naming another token.
    const args = middlemarch.args as Record<string, string>;
    await alex
      .send({ type: ActivityTypes.Message, value: { ...middlemarch, args: { bookId: `${args.bookId}-gone` } } })
      .assertReply(ASSIGN_MESSAGES.bookGone)
      .send({ type: ActivityTypes.Message, value: { ...middlemarch, tokenId: 'someone-elses-token' } })
      .assertReply(ASSIGN_MESSAGES.bookGone);
    // A forged button that does not name a book the way the card does.
    await alex
      .send({ type: ActivityTypes.Message, value: { ...middlemarch, args: { ...args, tenantId: 'other' } } })
      .assertReply(ASSIGN_MESSAGES.unreadableButton)
      .send({ type: ActivityTypes.Message, value: { command: 'assign', args } })
      .assertReply(ASSIGN_MESSAGES.unreadableButton);
  });
  /** Every activity the bot replaced in place during the adapter's turns (updateActivity), in order. */
  function recordUpdates(adapter: TestAdapter): Array<Partial<Activity>> {
    const updates: Array<Partial<Activity>> = [];
    const update = adapter.updateActivity.bind(adapter);
    adapter.updateActivity = async (context, activity) => {
      updates.push(activity);
      return update(context, activity);
    };
    return updates;
  }
  const updateOf = (updates: Array<Partial<Activity>>, id: string | undefined): string => JSON.stringify(updates.find((u) => u.id === id) ?? {});

  async function bookValue(title: string): Promise<string> {
    for (const token of await env.store.tokens.listByTenant(ASSIGN_TENANT)) {
      const book = (await env.store.books.listByToken(token.id)).find((b) => b.title === title);
      if (book) return `${token.id}/${book.id}`;
    }
    throw new Error(`no book ${title}`);
  }
  const pick = (choice: string, ref: string, replyToId?: string) => ({ type: ActivityTypes.Message, value: { choice, ref }, ...(replyToId ? { replyToId } : {}) });

  it('takes the book and the groups from the search boxes, and replaces each answered question card with its answer', async () => {
    const alex = chat();
    const updates = recordUpdates(alex);
    let bookQuestion: Partial<Activity> = {};
    let groupQuestion: Partial<Activity> = {};
    let more: Partial<Activity> = {};
    await alex.send('assign').assertReply((r) => {
      bookQuestion = r;
      assert.match(textOf(r), /Which \*\*book\*\*.*type part of its title/, 'the text says how to answer without a search box');
      assert.match(cardJson(r), /"type":"Input.ChoiceSet".*"style":"filtered".*"choices.data":\{"type":"Data.Query","dataset":"books"\}/);
    });
    await alex
      .send(pick(await bookValue('Middlemarch Annotated'), cardRef(bookQuestion), bookQuestion.id))
      .assertReply('Assigning **Middlemarch Annotated**.')
      .assertReply((r) => {
        groupQuestion = r;
        assert.match(cardJson(r), /"dataset":"groups"/);
      });
    const answeredBook = updateOf(updates, bookQuestion.id);
    assert.match(answeredBook, /Which \*\*book\*\* do you want to assign\?.*✓ \*\*Middlemarch Annotated\*\*/);
    assert.doesNotMatch(answeredBook, /Input.ChoiceSet|Action.Submit/, 'nothing left to press');

    // No replyToId (a client that sends none): the card the question was sent as is replaced all the same.
    await alex.send(pick(DEMO_GROUPS.year9FormB, cardRef(groupQuestion))).assertReply((r) => {
      more = r;
      assert.match(cardJson(r), /Groups so far: \*\*Year 9 Form 9B\*\*/);
    });
    assert.match(updateOf(updates, groupQuestion.id), /✓ \*\*Year 9 Form 9B\*\*/);

    await alex.send({ ...click('continue', cardRef(more)), replyToId: more.id }).assertReply((r) => assert.match(cardJson(r), /Required\*\* or \*\*Available/));
    assert.match(updateOf(updates, more.id), /Groups so far: \*\*Year 9 Form 9B\*\*\.",.*✓ Continue/);
    assert.doesNotMatch(updateOf(updates, more.id), /Add another group/);
    await alex.send('cancel').assertReply((r) => assert.match(textOf(r), /Cancelled/));
  });

  it('refuses a forged or vanished pick, an unmatched search and a book with no license left in place of the card answered, and asks again', async () => {
    const alex = chat();
    const updates = recordUpdates(alex);
    let question: Partial<Activity> = {};
    await alex.send('assign').assertReply((r) => (question = r));
    /** The question card as it now stands (replaced in place after each refusal). */
    const bookCard = (id = question.id): Partial<Activity> => {
      const last = updates.filter((u) => u.id === id).at(-1);
      assert.ok(last, 'the card was replaced');
      return last;
    };
    const refusedThen = (refusal: string) => `${refusal}\n\n${ASSIGN_MESSAGES.askBook}`;
    // Another tenant's token, a value naming no book: each time the same card, asking again.
    await alex.send(pick(`someone-elses-token/${(await bookValue('Middlemarch Annotated')).split('/')[1] ?? ''}`, cardRef(question), question.id));
    assert.equal(textOf(bookCard()), refusedThen(ASSIGN_MESSAGES.pickedGone));
    await alex.send(pick('no slash here', cardRef(bookCard()), question.id));
    assert.equal(textOf(bookCard()), refusedThen(ASSIGN_MESSAGES.pickedGone));
    // A click on another question's card does not count.
    await alex.send(pick(await bookValue('Middlemarch Annotated'), 'an-older-question')).assertReply((r) => assert.match(textOf(r), /Pick a book in the search box/));
    // Typed, with no id of the card: the card asked again in place is still the one replaced.
    await alex.send('zzzz');
    assert.equal(textOf(bookCard()), refusedThen('No book matches "zzzz". Type **books** to browse them.'));
    assert.match(cardJson(bookCard()), /"dataset":"books"/);
    await alex.send(pick(await bookValue('Persuasion Revisited'), cardRef(bookCard()), question.id));
    assert.match(textOf(bookCard()), /^\*\*Persuasion Revisited\*\*: no license of this book .*Nothing was changed\.\n\nWhich \*\*book\*\*/);
    assert.doesNotMatch(JSON.stringify(updates), /✓/, 'no refused answer was ever shown as taken');
    assert.equal(updates.filter((u) => u.id !== question.id).length, 0, 'no other card was touched');

    // Among several matches, the one with no license left is refused on the buttons' card, which asks again.
    let several: Partial<Activity> = {};
    await alex.send('ed').assertReply((r) => (several = r));
    assert.match(updateOf(updates.slice(-1), question.id), /✓ \\"ed\\"/, 'the search term was taken');
    const persuasionButton = nodes(several.attachments?.[0]?.content).find((n) => n.type === 'Action.Submit' && String(n.title).startsWith('Persuasion Revisited'));
    assert.ok(persuasionButton, 'Persuasion Revisited is among the matches');
    await alex.send({ type: ActivityTypes.Message, value: persuasionButton.data, replyToId: several.id });
    assert.match(textOf(bookCard(several.id)), /^\*\*Persuasion Revisited\*\*: no license of this book .*\n\nWhich \*\*book\*\*/);
    assert.match(cardJson(bookCard(several.id)), /"dataset":"books"/);

    // The flow goes on: the same card answers, and only now shows its answer.
    let groupQuestion: Partial<Activity> = {};
    await alex
      .send(pick(await bookValue('Middlemarch Annotated'), cardRef(bookCard(several.id)), several.id))
      .assertReply('Assigning **Middlemarch Annotated**.')
      .assertReply((r) => (groupQuestion = r));
    assert.match(JSON.stringify(bookCard(several.id)), /✓ \*\*Middlemarch Annotated\*\*/);

    const groupText = () => textOf(bookCard(groupQuestion.id));
    await alex.send(pick('not-a-group-id', cardRef(groupQuestion), groupQuestion.id));
    assert.match(groupText(), /no longer in the directory.*\n\nWhich \*\*user group\*\*/);
    await alex.send(pick('90000000-0000-4000-8000-0000000000ff', cardRef(bookCard(groupQuestion.id)), groupQuestion.id));
    assert.match(groupText(), /no longer in the directory/);
    await alex.send(pick(DEMO_GROUPS.studentIpads, cardRef(bookCard(groupQuestion.id)), groupQuestion.id));
    assert.equal(groupText(), 'Books can be assigned to user groups only; "Student iPads" is a device group. Nothing was changed.\n\nWhich **user group** should get the book? Pick it in the search box, or type part of its name.');
    assert.doesNotMatch(JSON.stringify(updates.filter((u) => u.id === groupQuestion.id)), /✓/, 'no refused group shown as taken');
    await alex.send('cancel').assertReply((r) => assert.match(textOf(r), /Cancelled/));
  });

  it('asks again in a new card where the refused card cannot be replaced', async () => {
    const alex = chat();
    alex.updateActivity = async () => {
      throw new Error('this message can no longer be edited');
    };
    await alex
      .send('assign')
      .assertReply((r) => assert.match(textOf(r), /Which \*\*book\*\*/))
      .send('zzzz')
      .assertReply('No book matches "zzzz". Type **books** to browse them.')
      .assertReply((r) => {
        assert.equal(textOf(r), ASSIGN_MESSAGES.askBook);
        assert.match(cardJson(r), /"dataset":"books"/);
      })
      .send('cancel')
      .assertReply((r) => assert.match(textOf(r), /Cancelled/));
  });

  it('replaces the answered "The status of which book?" card with its answer', async () => {
    const alex = chat();
    const updates = recordUpdates(alex);
    let which: Partial<Activity> = {};
    await alex.send('status ed').assertReply((r) => (which = r));
    assert.match(cardJson(which), /The status of which book\?/);
    const ivanhoe = nodes(which.attachments?.[0]?.content).find((n) => n.type === 'Action.Submit' && n.title === 'Ivanhoe Illustrated');
    assert.ok(ivanhoe);
    await alex.send({ type: ActivityTypes.Message, value: ivanhoe.data, replyToId: which.id }).assertReply((r) => assert.match(cardJson(r), /Ivanhoe Illustrated/));
    const answered = updateOf(updates, which.id);
    assert.match(answered, /The status of which book\?.*✓ Ivanhoe Illustrated/);
    assert.doesNotMatch(answered, /Action.Submit/, 'nothing left to press');
  });

  it('shows what each group holds on the "Which group do you mean?" buttons', async () => {
    const alex = chat();
    await alex
      .send('assign middlemarch')
      .assertReply('Assigning **Middlemarch Annotated**.')
      .assertReply((r) => assert.match(textOf(r), /Which \*\*user group\*\*/))
      .send('Year 9')
      .assertReply((r) => {
        const titles = nodes(r.attachments?.[0]?.content).filter((n) => n.type === 'Action.Submit').map((n) => n.title);
        assert.deepEqual(titles, ['Year 9 Form 9A · 60 members', 'Year 9 Form 9B · 60 members', 'Year 9 Form 9C · 60 members', 'Year 9 Students · 181 members']);
      })
      .send('cancel')
      .assertReply((r) => assert.match(textOf(r), /Cancelled/));
  });
});
