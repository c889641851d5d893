import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { assignPreviewCard } from '../../cards/assignCards';
import { intentLabel } from '../../cards/approvalCards';
import { choiceQuestionCard } from '../../cards/tokenCards';
import { formatCount, formatDateTime } from '../../services/common/format';
import { nameList } from '../../services/common/nameList';
import { echoArgument, escapeMarkdown } from '../../services/common/chatText';
import { MAX_NEWCOMER_HEADROOM, type ApprovalService } from '../../services/approvals/ApprovalService';
import type { AssignmentPreviewer } from '../../services/backend/ports';
import { assignmentPreviewSchema, type AssignmentPreview } from '../../services/assignments/assignmentPreview';
import { bookChoice, bookChoiceSchema, type BookChoice, type BookMatch, type BookSearch } from '../../services/assignments/bookSearch';
import { bookChoiceTitle, bookValueSchema } from '../../services/search/BookResults';
import type { AdminActor } from '../../services/auth/AdminPolicy';
import { postApprovalCard, type ApproverNotice } from '../approvals/approvalCardSender';
import { endWithError } from '../chatErrors';
import { flowActor } from '../flows';
import { flowState } from '../flowState';
import { normaliseText } from '../parseCommand';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage } from '../replies';
import { SearchChoicePrompt, searchAnswerSchema, type SearchAnswer } from '../search/SearchChoicePrompt';
import { BOOK_SEARCH_BOX, markAnswered } from '../search/searchQuestion';
import { askSearch, refusalOf } from './askSearch';
import { MAX_GROUPS, PickGroupsDialog, pickedGroupSchema } from './PickGroupsDialog';
import { APPLE_PORTALS } from '../../services/common/appleTerms';

const ASK_BOOK = 'assign.askBook';
const PICK_BOOK = 'assign.pickBook';
const INTENT = 'assign.intent';
const CONFIRM = 'assign.confirm';

/** What the flow keeps between turns, each part checked by the rules of the service it comes from. */
const assignValuesSchema = z.object({
  /** The books a search found, while it asks which one. */
  candidates: z.array(bookChoiceSchema).max(10),
  /** The card whose answer is being checked, when a typed answer cannot name it: replaced once it is taken or refused. */
  questionCardId: z.string().max(1_000),
  book: bookChoiceSchema,
  groups: z.array(pickedGroupSchema).min(1).max(MAX_GROUPS),
  // Flows under way when reservations and free books came in kept previews without these two.
  preview: assignmentPreviewSchema.extend({
    licensesReserved: assignmentPreviewSchema.shape.licensesReserved.default(0),
    unlimited: assignmentPreviewSchema.shape.unlimited.default(false),
  }),
});
const assignState = flowState('assign', assignValuesSchema);

/** The books card's Assign button: the book, by its token and id (`{ command: 'assign', tokenId, args: { bookId } }`). */
const assignButtonSchema = z.object({ tokenId: bookChoiceSchema.shape.tokenId, args: z.object({ bookId: bookChoiceSchema.shape.bookId }).strict() });

const NEWCOMER_HEADROOM = MAX_NEWCOMER_HEADROOM;
/** The book question as its answered card shows it. */
const BOOK_QUESTION = 'Which **book** do you want to assign?';
const WHICH_BOOK = 'Which book do you mean?';
const SYNONYMS: Readonly<Record<string, string[]>> = { request: ['request', 'yes', 'confirm'], limit: ['limit', 'first'], headroom: ['headroom', 'newcomers', '+10'] };

export const ASSIGN_MESSAGES = {
  askBook: 'Which **book** do you want to assign? Pick it in the search box, or type part of its title.',
  pickedGone: 'That book is no longer there (its token may have been removed or synced since). Pick another one.',
  noBooks: 'There are no books yet: upload a VPP token and sync it first (**upload token**, **sync**).',
  noLicenses: `No license of this book is left, so it cannot be assigned to anyone. Buy more licenses in ${APPLE_PORTALS}, sync, and try again. Nothing was changed.`,
  bookGone: 'That book is no longer there (its token may have been removed). Type **books** to see the books there are. Nothing was changed.',
  unreadableButton: 'That Assign button sent something I could not read, so I did nothing. Type **books** to list the books again, or **assign** to start over.',
  kept: 'Nothing was requested and nothing was changed.',
} as const;

