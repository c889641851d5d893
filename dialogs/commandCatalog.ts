import { APPLE_PORTALS } from '../services/common/appleTerms';
import type { BackendKind } from '../services/backend/ports';
/** The commands the bot understands: one list feeds the help card, the router and the manifest. */
export interface CommandInfo {
  /** What the admin types. */
  command: string;
  title: string;
  description: string;
  /** False keeps it out of Teams' command menu (at most 10 entries); it still works when typed. */
  teamsMenu?: boolean;
  /** What it does in Intune mode, where that differs (VPP_BACKEND=intune: Intune holds the tokens and assigns). */
  inIntune?: string;
}

/** Commands the main dialog answers itself; every other command needs a registered flow. */
export const BUILT_IN_COMMANDS: ReadonlySet<string> = new Set(['help', 'cancel']);

export const COMMANDS: readonly CommandInfo[] = [
  { command: 'help', title: 'Help', description: 'Show this list of commands.' },
  {
    command: 'upload token',
    title: 'Upload a VPP token',
    description: `Add a .vpptoken file from ${APPLE_PORTALS}.`,
    inIntune: `Add a .vpptoken file from ${APPLE_PORTALS} to Intune.`,
  },
  { command: 'tokens', title: 'VPP tokens', description: 'List tokens with expiry and sync state; renew or remove one.' },
  { command: 'renew', title: 'Renew a token', description: 'Replace a token with the newer file for the same Apple location: renew followed by the token name.', teamsMenu: false },
  { command: 'remove', title: 'Remove a token', description: 'Remove a token and its books from the bot: remove followed by the token name.', inIntune: 'Remove a token from Intune and the bot: remove followed by the token name.', teamsMenu: false },
  { command: 'sync', title: 'Sync now', description: 'Sync licenses with Apple for one token or all of them.', inIntune: 'Have Intune sync licenses with Apple for one token or all of them.' },
  { command: 'books', title: 'Books', description: 'Browse purchased books and their license counts.' },
  { command: 'assign', title: 'Assign a book', description: 'Assign a book to user groups as Required or Available.' },
  { command: 'status', title: 'Status', description: 'Token health, or assignment status of a book: status followed by a book title.' },
  { command: 'approvals', title: 'Approvals', description: 'Assignment requests waiting for a decision.' },
  {
    command: 'reconcile',
    title: 'Reconcile assignments',
    description: 'Give the book to people who joined an assigned group since, within the approved licenses (also done after every sync): reconcile, or reconcile followed by a book title.',
    inIntune: 'Count who joined the assigned groups since, and ask for more licenses when they outgrow the approved ones (also done after every sync): reconcile, or reconcile followed by a book title.',
    teamsMenu: false,
  },
  { command: 'resume', title: 'Resume assignments', description: 'Go on with assignments paused because Apple was unavailable (they also resume by themselves).', inIntune: 'Go on with assignments paused because Intune was unavailable (they also resume by themselves).', teamsMenu: false },
  // For everyone of the organisation, admins too (a personal-chat command); in the menu, since it is what members use.
  { command: 'my books', title: 'My books', description: 'The books available to you, with a Get button, and the books already yours.', inIntune: 'The books assigned to you, and where each one comes from: Company Portal, or your managed iPad or iPhone by itself.' },
  { command: 'cancel', title: 'Cancel', description: 'Stop the current step at any time.' },
];

/** The help card's list in one mode: Intune's wording where a command does something else there. */
export function commandsFor(backend: BackendKind): Array<{ command: string; description: string }> {
  return COMMANDS.map((c) => ({ command: c.command, description: backend === 'intune' ? (c.inIntune ?? c.description) : c.description }));
}
