import { Prompt, type PromptOptions, type PromptRecognizerResult, type PromptValidatorContext } from 'botbuilder-dialogs';
import type { TurnContext } from 'botbuilder';
import { z } from 'zod';
import { echoArgument, looksLikeToken } from '../../services/common/chatText';
import { emailSchema } from '../../services/common/email';
import { formatCount } from '../../services/common/format';
import { normaliseText, parseCommand } from '../parseCommand';

/** Answers read before the question is given up: the first one and two more after a refusal. */
const MAX_APPLE_ID_TRIES = 3;

/** The Apple Account (its e-mail address) typed, or that none came within MAX_APPLE_ID_TRIES answers (the flow then ends). */
export const appleIdAnswerSchema = z.union([z.object({ appleId: emailSchema }), z.object({ gaveUp: z.literal(true) })]);
type AppleIdAnswer = z.infer<typeof appleIdAnswerSchema>;

/**
 * The prompt's own state between turns (dialog state: read back, not trusted to fit): the wrong answers so far
 * (botbuilder's attemptCount counts every message, a command typed meanwhile too), and why the last one was
 * refused or which command came instead.
 */
const promptStateSchema = z
  .object({ wrongAnswers: z.number().int().min(0).optional(), refusal: z.string().optional(), command: z.string().optional() })
  .loose();

const EXAMPLE = 'for example vpp-admin@contoso.com';

/** Why `typed` is not an Apple Account, in words that say what to change; never repeats a token. */
function refusal(typed: string): string {
  if (!typed) return "I need the Apple Account's e-mail address typed as text";
  if (looksLikeToken(typed)) return 'That looks like the VPP token itself, not an Apple Account, so I will not repeat it here';
  const why = !typed.includes('@') ? 'it has no @' : /\s/.test(typed) ? 'an e-mail address has no spaces' : 'it is not a complete e-mail address';
  return `${echoArgument(typed)} is not an Apple Account: ${why}`;
}

export const GAVE_UP_ON_APPLE_ID = `I did not get an Apple Account in ${formatCount(MAX_APPLE_ID_TRIES)} tries, so I stopped here; nothing was saved. Type **upload token** to start again.`;

/**
 * Counts the refused answers and says why each was refused. botbuilder calls it once per answer (recognition
 * may run more than once a turn, so the counting is here); after the last try the prompt ends with `gaveUp`.
 * A command typed instead ("sync") is no attempt at an Apple Account: it is not counted.
 */
async function validate(prompt: PromptValidatorContext<AppleIdAnswer>): Promise<boolean> {
  if (prompt.recognized.succeeded) return true;
  const state = prompt.state as Record<string, unknown>;
  const typed = normaliseText(prompt.context.activity.text);
  const parsed = parseCommand(typed);
  if (parsed.kind === 'command') {
    state.command = parsed.command;
    return false;
  }
  state.command = undefined;
  state.refusal = refusal(typed);
  const wrongAnswers = (promptStateSchema.parse(state).wrongAnswers ?? 0) + 1;
  state.wrongAnswers = wrongAnswers;
  if (wrongAnswers < MAX_APPLE_ID_TRIES) return false;
  prompt.recognized.value = { gaveUp: true };
  return true;
}

/** The question again after a command came instead of an answer; the command is not run (nor counted). */
function waitingMessage(command: string): string {
  return `I am still waiting for the Apple Account for this token, so I did not run **${command}**. Type the e-mail address of the Apple Account (${EXAMPLE}), or **cancel** to stop this upload.`;
}

/**
 * Asks for the Apple Account (Apple's name for an Apple ID since 2024) that administers the VPP account. A wrong
 * answer is told what is wrong with it and asked again, at most MAX_APPLE_ID_TRIES times in all; then the prompt
 * ends with `gaveUp`.
 */
export class AppleIdPrompt extends Prompt<AppleIdAnswer> {
  constructor(dialogId: string) {
    super(dialogId, validate);
  }

  protected async onPrompt(context: TurnContext, state: object, options: PromptOptions, isRetry: boolean): Promise<void> {
    const { refusal: why, command, wrongAnswers = 0 } = promptStateSchema.parse(state);
    if (isRetry && command) {
      await context.sendActivity(waitingMessage(command));
      return;
    }
    const message = isRetry && why ? `${why}. Type the e-mail address of the Apple Account (${EXAMPLE}), or **cancel** (try ${formatCount(wrongAnswers + 1)} of ${formatCount(MAX_APPLE_ID_TRIES)}).` : options.prompt;
    if (message) await context.sendActivity(message);
  }

  protected async onRecognize(context: TurnContext): Promise<PromptRecognizerResult<AppleIdAnswer>> {
    const email = emailSchema.safeParse(normaliseText(context.activity.text));
    return email.success ? { succeeded: true, value: { appleId: email.data } } : { succeeded: false };
  }
}
