import type { BackendKind } from './ports';

/** One line for `help` and `status`: who holds the tokens, so an admin knows what an assignment does. */
export function backendLine(kind: BackendKind): string {
  return kind === 'intune'
    ? 'Mode: **Microsoft Intune** holds the VPP tokens. Books are assigned to groups in Intune; Required books install on managed devices by themselves, Available ones from Company Portal.'
    : 'Mode: **this bot** holds the VPP tokens and licenses each user at Apple itself. Required books are licensed to every member of the groups at once, Available ones when a member asks with **my books**; either way members read them in the Books app.';
}
