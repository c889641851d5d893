import type { TurnContext } from 'botbuilder';
import type { AssignmentRunRepository } from '../../services/assignments/AssignmentRunRepository';
import { flowActor, type FlowOptions } from '../flows';

/** The slice of the executor `resume` needs. */
export interface RunResumer {
  resume(tokenId: string, runId: string): Promise<boolean>;
}

/**
 * "resume": goes on with assignments an Apple outage paused, the one a card's button names or every
 * paused one of the tenant. Each goes on after its last recorded batch, so nobody gets a second license.
 */
export function resumeCommand(runs: AssignmentRunRepository, executor: RunResumer): (context: TurnContext, options: FlowOptions) => Promise<void> {
  return async (context, options) => {
    const actor = flowActor(options, 'resume');
    const runId = options.args?.run;
    if (runId !== undefined && options.tokenId !== undefined) {
      const run = await runs.get(options.tokenId, runId);
      if (!run || run.tenantId !== actor.tenantId) {
        await context.sendActivity('That assignment no longer exists. Type **status** followed by the book title to see where it stands.');
        return;
      }
      const resumed = await executor.resume(run.tokenId, run.id);
      await context.sendActivity(
        resumed
          ? `Resuming the assignment of "${run.bookTitle}". I will tell you when it is done.`
          : `The assignment of "${run.bookTitle}" is not paused (it is ${run.state === 'running' ? 'already running' : run.state}); nothing to resume.`,
      );
      return;
    }
    const paused = await runs.listInterrupted(actor.tenantId);
    let resumed = 0;
    for (const run of paused) if (await executor.resume(run.tokenId, run.id)) resumed++;
    await context.sendActivity(
      resumed === 0
        ? 'No assignment is paused; nothing to resume.'
        : `Resuming ${resumed} paused assignment${resumed === 1 ? '' : 's'}: ${paused.map((r) => `"${r.bookTitle}"`).join(', ')}. I will tell each requester when theirs is done.`,
    );
  };
}
