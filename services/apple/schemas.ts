import { z } from 'zod';

/**
 * Zod schemas for every Apple Apps and Books v2 response the client reads. Unknown fields are dropped
 * (Apple adds fields over time); fields we rely on are required so a changed contract fails loudly.
 */

/** Apple's ids arrive as strings in some answers and numbers in others. */
const idString = z.union([z.string(), z.number()]).transform(String);

/**
 * `ResponseErrorInfo`: what a failure is about. One failure names every user (or asset, or device) it
 * applies to, so per-user outcomes come from here.
 */
const errorInfoSchema = z.object({
  clientUserIds: z.array(idString).default([]),
  assets: z.array(z.object({ adamId: idString, pricingParam: z.string().optional() })).default([]),
  serialNumbers: z.array(idString).default([]),
});
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

/** `ErrorResponse`, on any HTTP status (200 included): `{errorNumber, errorMessage, errorInfo?}`. */
export const appleErrorBodySchema = z.object({
  errorNumber: z.number().int(),
  errorMessage: z.string().optional(),
  errorInfo: errorInfoSchema.optional(),
});

export const serviceConfigSchema = z.object({
  limits: z
    .object({
      maxAssets: z.number().int().positive().optional(),
      maxClientUserIds: z.number().int().positive().optional(),
      maxUsers: z.number().int().positive().optional(),
      maxSerialNumbers: z.number().int().positive().optional(),
      maxRequestPerSecond: z.number().positive().optional(),
    })
    .default({}),
  urls: z.record(z.string(), z.string()).default({}),
  errorCodes: z.array(z.object({ errorNumber: z.number(), errorMessage: z.string().optional() })).default([]),
});
export type ServiceConfig = z.infer<typeof serviceConfigSchema>;

const mdmInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  metadata: z.string().optional(),
});
export type MdmInfo = z.infer<typeof mdmInfoSchema>;

/** Any answer that carries `mdmInfo` (client config, assets, users, status): who holds the token now. */
export const responseMdmInfoSchema = z.object({ mdmInfo: mdmInfoSchema.optional().catch(undefined) });

export const clientConfigSchema = z.object({
  uId: z.string().optional(),
  locationName: z.string().optional(),
  countryISO2ACode: z.string().optional(),
  defaultPlatform: z.string().optional(),
  tokenExpirationDate: z.string().optional(),
  mdmInfo: mdmInfoSchema.optional(),
});
export type ClientConfig = z.infer<typeof clientConfigSchema>;

const pageFields = {
  currentPageIndex: z.number().int().nonnegative().optional(),
  nextPageIndex: z.number().int().nonnegative().optional(),
  size: z.number().int().nonnegative().optional(),
  totalPages: z.number().int().nonnegative().optional(),
  versionId: z.string().optional(),
  tokenExpirationDate: z.string().optional(),
  uId: z.string().optional(),
};

const assetSchema = z.object({
  adamId: z.string(),
  pricingParam: z.string(),
  productType: z.string(),
  assignedCount: z.number().int(),
  availableCount: z.number().int(),
  retiredCount: z.number().int().default(0),
  totalCount: z.number().int(),
  deviceAssignable: z.boolean().default(false),
  revocable: z.boolean().default(false),
  supportedPlatforms: z.array(z.string()).default([]),
});
export type Asset = z.infer<typeof assetSchema>;

/**
 * Free books "allow for unlimited assignment": without the `unlimited` query parameter Apple lists them
 * with this totalCount, the maximum integer (Managing assets). Their counts are not licenses to budget.
 */
export const UNLIMITED_TOTAL_COUNT = 2_147_483_647;

export function isUnlimitedAsset(asset: { totalCount: number }): boolean {
  return asset.totalCount >= UNLIMITED_TOTAL_COUNT;
}

export const assetsPageSchema = z.object({ ...pageFields, assets: z.array(assetSchema).default([]) });
export type AssetsPage = z.infer<typeof assetsPageSchema>;

const assignmentSchema = z.object({
  adamId: z.string(),
  pricingParam: z.string(),
  clientUserId: z.string().optional(),
  serialNumber: z.string().optional(),
});
export type Assignment = z.infer<typeof assignmentSchema>;

export const assignmentsPageSchema = z.object({ ...pageFields, assignments: z.array(assignmentSchema).default([]) });
export type AssignmentsPage = z.infer<typeof assignmentsPageSchema>;

const vppUserSchema = z.object({
  clientUserId: z.string(),
  userId: z.string().optional(),
  email: z.string().optional(),
  managedAppleId: z.string().optional(),
  idHash: z.string().optional(),
  inviteCode: z.string().optional(),
  status: z.enum(['Registered', 'Associated', 'Retired', 'Deleted']),
});
export type VppUser = z.infer<typeof vppUserSchema>;

export const usersPageSchema = z.object({ ...pageFields, users: z.array(vppUserSchema).default([]) });
export type UsersPage = z.infer<typeof usersPageSchema>;

export const eventResponseSchema = z.object({
  eventId: z.string().min(1),
  tokenExpirationDate: z.string().optional(),
  uId: z.string().optional(),
});

/**
 * One failure of an event. Apple documents `{errorNumber, errorMessage, errorInfo}` (an ErrorResponse
 * naming many users); older answers and some pages show the ids flat on the failure (`clientUserId`,
 * `adamId`, `pricingParam`, `serialNumber`). Both are read into one shape.
 */
const eventFailureSchema = z
  .object({
    errorNumber: z.number().int(),
    errorMessage: z.string().optional(),
    errorInfo: errorInfoSchema.optional(),
    clientUserId: idString.optional(),
    adamId: idString.optional(),
    pricingParam: z.string().optional(),
    serialNumber: idString.optional(),
  })
  .transform(({ errorNumber, errorMessage, errorInfo, clientUserId, adamId, pricingParam, serialNumber }) => ({
    errorNumber,
    errorMessage,
    clientUserIds: [...(errorInfo?.clientUserIds ?? []), ...(clientUserId === undefined ? [] : [clientUserId])],
    assets: [...(errorInfo?.assets ?? []), ...(adamId === undefined ? [] : [{ adamId, pricingParam }])],
    serialNumbers: [...(errorInfo?.serialNumbers ?? []), ...(serialNumber === undefined ? [] : [serialNumber])],
  }));
export type EventFailure = z.infer<typeof eventFailureSchema>;

export const eventStatusSchema = z.object({
  eventId: z.string().optional(),
  eventStatus: z.enum(['PENDING', 'COMPLETE', 'FAILED']),
  eventType: z.string().optional(),
  numCompleted: z.number().int().default(0),
  numRequested: z.number().int().default(0),
  failures: z.array(eventFailureSchema).default([]),
  tokenExpirationDate: z.string().optional(),
});
export type EventStatus = z.infer<typeof eventStatusSchema>;

/** An asset is the pair adamId + pricingParam (STDQ standard quality, PLUS high quality). */
export interface AssetRef {
  adamId: string;
  pricingParam: string;
}

export interface UserRequest {
  clientUserId: string;
  email?: string;
  managedAppleId?: string;
}
