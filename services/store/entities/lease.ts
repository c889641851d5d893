import { z } from 'zod';
import { dateTimeSchema, idSchema } from './common';

/** A lock (one sync per token at a time across instances) that expires if its holder dies. */
export const leaseSchema = z.object({
  id: idSchema,
  owner: z.string().min(1).max(256),
  acquiredDateTime: dateTimeSchema,
  renewedDateTime: dateTimeSchema,
  expiresAt: dateTimeSchema,
});
export type Lease = z.infer<typeof leaseSchema>;