/**
 * What each intent does, honestly. Apple mode: the bot cannot put a book onto a device (that takes an MDM
 * command, such as Intune's), only give licenses and tell people. Intune mode: Intune licenses the groups and,
 * for Required, installs the book on their managed devices; the bot neither invites nor tells anyone.
 */
const INTENT_HINT_INTUNE =
  'Required: Intune licenses every member of the groups and installs the book on their managed iPads and iPhones by itself. ' +
  'Available: Intune offers the book in Company Portal and licenses each member who installs it, up to the number approved. ' +
  'Either way members read it in the Books app.';

const INTENT_HINT =
  "Required: everyone who can receive the book now (a Managed Apple Account, or already in your organisation's Apple volume purchasing) gets a license at once and a message in Teams; the others get their own invitation in Teams and the license once they have joined, never before. " +
  'Available: nothing is spent now; members are told in Teams that the book is there for them and get a license only when they ask for it (**my books**), up to the number approved. ' +
  'Either way the book appears in the Books app under their purchases; installing it onto devices automatically needs an MDM such as Microsoft Intune.';

/** Nothing left to give: such a book is refused before any group or intent is asked for. */
function noLicenseLeft({ book }: Pick<BookMatch, 'book'>): boolean {
  return !book.unlimited && book.availableLicenseCount <= 0;
}

/**
 * A book with no license left, by name: what to do, and since the count is Apple's as of the token's last
 * sync, when that was, with **sync** for licenses bought since.
 */
function noLicenseLeftMessage({ token, book }: Pick<BookMatch, 'token' | 'book'>): string {
  const title = `**${escapeMarkdown(book.title)}**`;
  if (!token.lastSyncDateTime) {
    return `${title}: no license of this book is left, so it cannot be assigned to anyone. Buy more in ${APPLE_PORTALS}, then type **sync** and try again. Nothing was changed.`;
  }
  return (
    `${title}: no license of this book was left at the last sync (${formatDateTime(token.lastSyncDateTime)}), so it cannot be assigned to anyone. ` +
    `If licenses were bought since, type **sync** to read the counts again; otherwise buy more in ${APPLE_PORTALS} first. Nothing was changed.`
  );
}

/**
 * "assign": book → user groups → Required or Available → preview with licenses needed and the
 * irrevocability warning → an approval request. Nothing reaches Apple until an approver approves.
 */
export class AssignBookDialog extends ComponentDialog {
  static readonly id = 'assignBook';

  constructor(
    private readonly books: BookSearch,
    private readonly planner: AssignmentPreviewer,
    private readonly approvals: ApprovalService,
    pickGroups: PickGroupsDialog,
    private readonly approverNotice: ApproverNotice,
  ) {
    super(AssignBookDialog.id);
    this.addDialog(new SearchChoicePrompt(ASK_BOOK));
    this.addDialog(new CardChoicePrompt(PICK_BOOK));
    this.addDialog(new CardChoicePrompt(INTENT));
    this.addDialog(new CardChoicePrompt(CONFIRM));
    this.addDialog(pickGroups);
    this.addDialog(
      new WaterfallDialog('assign.steps', [
        (s) => this.askBook(s),
        (s) => this.findBook(s),
        (s) => this.pickGroups(s),
        (s) => this.askIntent(s),
        (s) => this.preview(s),
        (s) => this.request(s),
      ]),
    );
    this.initialDialogId = 'assign.steps';
  }

  private actor(step: WaterfallStepContext): AdminActor {
    return flowActor(step.options, 'assign');
  }

  private async askBook(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const options = assignState.options(step);
    if (options.tokenId !== undefined || options.args !== undefined) return this.bookFromButton(step, options);
    const argument = normaliseText(options.argument);
    if (argument) return step.next({ kind: 'typed', text: argument } satisfies SearchAnswer);
    return askSearch(step, ASK_BOOK, {
      question: ASSIGN_MESSAGES.askBook,
      box: BOOK_SEARCH_BOX,
      retryPrompt: 'Pick a book in the search box, type part of its title, or type **cancel**.',
      refusal: refusalOf(step.options),
      onCardReused: (cardId) => assignState.write(step, { questionCardId: cardId }),
    });
  }

