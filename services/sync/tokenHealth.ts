import { escapeMarkdown } from '../common/chatText';
import type { VppToken } from '../store/entities/vppToken';

type TokenHealth = 'healthy' | 'warning' | 'unhealthy';

export interface TokenHealthReport {
  health: TokenHealth;
  /** Why it is not healthy, most serious first, as chat Markdown; empty when healthy. */
  reasons: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Intune's thresholds: a token expiring within this many days is a warning. */
const EXPIRY_WARNING_DAYS = 7;
const SYNC_WARNING_DAYS = 1;
const SYNC_UNHEALTHY_DAYS = 3;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Intune-style health: unhealthy when the token cannot sync (expired, revoked, another MDM) or has not
 * synced for 3 days; warning when it expires within 7 days or has not synced for a day.
 */
export function tokenHealth(token: VppToken, now: Date): TokenHealthReport {
  const unhealthy: string[] = [];
  const warning: string[] = [];
  const msLeft = Date.parse(token.expirationDateTime) - now.getTime();
  if (msLeft <= 0 || token.state === 'expired') unhealthy.push('The token has expired: download a new one from Apple and renew it.');
  else if (token.state === 'invalid') unhealthy.push('Apple no longer accepts the token (revoked or replaced): renew it with the newest file.');
  else if (token.state === 'assignedToExternalMDM')
    unhealthy.push(
      token.intuneTokenId
        ? 'Another MDM manages the token now, says Intune: renew it with its newest file to give it back to Intune.'
        : `${token.externalMdm?.name ? escapeMarkdown(token.externalMdm.name) : 'Another MDM'} manages the token now: upload it again to take control back.`,
    );
  else if (token.state === 'duplicateLocation')
    unhealthy.push(token.intuneTokenId ? 'Another of Intune\'s tokens covers the same Apple location: keep using that one.' : 'Another token covers the same Apple location: remove one of them.');
  else if (msLeft <= EXPIRY_WARNING_DAYS * DAY_MS) warning.push(`The token expires in ${plural(Math.max(0, Math.floor(msLeft / DAY_MS)), 'day')}: renew it soon.`);

  // A token never synced counts from its upload, so a fresh one is not flagged at once.
  const lastGood = token.lastSyncDateTime ?? token.createdDateTime;
  const sinceSync = now.getTime() - Date.parse(lastGood);
  const days = Math.floor(sinceSync / DAY_MS);
  const what = token.lastSyncDateTime ? `Last successful sync ${plural(days, 'day')} ago` : `Not synced since it was uploaded ${plural(days, 'day')} ago`;
  if (sinceSync >= SYNC_UNHEALTHY_DAYS * DAY_MS) unhealthy.push(`${what}.`);
  else if (sinceSync > SYNC_WARNING_DAYS * DAY_MS) warning.push(`${what}.`);
  if (token.lastSyncStatus === 'failed' && token.lastError) warning.push(`The last sync failed: ${token.lastError.message}`);

  if (unhealthy.length > 0) return { health: 'unhealthy', reasons: [...unhealthy, ...warning] };
  if (warning.length > 0) return { health: 'warning', reasons: warning };
  return { health: 'healthy', reasons: [] };
}
