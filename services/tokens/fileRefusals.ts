import { VppError } from '../apple/VppError';
import { UserFacingError } from '../errors';

/**
 * Refusals that are about the file itself (what VppTokenFile, TokenFileReader and TokenService.renew
 * throw): another file, or the same one sent whole, may do. The rest (the 256-token limit, a location
 * already uploaded, Apple unavailable) would refuse any file alike.
 */
const FILE_CODES: ReadonlySet<string> = new Set([
  // VppTokenFile: the content is not a usable token.
  'token_too_large',
  'token_empty',
  'token_not_base64',
  'token_not_json',
  'token_missing_fields',
  'token_bad_expiry',
  'token_expired',
  // TokenFileReader: the attachment could not be fetched or is too big.
  'token_file_too_large',
  'token_file_bad_url',
  'token_file_host_refused',
  'token_file_address_refused',
  'token_file_download_failed',
  'token_file_download_stalled',
  'token_file_redirect',
  // TokenService.renew: a token for another Apple location.
  'renew_different_location',
]);

/**
 * True when `err` refuses the token file the admin sent, rather than the action: a flow may ask for the
 * file again. Apple's refusals of the token (expired, invalid, revoked) count: a newer download may do.
 */
export function refusesTheFile(err: unknown): boolean {
  if (err instanceof VppError) return err.isTokenProblem;
  return err instanceof UserFacingError && FILE_CODES.has(err.code);
}
