import { z } from 'zod';
import { documentIdSchema } from '../ids';

export const idSchema = documentIdSchema;

/**
 * ISO 8601 with a Z or an offset in, always UTC "…Z" out: stored dates then compare and sort correctly
 * as strings in Cosmos queries.
 */
export const dateTimeSchema = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());

/** Entra object ids and tenant ids. */
export const guidSchema = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a GUID');

/** Who did something: the Entra object id (what authorisation checks) and a name for display. */
export const actorSchema = z.object({
  aadObjectId: z.string().min(1).max(128),
  displayName: z.string().max(256).optional(),
});
export type Actor = z.infer<typeof actorSchema>;

/** A failure as shown to admins; the code is stable (Apple errorNumber, our reason). */
export const errorInfoSchema = z.object({
  code: z.string().max(64),
  message: z.string().max(2000),
  occurredDateTime: dateTimeSchema,
});
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

export const adamIdSchema = z.string().regex(/^\d{1,20}$/, 'a numeric Apple adamId');
export const pricingParamSchema = z.enum(['STDQ', 'PLUS']);
export type PricingParam = z.infer<typeof pricingParamSchema>;
