import { promises as fs } from 'node:fs';
import type { z } from 'zod';
import type { Logger } from '../services/logging/logger';

/** A local fake's state-file trouble, in its logger or, started without one (its cli), as a process warning. */
export function warnAboutStateFile(logger: Logger | undefined, details: Record<string, unknown>, message: string): void {
  if (logger) logger.warn(details, message);
  else process.emitWarning(`${message} ${JSON.stringify(details)}`);
}

/** Where in a state file it went wrong, without the values: the files hold people's names and addresses. */
export function describeStateFileIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`)
    .join('; ');
}

/**
 * Renames an unusable state file `<file>.unreadable-<time>` and says so; false when it could not be renamed
 * (then it must not be written over). `messages` name the fake and what it does instead.
 */
export async function moveStateFileAside(file: string, reason: string, logger: Logger | undefined, messages: { moved: string; notMoved: string }): Promise<boolean> {
  const aside = `${file}.unreadable-${Date.now()}`;
  try {
    await fs.rename(file, aside);
  } catch (err) {
    warnAboutStateFile(logger, { file, reason, code: (err as NodeJS.ErrnoException).code }, messages.notMoved);
    return false;
  }
  warnAboutStateFile(logger, { file: aside, reason }, messages.moved);
  return true;
}