  /** The book question again, in place of the card whose answer was refused, with why. */
  private reask(step: WaterfallStepContext, message: string, cardId: string | undefined): Promise<DialogTurnResult> {
    return step.replaceDialog(AssignBookDialog.id, { ...assignState.options(step), argument: '', refusal: { message, cardId } });
  }

  /**
   * The books card's Assign button already names the book: no question about it, straight on to the groups
   * (findBook passes it through). A book that is gone or has no license left is said so here, before any
   * group is asked for.
   */
  private async bookFromButton(step: WaterfallStepContext, options: { tokenId?: string | undefined; args?: unknown }): Promise<DialogTurnResult> {
    const button = assignButtonSchema.safeParse({ tokenId: options.tokenId, args: options.args });
    if (!button.success) {
      await step.context.sendActivity(ASSIGN_MESSAGES.unreadableButton);
      return step.endDialog();
    }
    let match: BookMatch | undefined;
    try {
      match = await this.books.chosen(this.actor(step).tenantId, { tokenId: button.data.tokenId, bookId: button.data.args.bookId });
    } catch (err) {
      return endWithError(step, err);
    }
    if (!match) {
      await step.context.sendActivity(ASSIGN_MESSAGES.bookGone);
      return step.endDialog();
    }
    // The admin chose this very book on the card: refused, there is no question to ask again.
    if (noLicenseLeft(match)) {
      await step.context.sendActivity(noLicenseLeftMessage(match));
      return step.endDialog();
    }
    assignState.write(step, { book: bookChoice(match) });
    return step.next();
  }

  /**
   * The book step's last word on an answer: a book with no license left is refused here, before any group
   * or intent is asked for, and the question asked again; any other is the flow's book from now on, and
   * only then does its card show it as the answer.
   */
  private async acceptBook(step: WaterfallStepContext, match: BookMatch, chosen: BookChoice, card: { id: string | undefined; question: string }): Promise<DialogTurnResult> {
    if (noLicenseLeft(match)) return this.reask(step, noLicenseLeftMessage(match), card.id);
    await markAnswered(step.context, card.id, card.question, `**${escapeMarkdown(match.book.title)}**`);
    assignState.write(step, { book: chosen });
    return step.next();
  }

  private async findBook(step: WaterfallStepContext): Promise<DialogTurnResult> {
    if (assignState.read(step).book) return step.next();
    const answer = searchAnswerSchema.parse(step.result);
    const tenantId = this.actor(step).tenantId;
    const cardId = answer.cardId ?? assignState.read(step).questionCardId;
    if (answer.kind === 'picked') return this.pickedBook(step, answer.value, cardId);
    const text = answer.text;
    let matches: BookMatch[];
    try {
      matches = await this.books.find(tenantId, text);
      if (matches.length === 0) {
        const anyBooks = (await this.books.find(tenantId, '', 1)).length > 0;
        if (!anyBooks) {
          await markAnswered(step.context, cardId, BOOK_QUESTION, echoArgument(text));
          await step.context.sendActivity(ASSIGN_MESSAGES.noBooks);
          return step.endDialog();
        }
        return this.reask(step, `No book matches ${echoArgument(text)}. Type **books** to browse them.`, cardId);
      }
    } catch (err) {
      return endWithError(step, err);
    }
    const only = matches[0];
    if (matches.length === 1 && only) return this.acceptBook(step, only, bookChoice(only), { id: cardId, question: BOOK_QUESTION });
    // The search term is taken; the book is not yet, so the buttons' card is sent here and replaced by this
    // dialog once the book picked on it is accepted or refused.
    await markAnswered(step.context, cardId, BOOK_QUESTION, echoArgument(text));
    const candidates = matches.map((m) => bookChoice(m, true));
    const severalTokens = new Set(matches.map((m) => m.token.id)).size > 1;
    const ref = randomUUID();
    const choices = matches.map((m, i) => ({ title: bookChoiceTitle(m, severalTokens).slice(0, 80), value: `b${i}` }));
    const validations: CardChoiceValidations = { ref, choices: candidates.map((c, i) => ({ value: `b${i}`, synonyms: [c.title.toLowerCase()], title: choices[i]?.title })) };
    const sent = await step.context.sendActivity(cardMessage(choiceQuestionCard({ ref, question: WHICH_BOOK, choices })));
    assignState.write(step, { candidates, ...(sent?.id ? { questionCardId: sent.id } : {}) });
    return step.prompt(PICK_BOOK, { retryPrompt: 'Pick a book with the buttons above, or type **cancel**.', validations });
  }

