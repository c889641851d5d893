import { z } from 'zod';

/** RFC 5321's longest address. */
export const EMAIL_MAX_LENGTH = 320;

/**
 * The one e-mail rule, for the store, the directory, Apple requests and the Apple ID an admin types.
 * Zod's address pattern is ASCII only, as Apple's user e-mail is; an address outside it (an
 * internationalised local part such as josé@example.com) is neither sent to Apple nor stored: the member
 * is created without one, as with no address at all, instead of a write failing for a whole run.
 */
export const emailSchema = z.email().max(EMAIL_MAX_LENGTH);

/** `value` when it is an address `emailSchema` accepts, else undefined: for optional e-mail fields. */
export function validEmail(value: string | undefined): string | undefined {
  return value !== undefined && emailSchema.safeParse(value).success ? value : undefined;
}
