/**
 * The sandbox's own catalogue of Apple's error answers, written from Apple's pages and never from the
 * client's table (services/apple/VppError.ts): the sandbox is there to catch the client misreading Apple.
 *
 * Sources (https://developer.apple.com/documentation/devicemanagement/…):
 * - `service-config`: the `errorCodes` list /service/config returns (the texts below, verbatim);
 * - `handling-error-responses`: the HTTP status of each synchronous error;
 * - `managing-assets`, `managing-users`: the asynchronous numbers that appear only in /status failures.
 * test/fixtures/apple/NOTES.md quotes each of them.
 */

export interface AppleErrorEntry {
  /** HTTP status Apple answers with; undefined for errors Apple reports only inside /status. */
  status: number | undefined;
  message: string;
}

export const APPLE_ERRORS = {
  9601: { status: 401, message: "Login required." },
  9602: { status: 400, message: "Invalid argument." },
  9603: { status: 500, message: "Internal error." },
  9609: { status: 400, message: "Unable to find the registered user." },
  9621: { status: 401, message: "The token has expired. You need to generate a new token online using your organization's account at either school.apple.com or business.apple.com." },
  // Not in the v2 list, but the v2 service answers it for a token it does not know (zentral retries on it); text from the legacy list.
  9622: { status: 401, message: 'Invalid authentication token' },
  9625: { status: 401, message: "The server has revoked the sToken." },
  9634: { status: 410, message: "Service removed." },
  // Legacy list; a maintenance window answers it with a 503.
  9644: { status: 503, message: 'Volume Purchase Program is currently in maintenance mode. Please try again later.' },
  9646: { status: 429, message: "There are too many recent requests. Try again momentarily." },
  9650: { status: 400, message: "The provided page index must be greater than 0, and less than the total number of pages." },
  9700: { status: 400, message: "Max assets limit on request has been passed, please stay within given limit." },
  9701: { status: 400, message: "Max clientUserIds limit on request has been passed, please stay within given limit." },
  9702: { status: 400, message: "Max serialNumbers limit on request has been passed, please stay within given limit." },
  9703: { status: 400, message: "Duplicate assets found in request, please send unique assets." },
  9704: { status: 400, message: "Duplicate clientUserIds found in request, please send unique clients." },
  9705: { status: 400, message: "Duplicate serialNumbers found in request, please send unique serials." },
  9706: { status: 400, message: "Asset in request is not revocable, please send revocable assets." },
  9707: { status: 400, message: "Asset in request is not device assignable, please send device assignable assets." },
  9708: { status: 400, message: "EventId could not be found." },
  9709: { status: undefined, message: "There are not enough licenses for this app or book available to assign to the selected group." },
  9710: { status: 400, message: "Both the notification URL and the authentication token are necessary." },
  9711: { status: 400, message: "Either the notification URL or the authentication token exceeds its maximum length. Change the request to stay within the specified limit." },
  9712: { status: 400, message: "The provided notification URL must be a valid URL and use HTTPS as the protocol." },
  9713: { status: 400, message: "The MDM metadata exceeds the maximum length. Change the request to stay within the specified limit." },
  9714: { status: 400, message: "The number of users exceeds the maximum. Change the request to stay within the specified limit." },
  9715: { status: 400, message: "This request contains duplicate users. Change the request to send unique users." },
  9716: { status: undefined, message: "A registered user already exists with the specified clientUserId." },
  9717: { status: 400, message: "This request contains an invalid email address. Change the request to send valid email addresses." },
  9718: { status: 400, message: "This request doesn't contain an asset, which is a required argument. Change the request to provide an asset." },
  9719: { status: 400, message: "Either clientUserIds or serialNumbers are required arguments. Change the request to provide assignable users and devices." },
  9720: { status: 400, message: "Users are a required argument. Change the request to provide a user." },
  9721: { status: 400, message: "This request contains an invalid version ID. Change the request to send the version ID from the read APIs." },
  9722: { status: 401, message: "This request contains an invalid authorization header. Change the request to send an authorization header that matches the format 'Bearer {sToken}'." },
  9723: { status: 400, message: "You must provide an MDM name, ID, and metadata when setting the MDM information." },
  9724: { status: 400, message: "The MDM ID exceeds the maximum length. Change the request to stay within the specified limit." },
  9725: { status: 400, message: "The MDM name exceeds the maximum length. Change the request to stay within the specified limit." },
  9726: { status: 405, message: "This request contains an unsupported HTTP method for the requested endpoint." },
  9727: { status: 415, message: "This request contains an unsupported Content-Type for the requested endpoint." },
  9728: { status: 400, message: "The provided notification URL is unreachable." },
} as const satisfies Record<number, AppleErrorEntry>;

export type AppleErrorNumber = keyof typeof APPLE_ERRORS;

/** What /service/config lists under `errorCodes`: Apple's v2 list (test/fixtures/apple/service-config.jsonc), 9601–9650 and 9700–9728. */
export const SERVICE_CONFIG_ERROR_CODES: ReadonlyArray<{ errorNumber: number; errorMessage: string }> = (Object.entries(APPLE_ERRORS) as Array<[string, AppleErrorEntry]>)
  .filter(([n]) => n !== '9622' && n !== '9644')
  .map(([n, entry]) => ({ errorNumber: Number(n), errorMessage: entry.message }));
