import { randomUUID } from 'node:crypto';
import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { choiceQuestionCard } from '../../cards/tokenCards';
import { checkGroup } from '../../services/assignments/AssignmentPlanner';
import { echoArgument, escapeMarkdown, looksLikeToken, TOKEN_LIKE_MESSAGE } from '../../services/common/chatText';
import type { AssignmentDirectory } from '../../services/assignments/ports';
import type { DirectoryGroup } from '../../services/directory/GraphDirectory';
import { DirectoryNotFoundError } from '../../services/directory/errors';
import type { GroupMemberCounts } from '../../services/directory/GroupMemberCounts';
import { groupChoiceTitle } from '../../services/search/GroupResults';
import { endWithError } from '../chatErrors';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { cardMessage } from '../replies';
import { SearchChoicePrompt, searchAnswerSchema } from '../search/SearchChoicePrompt';
import { GROUP_SEARCH_BOX, markAnswered } from '../search/searchQuestion';
import { askSearch, refusalSchema } from './askSearch';

export const pickedGroupSchema = z.object({
  id: z.string().min(1).max(128),
  displayName: z.string().max(256),
  membershipType: z.enum(['assigned', 'dynamic']),
  deviceRule: z.boolean(),
  deviceCount: z.number().int().min(0),
});
export type PickedGroup = z.infer<typeof pickedGroupSchema>;

export const MAX_GROUPS = 20;

const pickedGroupsSchema = z.array(pickedGroupSchema).max(MAX_GROUPS);
/** A group id as the search box submits it: Entra object ids are GUIDs; anything else is never sent to Graph. */
const searchedGroupIdSchema = z.string().regex(/^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i);
const pickState = flowState(
  'pick groups',
  z.object({
    /** The groups a search found, while it asks which one. */
    candidates: z.array(pickedGroupSchema.omit({ deviceCount: true }).extend({ description: z.string().max(1024).optional() })).max(10),
    /** The group picked in the search box. */
    searched: z.object({ id: searchedGroupIdSchema }),
    /**
     * The card whose answer is being checked (the search box's, or the "Which group do you mean?" buttons'),
     * and its question: it shows the group once taken, or asks again with why once refused.
     */
    questionCard: z.object({ id: z.string().max(1_000).optional(), question: z.string().max(2_000) }),
    /** The groups so far with the one just checked, while it asks whether to add another. */
    next: pickedGroupsSchema,
  }),
  /** The groups picked before this round: each round starts again with them; and why the last answer was refused. */
  z.object({ picked: pickedGroupsSchema, refusal: refusalSchema.optional() }),
);
const ASK = 'pickGroups.ask';
const PICK = 'pickGroups.pick';
const MORE = 'pickGroups.more';

const GROUP_GONE_MESSAGE = 'That group is no longer in the directory (it may have been deleted). Pick another one.';

/** The question, with how to answer it by typing. */
function questionFor(picked: readonly PickedGroup[]): string {
  return picked.length === 0 ? 'Which **user group** should get the book? Pick it in the search box, or type part of its name.' : 'Which other group? Pick it in the search box, type part of its name, or type **done** to continue.';
}

/** The question as its answered card shows it. */
function plainQuestion(picked: readonly PickedGroup[]): string {
  return picked.length === 0 ? 'Which **user group** should get the book?' : 'Which other group?';
}

/**
 * Asks for one or more user groups: search by name, pick among matches, refuse device groups by name,
 * take only the users of a mixed group. Ends with the picked groups (possibly none, on "cancel").
 */
export class PickGroupsDialog extends ComponentDialog {
  static readonly id = 'pickGroups';

  constructor(
    private readonly directory: AssignmentDirectory,
    /** Member counts on the "Which group do you mean?" buttons; without it the buttons show names only. */
    private readonly counts?: Pick<GroupMemberCounts, 'countsFor'>,
  ) {
    super(PickGroupsDialog.id);
    this.addDialog(new SearchChoicePrompt(ASK));
    this.addDialog(new CardChoicePrompt(PICK));
    this.addDialog(new CardChoicePrompt(MORE));
    this.addDialog(
      new WaterfallDialog('pickGroups.steps', [(s) => this.ask(s), (s) => this.search(s), (s) => this.check(s), (s) => this.more(s)]),
    );
    this.initialDialogId = 'pickGroups.steps';
  }

  private picked(step: WaterfallStepContext): PickedGroup[] {
    return pickState.options(step).picked;
  }

  private async ask(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { picked, refusal } = pickState.options(step);
    return askSearch(step, ASK, {
      question: questionFor(picked),
      box: GROUP_SEARCH_BOX,
      retryPrompt: 'Pick a group in the search box, type part of its name, or type **cancel**.',
      refusal,
      onCardReused: (id) => pickState.write(step, { questionCard: { id, question: plainQuestion(picked) } }),
    });
  }

  /** The group question again, in place of the card whose answer was refused, with why. */
  private reask(step: WaterfallStepContext, message: string, cardId: string | undefined): Promise<DialogTurnResult> {
    return step.replaceDialog(PickGroupsDialog.id, { picked: this.picked(step), refusal: { message, cardId } });
  }

