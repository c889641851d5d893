import { z } from 'zod';
import { EMAIL_MAX_LENGTH } from '../../common/email';
import { documentIdSchema } from '../ids';

export const idSchema = documentIdSchema;

/**
 * Length caps of text stored from Apple, Entra or an admin, in one place: the entity schemas enforce
 * them with `.max()`, and code that stores such text cuts it with `truncate` (services/common) to the
 * same numbers, so a long name or message never makes a write fail.
 */
export const LIMITS = {
  /** Names of people, groups and tokens. */
  displayName: 256,
  /** Book titles. */
  title: 512,
  /** Addresses: the e-mail rule's own cap. */
  email: EMAIL_MAX_LENGTH,
  /** Stable error codes (Apple's errorNumber, our reasons). */
  errorCode: 64,
  /** Error messages and other longer texts. */
  message: 2000,
  /** A sentence or two: a comment, a reason, a problem. */
  reason: 1000,
  /** What a notification is about, for de-duplication. */
  occurrenceKey: 128,
} as const;

/**
 * ISO 8601 with a Z or an offset in, always UTC "…Z" out: stored dates then compare and sort correctly
 * as strings in Cosmos queries.
 */
export const dateTimeSchema = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());

/** Who did something: the Entra object id (what authorisation checks) and a name for display. */
export const actorSchema = z.object({
  aadObjectId: z.string().min(1).max(128),
  displayName: z.string().max(LIMITS.displayName).optional(),
});
export type Actor = z.infer<typeof actorSchema>;

/** A failure as shown to admins; the code is stable (Apple errorNumber, our reason). */
export const errorInfoSchema = z.object({
  code: z.string().max(LIMITS.errorCode),
  message: z.string().max(LIMITS.message),
  occurredDateTime: dateTimeSchema,
});
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

export const adamIdSchema = z.string().regex(/^\d{1,20}$/, 'a numeric Apple adamId');
export const pricingParamSchema = z.enum(['STDQ', 'PLUS']);
export type PricingParam = z.infer<typeof pricingParamSchema>;
