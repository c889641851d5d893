import { randomUUID } from 'node:crypto';
import { ComponentDialog, TextPrompt, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { choiceQuestionCard } from '../../cards/tokenCards';
import { checkGroup } from '../../services/assignments/AssignmentPlanner';
import { echoArgument, escapeMarkdown, looksLikeToken, TOKEN_LIKE_MESSAGE } from '../../services/common/chatText';
import type { AssignmentDirectory } from '../../services/assignments/ports';
import type { DirectoryGroup } from '../../services/directory/GraphDirectory';
import { endWithError } from '../chatErrors';
import { flowState } from '../flowState';
import { CardChoicePrompt, type CardChoiceValidations } from '../prompts/CardChoicePrompt';
import { normaliseText } from '../parseCommand';
import { cardMessage } from '../replies';

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
const pickState = flowState(
  'pick groups',
  z.object({
    /** The groups a search found, while it asks which one. */
    candidates: z.array(pickedGroupSchema.omit({ deviceCount: true }).extend({ description: z.string().max(1024).optional() })).max(10),
    /** The groups so far with the one just checked, while it asks whether to add another. */
    next: pickedGroupsSchema,
  }),
  /** The groups picked before this round: each round starts again with them. */
  z.object({ picked: pickedGroupsSchema }),
);
const ASK = 'pickGroups.ask';
const PICK = 'pickGroups.pick';
const MORE = 'pickGroups.more';

/**
 * Asks for one or more user groups: search by name, pick among matches, refuse device groups by name,
 * take only the users of a mixed group. Ends with the picked groups (possibly none, on "cancel").
 */
export class PickGroupsDialog extends ComponentDialog {
  static readonly id = 'pickGroups';

  constructor(private readonly directory: AssignmentDirectory) {
    super(PickGroupsDialog.id);
    this.addDialog(new TextPrompt(ASK));
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
    const picked = this.picked(step);
    const prompt = picked.length === 0 ? 'Which **user group** should get the book? Type part of its name.' : 'Which other group? Type part of its name, or **done** to continue.';
    return step.prompt(ASK, { prompt, retryPrompt: 'Type part of the group name, or **cancel**.' });
  }

  private async search(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const picked = this.picked(step);
    const text = normaliseText(String(step.result ?? ''));
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
    const candidates = groups.slice(0, 10).map((g) => ({ id: g.id, displayName: g.displayName, membershipType: g.membershipType, deviceRule: g.deviceRule, description: g.description?.slice(0, 1024) }));
    pickState.write(step, { candidates });
    const only = candidates[0];
    if (candidates.length === 1 && only) return step.next(only.id);
    const ref = randomUUID();
    const validations: CardChoiceValidations = { ref, choices: candidates.map((g) => ({ value: g.id, synonyms: [g.displayName.toLowerCase()] })) };
    const card = choiceQuestionCard({ ref, question: 'Which group do you mean?', choices: candidates.map((g) => ({ title: g.displayName, value: g.id })) });
    return step.prompt(PICK, { prompt: cardMessage(card), retryPrompt: 'Pick a group with the buttons above, type its full name, or type **cancel**.', validations });
  }

  private async check(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const picked = this.picked(step);
    const { candidates } = pickState.read(step, 'candidates');
    const chosen = candidates.find((g) => g.id === step.result);
    if (!chosen) return step.replaceDialog(PickGroupsDialog.id, { picked });
    if (picked.some((g) => g.id === chosen.id)) {
      await step.context.sendActivity(`"${escapeMarkdown(chosen.displayName)}" is already in the list.`);
      return step.replaceDialog(PickGroupsDialog.id, { picked });
    }
    let result;
    try {
      result = await checkGroup(this.directory, { ...chosen, description: chosen.description });
    } catch (err) {
      return endWithError(step, err);
    }
    if (!result.ok) {
      await step.context.sendActivity(result.message);
      return step.replaceDialog(PickGroupsDialog.id, { picked });
    }
    if (result.note) await step.context.sendActivity(result.note);
    const next = [...picked, { id: chosen.id, displayName: chosen.displayName, membershipType: chosen.membershipType, deviceRule: chosen.deviceRule, deviceCount: result.group.classification.deviceCount }];
    pickState.write(step, { next });
    if (next.length >= MAX_GROUPS) return step.endDialog(next);
    const ref = randomUUID();
    const validations: CardChoiceValidations = {
      ref,
      choices: [
        { value: 'continue', synonyms: ['continue', 'done', 'next', 'no'] },
        { value: 'add', synonyms: ['add', 'another', 'add another', 'yes'] },
      ],
    };
    const card = choiceQuestionCard({
      ref,
      question: `Groups so far: ${next.map((g) => `**${escapeMarkdown(g.displayName)}**`).join(', ')}.`,
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
