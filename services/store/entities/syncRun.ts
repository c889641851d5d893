import { z } from 'zod';
import { actorSchema, dateTimeSchema, errorInfoSchema, idSchema } from './common';

const count = z.number().int().min(0);

/** One sync of one token: what started it, how it ended, what it changed. */
export const syncRunSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  trigger: z.enum(['scheduled', 'manual', 'tokenUpload']),
  startedBy: actorSchema.optional(),
  startedDateTime: dateTimeSchema,
  finishedDateTime: dateTimeSchema.optional(),
  status: z.enum(['inProgress', 'completed', 'failed']),
  counts: z.object({
    booksAdded: count,
    booksUpdated: count,
    booksUnchanged: count,
    usersChanged: count,
    assignmentsChanged: count,
    writes: count,
  }),
  error: errorInfoSchema.optional(),
  /** Seconds until Cosmos removes the run; keeps the history bounded without a clean-up job. */
  ttl: z.number().int().positive().optional(),
});
export type SyncRun = z.infer<typeof syncRunSchema>;
