import type { TurnContext } from 'botbuilder';
import { escapeMarkdown } from '../../services/common/chatText';
import { formatCount } from '../../services/common/format';
import { flowActor, type FlowOptions } from '../flows';

/** What "resume" shows of an assignment run. */
interface ResumableRun {
  id: string;
  tokenId: string;
  tenantId: string;
  bookTitle: string;
  state: string;
  requestedBy: { aadObjectId: string; displayName?: string | undefined };
}

/** The slice of the executor `resume` needs: the runs it would resume, and resuming one. */
export interface RunResumer {
  findRun(tokenId: string, runId: string): Promise<ResumableRun | undefined>;
  interruptedRuns(tenantId: string): Promise<ResumableRun[]>;
  resume(tokenId: string, runId: string, by?: { aadObjectId: string; displayName?: string | undefined }): Promise<boolean>;
}

/**
 * "resume": goes on with assignments an Apple outage paused, the one a card's button names or every
 * paused one of the tenant. Each goes on after its last recorded batch, so nobody gets a second license.
 */
export function resumeCommand(executor: RunResumer): (context: TurnContext, options: FlowOptions) => Promise<void> {
  return async (context, options) => {
    const actor = flowActor(options, 'resume');
    const by = { aadObjectId: actor.aadObjectId, displayName: actor.name };
    const runId = options.args?.run;
    if (runId !== undefined && options.tokenId !== undefined) {
      const run = await executor.findRun(options.tokenId, runId);
      if (!run || run.tenantId !== actor.tenantId) {
        await context.sendActivity('That assignment no longer exists. Type **status** followed by the book title to see where it stands.');
        return;
      }
      const resumed = await executor.resume(run.tokenId, run.id, by);
      await context.sendActivity(
        resumed
          ? `Resuming the assignment of "${escapeMarkdown(run.bookTitle)}". I will tell ${whoAsked(run, actor.aadObjectId)} when it is done.`
          : `The assignment of "${escapeMarkdown(run.bookTitle)}" is not paused (it is ${run.state === 'running' ? 'already running' : run.state}); nothing to resume.`,
      );
      return;
    }
    const resumed = [];
    for (const run of await executor.interruptedRuns(actor.tenantId)) if (await executor.resume(run.tokenId, run.id, by)) resumed.push(run);
    await context.sendActivity(
      resumed.length === 0
        ? 'No assignment is paused; nothing to resume.'
        : `Resuming ${formatCount(resumed.length)} paused assignment${resumed.length === 1 ? '' : 's'}: ${resumed.map((r) => `"${escapeMarkdown(r.bookTitle)}"`).join(', ')}. Whoever asked for each is told when it is done.`,
    );
  };
}

/** "you" for the requester themself, their name otherwise: the result goes to whoever asked. */
function whoAsked(run: { requestedBy: { aadObjectId: string; displayName?: string | undefined } }, actorId: string): string {
  if (run.requestedBy.aadObjectId.toLowerCase() === actorId.toLowerCase()) return 'you';
  return run.requestedBy.displayName ? escapeMarkdown(run.requestedBy.displayName) : 'the admin who asked for it';
}
