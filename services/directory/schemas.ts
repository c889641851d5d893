import { z } from 'zod';

export const graphGroupSchema = z.looseObject({
  id: z.string().min(1).max(128),
  displayName: z.string().max(256).nullish(),
  description: z.string().max(1024).nullish(),
  groupTypes: z.array(z.string().max(64)).nullish(),
  membershipRule: z.string().max(3072).nullish(),
  membershipRuleProcessingState: z.string().max(64).nullish(),
  securityEnabled: z.boolean().nullish(),
  mailEnabled: z.boolean().nullish(),
});
export type GraphGroup = z.infer<typeof graphGroupSchema>;

export const graphUserSchema = z.looseObject({
  id: z.string().min(1).max(128),
  displayName: z.string().max(256).nullish(),
  userPrincipalName: z.string().max(1024).nullish(),
  mail: z.string().max(1024).nullish(),
  onPremisesExtensionAttributes: z.record(z.string(), z.string().max(1024).nullable()).nullish(),
});
export type GraphUser = z.infer<typeof graphUserSchema>;

export const checkMemberGroupsSchema = z.looseObject({ value: z.array(z.string().min(1).max(128)) });

/**
 * `$count` answers are a bare number in text/plain (group-list-transitivemembers, "Get only a count of
 * transitive membership": `Content-type: text/plain`, body `893`). Digits only: coercing would read an empty body as 0.
 */
export const countSchema = z.string().regex(/^\d{1,15}$/).transform(Number);

/** `@removed` on a delta entry: `changed` (restorable from deletedItems) or `deleted` (delta-query-overview). */
const deltaRemovedSchema = z.looseObject({ reason: z.string().max(64) });

/** One entry of `members@delta`: the member's type and id, and `@removed` when it left the group. */
const memberDeltaSchema = z.looseObject({
  '@odata.type': z.string().max(128).optional(),
  id: z.string().min(1).max(128),
  '@removed': deltaRemovedSchema.optional(),
});
export type GraphMemberDelta = z.infer<typeof memberDeltaSchema>;

/** A group on a groups/delta page; the same group may come back on later pages with more of its members. */
const groupDeltaItemSchema = z.looseObject({
  id: z.string().min(1).max(128),
  displayName: z.string().max(256).nullish(),
  'members@delta': z.array(memberDeltaSchema).optional(),
  '@removed': deltaRemovedSchema.optional(),
});

/** A groups/delta page: `@odata.nextLink` while the round goes on, `@odata.deltaLink` on its last page, never both. */
export const groupDeltaPageSchema = z
  .looseObject({
    value: z.array(groupDeltaItemSchema),
    '@odata.nextLink': z.url().optional(),
    '@odata.deltaLink': z.url().optional(),
  })
  .refine((page) => (page['@odata.nextLink'] === undefined) !== (page['@odata.deltaLink'] === undefined), {
    message: 'a delta page carries exactly one of @odata.nextLink and @odata.deltaLink',
  });
export type GroupDeltaPage = z.infer<typeof groupDeltaPageSchema>;
