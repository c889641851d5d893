import { Prompt, type PromptOptions, type PromptRecognizerResult } from 'botbuilder-dialogs';
import type { Activity, TurnContext } from 'botbuilder';
import { z } from 'zod';
import { mayBeTokenPaste } from '../../services/apple/VppTokenFile';
import { echoArgument } from '../../services/common/chatText';
import type { TokenUpload } from '../../services/tokens/TokenFileReader';
import { BUILT_IN_COMMANDS } from '../commandCatalog';
import { normaliseText, suggestCommands } from '../parseCommand';

const TEAMS_FILE_DOWNLOAD = 'application/vnd.microsoft.teams.file.download.info';
/** Attachments Teams adds to every message or that carry cards, never a file. */
const NOT_A_FILE = new Set(['text/html', 'application/vnd.microsoft.card.adaptive', 'application/vnd.microsoft.card.hero']);

const teamsFileSchema = z.object({
  contentType: z.literal(TEAMS_FILE_DOWNLOAD),
  name: z.string().optional(),
  content: z.object({ downloadUrl: z.string().min(1), fileType: z.string().optional() }),
});
const genericAttachmentSchema = z.object({
  contentType: z.string(),
  name: z.string().optional(),
  contentUrl: z.string().optional(),
  content: z.unknown().optional(),
});

/**
 * Reads where the token file is in a message: a Teams file upload (personal chat), another channel's
 * attachment (URL or inline content), or pasted text. Returns undefined when the message has none.
 */
function tokenUploadFrom(activity: Partial<Activity>): TokenUpload | undefined {
  for (const raw of activity.attachments ?? []) {
    const teamsFile = teamsFileSchema.safeParse(raw);
    if (teamsFile.success) return { kind: 'url', url: teamsFile.data.content.downloadUrl, name: teamsFile.data.name };
    const generic = genericAttachmentSchema.safeParse(raw);
    if (!generic.success || NOT_A_FILE.has(generic.data.contentType)) continue;
    if (typeof generic.data.content === 'string') return { kind: 'inline', content: generic.data.content, name: generic.data.name };
    if (generic.data.contentUrl) return { kind: 'url', url: generic.data.contentUrl, name: generic.data.name };
  }
  const text = normaliseText(activity.text);
  // Only text that may be a token is read as one: a typed command ("upload token" again), a typo ("cancle") or
  // a question is asked for again rather than refused as a broken token and counted as a try.
  return mayBeTokenPaste(text) ? { kind: 'text', text } : undefined;
}

/**
 * What to say about text that was no file, before the question again: the command it nearly is, among those
 * that work while the file is awaited (cancel and help interrupt any flow; any other is not run here).
 */
function nearCommand(text: string | undefined): string | undefined {
  const suggestion = suggestCommands(normaliseText(text), [...BUILT_IN_COMMANDS]);
  const command = suggestion?.commands[0];
  return suggestion && command ? `${echoArgument(suggestion.typed)} is not a token file. Did you mean **${command}**?` : undefined;
}

/** Waits for a message that carries a token file or pasted token text (a typed command or question is neither). */
export class TokenFilePrompt extends Prompt<TokenUpload> {
  constructor(dialogId: string) {
    super(dialogId);
  }

  protected async onPrompt(context: TurnContext, _state: object, options: PromptOptions, isRetry: boolean): Promise<void> {
    const message = isRetry && options.retryPrompt ? options.retryPrompt : options.prompt;
    const hint = isRetry ? nearCommand(context.activity.text) : undefined;
    if (hint && typeof message === 'string') await context.sendActivity(`${hint} ${message}`);
    else if (message) await context.sendActivity(message);
  }

  protected async onRecognize(context: TurnContext): Promise<PromptRecognizerResult<TokenUpload>> {
    const upload = tokenUploadFrom(context.activity);
    return upload ? { succeeded: true, value: upload } : { succeeded: false };
  }
}
