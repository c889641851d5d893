import { memberHelpCommands } from '../../cards/myBooksCards';

/**
 * What someone who is not an admin may run: the commands their help card lists, and `cancel`. A suggestion
 * for a mistyped command comes from these, so nobody is pointed at a command that would only refuse them
 * (the command names are the same in both modes; only their descriptions differ).
 */
export function memberCommands(approver: boolean): readonly string[] {
  return [...memberHelpCommands({ approver, backend: 'apple' }).map((c) => c.command), 'cancel'];
}
