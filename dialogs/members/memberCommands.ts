/**
 * What someone who is not an admin may run: `my books`, `help` and `cancel`, and `approvals` for an approver
 * (the commands their help card lists, cards/myBooksCards.ts). A suggestion for a mistyped command comes
 * from these, so nobody is pointed at a command that would only refuse them.
 */
export function memberCommands(approver: boolean): readonly string[] {
  return ['my books', ...(approver ? ['approvals'] : []), 'help', 'cancel'];
}