  /** A book picked in the search box: only a value from the card, so looked up within the admin's tenant. */
  private async pickedBook(step: WaterfallStepContext, value: string, cardId: string | undefined): Promise<DialogTurnResult> {
    const named = bookValueSchema.safeParse(value);
    let match: BookMatch | undefined;
    try {
      match = named.success ? await this.books.chosen(this.actor(step).tenantId, named.data) : undefined;
    } catch (err) {
      return endWithError(step, err);
    }
    if (!match) return this.reask(step, ASSIGN_MESSAGES.pickedGone, cardId);
    return this.acceptBook(step, match, bookChoice(match), { id: cardId, question: BOOK_QUESTION });
  }

  private async pickGroups(step: WaterfallStepContext): Promise<DialogTurnResult> {
    // Named by the card's Assign button or the search box, or picked among what a typed search found.
    let { book } = assignState.read(step);
    if (!book) {
      const { candidates, questionCardId } = assignState.read(step, 'candidates');
      const chosen = candidates[Number(String(step.result).slice(1))];
      if (!chosen) return step.endDialog();
      let match: BookMatch | undefined;
      try {
        match = await this.books.chosen(this.actor(step).tenantId, chosen);
      } catch (err) {
        return endWithError(step, err);
      }
      if (!match) return this.reask(step, ASSIGN_MESSAGES.pickedGone, questionCardId);
      if (noLicenseLeft(match)) return this.reask(step, noLicenseLeftMessage(match), questionCardId);
      await markAnswered(step.context, questionCardId, WHICH_BOOK, `**${escapeMarkdown(match.book.title)}**`);
      assignState.write(step, { book: chosen });
      book = chosen;
    }
    await step.context.sendActivity(`Assigning **${escapeMarkdown(book.title)}**.`);
    return step.beginDialog(PickGroupsDialog.id, { picked: [] });
  }

  private async askIntent(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const groups = assignValuesSchema.shape.groups.safeParse(step.result);
    if (!groups.success) {
      await step.context.sendActivity(ASSIGN_MESSAGES.kept);
      return step.endDialog();
    }
    assignState.write(step, { groups: groups.data });
    const ref = randomUUID();
    const question = 'Assign it as **Required** or **Available**?';
    const validations: CardChoiceValidations = {
      ref,
      question,
      choices: [
        { value: 'required', synonyms: ['required', 'require'], title: 'Required' },
        { value: 'available', synonyms: ['available'], title: 'Available' },
      ],
    };
    const card = choiceQuestionCard({
      ref,
      question,
      hint: this.approvals.backend === 'intune' ? INTENT_HINT_INTUNE : INTENT_HINT,
      choices: [
        { title: 'Required', value: 'required' },
        { title: 'Available', value: 'available' },
      ],
    });
    return step.prompt(INTENT, { prompt: cardMessage(card), retryPrompt: 'Choose **Required** or **Available**, or type **cancel**.', validations });
  }

