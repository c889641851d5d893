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
import { SearchChoicePrompt, searchAnswerSchema, type SearchChoiceValidations } from '../search/SearchChoicePrompt';
import { GROUP_SEARCH_BOX, markAnswered, searchQuestion } from '../search/searchQuestion';

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
    /** The group picked in the search box, and its question card (replaced once the group is known by name). */
    searched: z.object({ id: searchedGroupIdSchema, cardId: z.string().max(1_000).optional() }),
    /** The groups so far with the one just checked, while it asks whether to add another. */
    next: pickedGroupsSchema,
  }),
  /** The groups picked before this round: each round starts again with them. */
  z.object({ picked: pickedGroupsSchema }),
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
    const ref = randomUUID();
    const validations: SearchChoiceValidations = { ref };
    return step.prompt(ASK, {
      prompt: searchQuestion(questionFor(this.picked(step)), GROUP_SEARCH_BOX, ref),
      retryPrompt: 'Pick a group in the search box, type part of its name, or type **cancel**.',
      validations,
    });
  }

  private async search(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const picked = this.picked(step);
    const answer = searchAnswerSchema.parse(step.result);
    if (answer.kind === 'picked') {
      const id = searchedGroupIdSchema.safeParse(answer.value);
      if (!id.success) {
        await step.context.sendActivity(GROUP_GONE_MESSAGE);
        return step.replaceDialog(PickGroupsDialog.id, { picked });
      }
      pickState.write(step, { searched: { id: id.data, cardId: answer.cardId } });
      return step.next(id.data);
    }
    const text = answer.text;
    await markAnswered(step.context, answer.cardId, plainQuestion(picked), echoArgument(text));
    if (text.toLowerCase() === 'done' && picked.length > 0) return step.endDialog(picked);
    // A pasted token would otherwise go to Graph as a search term.
    if (looksLikeToken(text)) {
      await step.context.sendActivity(TOKEN_LIKE_MESSAGE);
      return step.replaceDialog(PickGroupsDialog.id, { picked });
    }
    let groups: DirectoryGroup[];
    try {
      groups = await this.directory.searchGroups(text, { top: 10 });
      if (groups.length === 0) groups = await this.directory.findGroupsByPrefix(text, { top: 10 });
    } catch (err) {
      return endWithError(step, err);
    }
    if (groups.length === 0) {
      await step.context.sendActivity(`No group matches ${echoArgument(text)}. Try another part of its name.`);
      return step.replaceDialog(PickGroupsDialog.id, { picked });
    }
    const shown = groups.slice(0, 10);
    const candidates = shown.map((g) => ({ id: g.id, displayName: g.displayName, membershipType: g.membershipType, deviceRule: g.deviceRule, description: g.description?.slice(0, 1024) }));
    pickState.write(step, { candidates });
    const only = candidates[0];
    if (candidates.length === 1 && only) return step.next(only.id);
    // What each group holds, so the admin can tell "Year 9" apart from "Year 9 iPads" before choosing.
    const counts = this.counts ? await this.counts.countsFor(shown) : new Map();
    const choices = shown.map((g) => ({ title: groupChoiceTitle(g, counts.get(g.id)), value: g.id }));
    const ref = randomUUID();
    const question = 'Which group do you mean?';
    const validations: CardChoiceValidations = { ref, question, choices: candidates.map((g, i) => ({ value: g.id, synonyms: [g.displayName.toLowerCase()], title: choices[i]?.title })) };
    const card = choiceQuestionCard({ ref, question, choices });
    return step.prompt(PICK, { prompt: cardMessage(card), retryPrompt: 'Pick a group with the buttons above, type its full name, or type **cancel**.', validations });
  }

  private async check(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const picked = this.picked(step);
    const { candidates = [], searched } = pickState.read(step);
    const id = String(step.result);
    // A button answer is one of the candidates (the prompt checked it); a search-box pick is looked up by id.
    const candidate = candidates.find((g) => g.id === id);
    const target = candidate ? { ...candidate, description: candidate.description } : searched?.id === id ? id : undefined;
    if (!target) return step.replaceDialog(PickGroupsDialog.id, { picked });
    const already = picked.find((g) => g.id === id);
    if (already) {
      if (searched?.id === id) await markAnswered(step.context, searched.cardId, plainQuestion(picked), `**${escapeMarkdown(already.displayName)}**`);
      await step.context.sendActivity(`"${escapeMarkdown(already.displayName)}" is already in the list.`);
      return step.replaceDialog(PickGroupsDialog.id, { picked });
    }
    let result;
    try {
      result = await checkGroup(this.directory, target);
    } catch (err) {
      if (err instanceof DirectoryNotFoundError) {
        await step.context.sendActivity(GROUP_GONE_MESSAGE);
        return step.replaceDialog(PickGroupsDialog.id, { picked });
      }
      return endWithError(step, err);
    }
    const group = result.group;
    if (searched?.id === id) await markAnswered(step.context, searched.cardId, plainQuestion(picked), `**${escapeMarkdown(group.displayName)}**`);
    if (!result.ok) {
      await step.context.sendActivity(result.message);
      return step.replaceDialog(PickGroupsDialog.id, { picked });
    }
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
