import { z } from 'zod';
import { emailSchema } from '../../common/email';
import { LIMITS, dateTimeSchema, idSchema } from './common';

/** A VPP user this bot created under a token; id = clientUserId = the Entra object id. */
export const vppUserSchema = z.object({
  id: idSchema,
  tokenId: idSchema,
  tenantId: z.string().min(1).max(128),
  clientUserId: z.string().min(1).max(128),
  status: z.enum(['registered', 'associated', 'retired']),
  inviteCode: z.string().max(256).optional(),
  email: emailSchema.optional(),
  managedAppleId: z.string().max(LIMITS.email).optional(),
  /** Apple's own user id, when Apple has told us. */
  appleUserId: z.string().max(256).optional(),
  createdDateTime: dateTimeSchema,
  lastModifiedDateTime: dateTimeSchema,
}).refine((u) => u.id === u.clientUserId, { message: 'id must equal clientUserId', path: ['id'] });
export type VppUser = z.infer<typeof vppUserSchema>;
