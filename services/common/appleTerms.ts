/**
 * Apple's names for the places an admin has to go, written as Apple's own user guides write them
 * (docs/STYLE-GUIDE.md, "Apple's words", quotes the pages). Every message takes them from here, so when Apple
 * moves a menu one line changes, and test/style/formats.test.ts keeps hand-written copies out.
 */

/**
 * Apple's guides say "Apple Business" since Apple's April 2026 update; admins, the manifest and the rest of
 * the bot still say "Apple Business Manager". One constant, so the rename is one line when the owner makes it.
 */
const APPLE_BUSINESS = 'Apple Business Manager';
const APPLE_SCHOOL = 'Apple School Manager';

/** Where an organisation buys licenses and manages its locations: "Apple Business Manager or Apple School Manager". */
export const APPLE_PORTALS = `${APPLE_BUSINESS} or ${APPLE_SCHOOL}`;

/** Apple Business User Guide, "Manage content tokens": "choose Settings > Payments & Billing. Select Apps & Books, then select Download". */
const BUSINESS_TOKEN_PATH = 'Settings > Payments & Billing > Apps & Books';

/** Apple School Manager User Guide, "Manage content tokens": "Select your name …, select Preferences, then select Payments & Billing. Under Content Tokens, select the token name". */
const SCHOOL_TOKEN_PATH = 'your name > Preferences > Payments & Billing > Content Tokens';

/** Fits after "Download a new token ": where the .vpptoken file comes from, in either programme. */
export const WHERE_TOKENS_ARE_DOWNLOADED = `in ${APPLE_BUSINESS} (${BUSINESS_TOKEN_PATH}, then Download) or ${APPLE_SCHOOL} (${SCHOOL_TOKEN_PATH})`;
