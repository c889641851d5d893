/**
 * Microsoft's names for the places in Intune an admin goes to, as the Intune admin center shows them. Every
 * message takes them from here, so a moved menu is one line.
 */

/** Intune's console page for VPP tokens, where a token is also renewed or removed. */
export const INTUNE_TOKENS_PAGE = 'the Intune admin center (Tenant administration › Connectors and tokens › Apple VPP tokens)';
