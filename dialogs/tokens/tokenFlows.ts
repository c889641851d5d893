import type { TokenFileReader } from '../../services/tokens/TokenFileReader';
import type { TokenService } from '../../services/tokens/TokenService';
import type { FlowRegistration } from '../flows';
import { RemoveTokenDialog } from './RemoveTokenDialog';
import { RenewTokenDialog } from './RenewTokenDialog';
import { tokensCommand } from './tokensCommand';
import { UploadTokenDialog } from './UploadTokenDialog';

export interface TokenFlowDependencies {
  tokens: TokenService;
  reader: TokenFileReader;
  now?: () => Date;
}

/** The token lifecycle commands: listing works anywhere, changes only in a personal chat. */
export function tokenFlows({ tokens, reader, now }: TokenFlowDependencies): FlowRegistration[] {
  return [
    { command: 'upload token', dialog: new UploadTokenDialog(tokens, reader, now), adminOnly: true, personalChatOnly: true },
    { command: 'tokens', answer: tokensCommand(tokens, now), adminOnly: true, personalChatOnly: false },
    { command: 'renew', dialog: new RenewTokenDialog(tokens, reader, now), adminOnly: true, personalChatOnly: true },
    { command: 'remove', dialog: new RemoveTokenDialog(tokens), adminOnly: true, personalChatOnly: true },
  ];
}