  private async preview(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const intent = assignmentPreviewSchema.shape.installIntent.parse(step.result);
    const { book: chosen, groups } = assignState.read(step, 'book', 'groups');
    let preview: AssignmentPreview;
    try {
      const match = await this.books.chosen(this.actor(step).tenantId, chosen);
      if (!match) {
        await step.context.sendActivity(ASSIGN_MESSAGES.bookGone);
        return step.endDialog();
      }
      preview = await this.planner.preview({
        token: match.token,
        book: match.book,
        groups: groups.map((g) => ({ id: g.id, displayName: g.displayName, membershipType: g.membershipType, deviceRule: g.deviceRule })),
        installIntent: intent,
        devices: new Map(groups.map((g) => [g.id, g.deviceCount])),
      });
    } catch (err) {
      return endWithError(step, err);
    }
    if (preview.licensesNeeded === 0) {
      await step.context.sendActivity(`Every member of the chosen groups already has **${escapeMarkdown(preview.book.title)}**. Nothing to assign.`);
      return step.endDialog();
    }
    if (!preview.enough && preview.licensesAvailable === 0) {
      const reserved = preview.licensesReserved > 0 ? ` The ${preview.licensesReserved.toLocaleString('en-GB')} left are reserved by other requests for this book (waiting for approval or under way); type **approvals** to see them.` : '';
      await step.context.sendActivity(`${preview.licensesNeeded.toLocaleString('en-GB')} licenses are needed.${reserved} ${ASSIGN_MESSAGES.noLicenses}`);
      return step.endDialog();
    }
    if (!preview.enough && this.approvals.backend === 'intune') {
      // Intune assigns whole groups and licenses every member: there is no "only the first N" to offer.
      await step.context.sendActivity(
        `${formatCount(preview.licensesNeeded)} licenses are needed and only ${formatCount(preview.licensesAvailable)} are free. Intune assigns whole groups, so buy more licenses in ${APPLE_PORTALS} (then type **sync**) or choose a smaller group. Nothing was changed.`,
      );
      return step.endDialog();
    }
    assignState.write(step, { preview });
    const ref = randomUUID();
    const choices = preview.enough
      ? [{ title: 'Request approval', value: 'request' }]
      : [{ title: `Assign to the first ${preview.licensesAvailable.toLocaleString('en-GB')} users`, value: 'limit' }];
    // Room for people who join the groups before the run reaches them, when the licenses allow it.
    if (preview.enough && !preview.unlimited && preview.licensesAvailable >= preview.licensesNeeded + NEWCOMER_HEADROOM) {
      choices.push({ title: `Request approval, +${NEWCOMER_HEADROOM} for newcomers`, value: 'headroom' });
    }
    choices.push({ title: 'Cancel', value: 'cancel' });
    const notes = preview.groups.filter((g) => g.deviceCount > 0).map((g) => `"${escapeMarkdown(g.groupName)}" also holds devices: only its users get the book.`);
    const validations: CardChoiceValidations = {
      ref,
      // Once answered, the preview's buttons go: the approval card that follows holds the numbers.
      question: `Assign **${escapeMarkdown(preview.book.title)}** as ${intentLabel(preview.installIntent)} to ${nameList(preview.groups.map((g) => g.groupName))}?`,
      choices: [
        ...choices.filter((c) => c.value !== 'cancel').map((c) => ({ value: c.value, synonyms: SYNONYMS[c.value] ?? [c.value], title: c.title })),
        { value: 'cancel', synonyms: ['no'], title: 'Cancel' },
      ],
    };
    const card = assignPreviewCard(preview, { ref, notes, choices, backend: this.approvals.backend });
    return step.prompt(CONFIRM, { prompt: cardMessage(card), retryPrompt: 'Use the buttons on the preview, or type **cancel**.', validations });
  }

  private async request(step: WaterfallStepContext): Promise<DialogTurnResult> {
    if (step.result !== 'request' && step.result !== 'limit' && step.result !== 'headroom') {
      await step.context.sendActivity(ASSIGN_MESSAGES.kept);
      return step.endDialog();
    }
    const { preview } = assignState.read(step, 'preview');
    const actor = this.actor(step);
    try {
      const { request, approvers, approverNames, unreachableNames } = await this.approvals.request({
        preview,
        requestedBy: { aadObjectId: actor.aadObjectId, displayName: actor.name },
        userLimit: step.result === 'limit' ? preview.licensesAvailable : undefined,
        headroom: step.result === 'headroom' ? NEWCOMER_HEADROOM : undefined,
      });
      const posted = await postApprovalCard(step.context, this.approvals, request);
      // Not awaited: cards to many approvers go out through the outbox at Teams' pace, after this answer.
      // The request stands either way; approvers also find it with "approvals".
      void this.approverNotice.requestCreated(posted, approvers).catch(() => undefined);
      const missed = unreachableNames.length > 0 ? ` I could not reach ${nameList(unreachableNames)} in Teams.` : '';
      await step.context.sendActivity(
        `Sent for approval to ${nameList(approverNames) || 'the approvers'}. Nothing is assigned until one of them approves; I will tell you the result. The request expires in ${formatCount(Math.round(this.approvals.expiryMs / 3_600_000))} hours.${missed}`,
      );
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