  private async search(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const picked = this.picked(step);
    const answer = searchAnswerSchema.parse(step.result);
    const searchCard = { id: answer.cardId ?? pickState.read(step).questionCard?.id, question: plainQuestion(picked) };
    if (answer.kind === 'picked') {
      const id = searchedGroupIdSchema.safeParse(answer.value);
      if (!id.success) return this.reask(step, GROUP_GONE_MESSAGE, searchCard.id);
      pickState.write(step, { searched: { id: id.data }, questionCard: searchCard });
      return step.next(id.data);
    }
    const text = answer.text;
    if (text.toLowerCase() === 'done' && picked.length > 0) {
      await markAnswered(step.context, searchCard.id, searchCard.question, 'done');
      return step.endDialog(picked);
    }
    // A pasted token would otherwise go to Graph as a search term (and is never shown back).
    if (looksLikeToken(text)) return this.reask(step, TOKEN_LIKE_MESSAGE, searchCard.id);
    let groups: DirectoryGroup[];
    try {
      groups = await this.directory.searchGroups(text, { top: 10 });
      if (groups.length === 0) groups = await this.directory.findGroupsByPrefix(text, { top: 10 });
    } catch (err) {
      return endWithError(step, err);
    }
    if (groups.length === 0) return this.reask(step, `No group matches ${echoArgument(text)}. Try another part of its name.`, searchCard.id);
    const shown = groups.slice(0, 10);
    const candidates = shown.map((g) => ({ id: g.id, displayName: g.displayName, membershipType: g.membershipType, deviceRule: g.deviceRule, description: g.description?.slice(0, 1024) }));
    const only = candidates[0];
    if (candidates.length === 1 && only) {
      pickState.write(step, { candidates, questionCard: searchCard });
      return step.next(only.id);
    }
    // The search term is taken; the group is not yet, so the buttons' card is sent here and replaced by this
    // dialog once the group picked on it is accepted or refused.
    await markAnswered(step.context, searchCard.id, searchCard.question, echoArgument(text));
    // What each group holds, so the admin can tell "Year 9" apart from "Year 9 iPads" before choosing.
    const counts = this.counts ? await this.counts.countsFor(shown) : new Map();
    const choices = shown.map((g) => ({ title: groupChoiceTitle(g, counts.get(g.id)), value: g.id }));
    const ref = randomUUID();
    const question = 'Which group do you mean?';
    const validations: CardChoiceValidations = { ref, choices: candidates.map((g, i) => ({ value: g.id, synonyms: [g.displayName.toLowerCase()], title: choices[i]?.title })) };
    const sent = await step.context.sendActivity(cardMessage(choiceQuestionCard({ ref, question, choices })));
    pickState.write(step, { candidates, questionCard: { id: sent?.id, question } });
    return step.prompt(PICK, { retryPrompt: 'Pick a group with the buttons above, type its full name, or type **cancel**.', validations });
  }

  private async check(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const picked = this.picked(step);
    const { candidates = [], searched, questionCard } = pickState.read(step);
    const id = String(step.result);
    // A button answer is one of the candidates (the prompt checked it); a search-box pick is looked up by id.
    const candidate = candidates.find((g) => g.id === id);
    const target = candidate ? { ...candidate, description: candidate.description } : searched?.id === id ? id : undefined;
    if (!target) return step.replaceDialog(PickGroupsDialog.id, { picked });
    const already = picked.find((g) => g.id === id);
    if (already) return this.reask(step, `"${escapeMarkdown(already.displayName)}" is already in the list.`, questionCard?.id);
    let result;
    try {
      result = await checkGroup(this.directory, target);
    } catch (err) {
      if (err instanceof DirectoryNotFoundError) return this.reask(step, GROUP_GONE_MESSAGE, questionCard?.id);
      return endWithError(step, err);
    }
    const group = result.group;
    if (!result.ok) return this.reask(step, result.message, questionCard?.id);
    if (questionCard) await markAnswered(step.context, questionCard.id, questionCard.question, `**${escapeMarkdown(group.displayName)}**`);
    if (result.note) await step.context.sendActivity(result.note);
    const next = [...picked, { id: group.id, displayName: group.displayName, membershipType: group.membershipType, deviceRule: group.deviceRule, deviceCount: group.classification.deviceCount }];
    pickState.write(step, { next });
    if (next.length >= MAX_GROUPS) return step.endDialog(next);
    const ref = randomUUID();
    const question = `Groups so far: ${next.map((g) => `**${escapeMarkdown(g.displayName)}**`).join(', ')}.`;
    const validations: CardChoiceValidations = {
      ref,
      question,
      choices: [
        { value: 'continue', synonyms: ['continue', 'done', 'next', 'no'], title: 'Continue' },
        { value: 'add', synonyms: ['add', 'another', 'add another', 'yes'], title: 'Add another group' },
      ],
    };
    const card = choiceQuestionCard({
      ref,
      question,
      choices: [
        { title: 'Continue', value: 'continue' },
        { title: 'Add another group', value: 'add' },
      ],
    });
    return step.prompt(MORE, { prompt: cardMessage(card), retryPrompt: 'Choose **continue** or **add** another group, or type **cancel**.', validations });
  }

  private async more(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { next } = pickState.read(step, 'next');
    if (step.result === 'add') return step.replaceDialog(PickGroupsDialog.id, { picked: next });
    return step.endDialog(next);
  }
}
