/** The commands the bot understands: one list feeds the help card, the router and the manifest. */
export interface CommandInfo {
  /** What the admin types. */
  command: string;
  title: string;
  description: string;
  /** False while the flow is still being built; the router says so instead of pretending. */
  available: boolean;
}

export const COMMANDS: readonly CommandInfo[] = [
  { command: 'help', title: 'Help', description: 'Show this list of commands.', available: true },
  {
    command: 'upload token',
    title: 'Upload a VPP token',
    description: 'Add a .vpptoken file from Apple Business Manager or Apple School Manager.',
    available: false,
  },
  { command: 'tokens', title: 'VPP tokens', description: 'List tokens with expiry and sync state; renew or remove one.', available: false },
  { command: 'sync', title: 'Sync now', description: 'Sync licenses with Apple for one token or all of them.', available: false },
  { command: 'books', title: 'Books', description: 'Browse purchased books and their license counts.', available: false },
  { command: 'assign', title: 'Assign a book', description: 'Assign a book to user groups as Required or Available.', available: false },
  { command: 'status', title: 'Status', description: 'Token health, or assignment status of a book: status followed by a book title.', available: false },
  { command: 'approvals', title: 'Approvals', description: 'Assignment requests waiting for a decision.', available: false },
  { command: 'cancel', title: 'Cancel', description: 'Stop the current step at any time.', available: true },
];
