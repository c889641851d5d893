import type { BackendKind } from '../../services/backend/ports';
import { commandsFor } from '../commandCatalog';

/**
 * What someone who is not a VPP Books admin may type, as their help card lists it (`my books` in the mode's
 * words, from the one command catalogue). Their typo suggestions come from the same list, so nobody is
 * pointed at a command that would only refuse them.
 */
export function memberHelpCommands(options: { approver: boolean; backend: BackendKind }): Array<{ command: string; description: string }> {
  const myBooks = commandsFor(options.backend).find((c) => c.command === 'my books');
  return [
    ...(myBooks ? [myBooks] : []),
    ...(options.approver ? [{ command: 'approvals', description: 'Assignment requests waiting for your decision.' }] : []),
    { command: 'help', description: 'Show this help.' },
  ];
}

/** What someone who is not an admin may run: the commands their help card lists, and `cancel` (the names are the same in both modes). */
export function memberCommands(approver: boolean): readonly string[] {
  return [...memberHelpCommands({ approver, backend: 'apple' }).map((c) => c.command), 'cancel'];
}
