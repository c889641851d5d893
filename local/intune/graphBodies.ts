import { z } from 'zod';
import { badRequest, intuneBadRequest } from './graphErrors';
import { INSTALL_INTENTS, VPP_ACCOUNT_TYPES, VPP_SYNC_STATUSES, VPP_TOKEN_STATES, type AssignmentTarget, type InstallIntent, type VppAccountType } from './IntuneState';
import type { GraphVersion } from './graphViews';

/**
 * Request bodies as Graph's OData layer reads them: every property must exist on the type (in that API
 * version), each value must convert to the property's type, enum values must be members. The refusals use
 * OData's wording. What Intune then does with a well-formed body is the server's business.
 */

interface PropertyRule {
  /** The type named in a refusal: Edm.String, microsoft.graph.vppTokenState … */
  type: string;
  schema: z.ZodType;
  betaOnly?: boolean;
}

const isoDate = z.string().refine((value) => !Number.isNaN(Date.parse(value)));
const enumOf = (values: readonly [string, ...string[]]): z.ZodType => z.enum(values);
const STRING: PropertyRule = { type: 'Edm.String', schema: z.string().nullable() };
const BOOLEAN: PropertyRule = { type: 'Edm.Boolean', schema: z.boolean() };
const DATE: PropertyRule = { type: 'Edm.DateTimeOffset', schema: isoDate };

/** vppToken's properties (resource page, beta and v1.0). Read-only ones are accepted and ignored, as the create example sends them. */
const VPP_TOKEN_PROPERTIES: Record<string, PropertyRule> = {
  id: STRING,
  organizationName: STRING,
  vppTokenAccountType: { type: 'microsoft.graph.vppTokenAccountType', schema: enumOf(VPP_ACCOUNT_TYPES) },
  appleId: STRING,
  expirationDateTime: DATE,
  lastSyncDateTime: DATE,
  token: STRING,
  lastModifiedDateTime: DATE,
  state: { type: 'microsoft.graph.vppTokenState', schema: enumOf(VPP_TOKEN_STATES) },
  tokenActionResults: { type: 'Collection(microsoft.graph.vppTokenActionResult)', schema: z.array(z.record(z.string(), z.unknown())), betaOnly: true },
  lastSyncStatus: { type: 'microsoft.graph.vppTokenSyncStatus', schema: enumOf(VPP_SYNC_STATUSES) },
  automaticallyUpdateApps: BOOLEAN,
  countryOrRegion: STRING,
  dataSharingConsentGranted: { ...BOOLEAN, betaOnly: true },
  displayName: { ...STRING, betaOnly: true },
  locationName: { ...STRING, betaOnly: true },
  claimTokenManagementFromExternalMdm: { ...BOOLEAN, betaOnly: true },
  roleScopeTagIds: { type: 'Collection(Edm.String)', schema: z.array(z.string()), betaOnly: true },
  lastAppCount: { type: 'Edm.Int32', schema: z.number().int() },
};

const doesNotExist = (property: string, type: string) =>
  badRequest(`The property '${property}' does not exist on type '${type}'. Make sure to only use property names that are defined by the type or mark the type as open type.`);
const cannotConvert = (value: unknown, type: string) => badRequest(`Cannot convert the literal '${typeof value === 'string' ? value : JSON.stringify(value)}' to the expected type '${type}'.`);
const notAnObject = () => badRequest('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');

const sameType = (odataType: string, expected: readonly string[]): boolean => expected.includes(odataType.replace(/^#/, ''));

/** Checks a resource body against a property table; `@odata.type`, if sent, must name one of `types`. */
function checkProperties(body: unknown, table: Record<string, PropertyRule>, typeName: string, types: readonly string[], version: GraphVersion): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw notAnObject();
  const record = body as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (key === '@odata.type') {
      if (typeof value !== 'string' || !sameType(value, types)) throw badRequest(`A type named '${String(value)}' could not be resolved by the model, or is not a '${typeName}'.`);
      continue;
    }
    // Other instance annotations (@odata.etag …) carry no data.
    if (key.startsWith('@') || key.includes('@odata.')) continue;
    const rule = table[key];
    if (!rule || (rule.betaOnly && version === 'v1.0')) throw doesNotExist(key, typeName);
    if (!rule.schema.safeParse(value).success) throw cannotConvert(value, rule.type);
  }
  return record;
}

/** What a POST or PATCH to vppTokens may change; everything else in the body is read-only and ignored. */
export interface VppTokenWrite {
  token?: string | undefined;
  appleId?: string | undefined;
  vppTokenAccountType?: VppAccountType | undefined;
  countryOrRegion?: string | undefined;
  automaticallyUpdateApps?: boolean | undefined;
  dataSharingConsentGranted?: boolean | undefined;
  displayName?: string | undefined;
  claimTokenManagementFromExternalMdm?: boolean | undefined;
  roleScopeTagIds?: string[] | undefined;
}

const vppTokenWriteSchema = z.object({
  token: z.string().nullish(),
  appleId: z.string().nullish(),
  vppTokenAccountType: z.enum(VPP_ACCOUNT_TYPES).optional(),
  countryOrRegion: z.string().nullish(),
  automaticallyUpdateApps: z.boolean().optional(),
  dataSharingConsentGranted: z.boolean().optional(),
  displayName: z.string().nullish(),
  claimTokenManagementFromExternalMdm: z.boolean().optional(),
  roleScopeTagIds: z.array(z.string()).optional(),
});

export function readVppTokenBody(body: unknown, version: GraphVersion): VppTokenWrite {
  const record = checkProperties(body, VPP_TOKEN_PROPERTIES, 'microsoft.graph.vppToken', ['microsoft.graph.vppToken'], version);
  const parsed = vppTokenWriteSchema.parse(record);
  const orUndefined = <T>(value: T | null | undefined): T | undefined => value ?? undefined;
  return {
    token: orUndefined(parsed.token),
    appleId: orUndefined(parsed.appleId),
    vppTokenAccountType: parsed.vppTokenAccountType,
    countryOrRegion: orUndefined(parsed.countryOrRegion),
    automaticallyUpdateApps: parsed.automaticallyUpdateApps,
    dataSharingConsentGranted: parsed.dataSharingConsentGranted,
    displayName: orUndefined(parsed.displayName),
    claimTokenManagementFromExternalMdm: parsed.claimTokenManagementFromExternalMdm,
    roleScopeTagIds: parsed.roleScopeTagIds,
  };
}

// ---- assignments ----

const GROUP_TARGET = 'microsoft.graph.groupAssignmentTarget';
const EXCLUSION_TARGET = 'microsoft.graph.exclusionGroupAssignmentTarget';
/** Targets of deviceAndAppManagementAssignmentTarget (intune-shared-*assignmenttarget.md); the abstract base is what the doc examples send. */
const TARGET_TYPES = [
  'microsoft.graph.deviceAndAppManagementAssignmentTarget',
  GROUP_TARGET,
  EXCLUSION_TARGET,
  'microsoft.graph.allLicensedUsersAssignmentTarget',
  'microsoft.graph.allDevicesAssignmentTarget',
] as const;

const TARGET_PROPERTIES: Record<string, PropertyRule> = {
  deviceAndAppManagementAssignmentFilterId: { ...STRING, betaOnly: true },
  deviceAndAppManagementAssignmentFilterType: { type: 'microsoft.graph.deviceAndAppManagementAssignmentFilterType', schema: enumOf(['none', 'include', 'exclude']), betaOnly: true },
};

const ASSIGNMENT_PROPERTIES: Record<string, PropertyRule> = {
  id: STRING,
  target: { type: 'microsoft.graph.deviceAndAppManagementAssignmentTarget', schema: z.record(z.string(), z.unknown()) },
  installIntent: { type: 'microsoft.graph.installIntent', schema: enumOf(INSTALL_INTENTS) },
};

export interface AssignmentWrite {
  id?: string | undefined;
  installIntent: InstallIntent;
  target: AssignmentTarget;
}

const targetSchema = z.object({
  '@odata.type': z.string(),
  groupId: z.string().optional(),
  deviceAndAppManagementAssignmentFilterId: z.string().nullish(),
  deviceAndAppManagementAssignmentFilterType: z.string().optional(),
});

function readTarget(body: unknown, version: GraphVersion): AssignmentTarget {
  if (typeof body !== 'object' || body === null) throw notAnObject();
  const odataType = (body as Record<string, unknown>)['@odata.type'];
  // Without a type OData would build the abstract base, which reaches nobody; Graph asks for one.
  if (typeof odataType !== 'string') throw badRequest("The 'target' value must name its type in '@odata.type', e.g. '#microsoft.graph.groupAssignmentTarget'.");
  const typeName = odataType.replace(/^#/, '');
  const known = TARGET_TYPES.find((t) => t === typeName);
  if (!known) throw badRequest(`A type named '${odataType}' could not be resolved by the model, or is not a 'microsoft.graph.deviceAndAppManagementAssignmentTarget'.`);
  const hasGroup = known === GROUP_TARGET || known === EXCLUSION_TARGET;
  const table = hasGroup ? { ...TARGET_PROPERTIES, groupId: STRING } : TARGET_PROPERTIES;
  const parsed = targetSchema.parse(checkProperties(body, table, known, [known], version));
  if (hasGroup && !parsed.groupId) throw intuneBadRequest(`A ${known.slice('microsoft.graph.'.length)} needs a groupId.`);
  return {
    '@odata.type': `#${known}`,
    ...(hasGroup ? { groupId: parsed.groupId } : {}),
    ...(parsed.deviceAndAppManagementAssignmentFilterId != null ? { deviceAndAppManagementAssignmentFilterId: parsed.deviceAndAppManagementAssignmentFilterId } : {}),
    ...(parsed.deviceAndAppManagementAssignmentFilterType ? { deviceAndAppManagementAssignmentFilterType: parsed.deviceAndAppManagementAssignmentFilterType } : {}),
  };
}

const assignmentSchema = z.object({ id: z.string().nullish(), installIntent: z.enum(INSTALL_INTENTS), target: z.unknown() });

/** One managedEBookAssignment (iosVppEBookAssignment), as the assign action and POST …/assignments take it. */
export function readAssignment(body: unknown, version: GraphVersion): AssignmentWrite {
  const record = checkProperties(body, ASSIGNMENT_PROPERTIES, 'microsoft.graph.managedEBookAssignment', ['microsoft.graph.managedEBookAssignment', 'microsoft.graph.iosVppEBookAssignment'], version);
  const parsed = assignmentSchema.safeParse(record);
  if (!parsed.success) {
    const missing = parsed.error.issues[0]?.path[0];
    throw badRequest(`The assignment is missing '${String(missing ?? 'installIntent')}', or it has no valid value.`);
  }
  return { id: parsed.data.id ?? undefined, installIntent: parsed.data.installIntent, target: readTarget(parsed.data.target, version) };
}

/** The assign action's parameters: `{ "managedEBookAssignments": [ … ] }`, nothing else. */
export function readAssignBody(body: unknown, version: GraphVersion): AssignmentWrite[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw notAnObject();
  for (const key of Object.keys(body)) {
    if (key !== 'managedEBookAssignments') throw badRequest(`The parameter '${key}' in the request payload is not a valid parameter for the operation 'assign'.`);
  }
  const list = (body as { managedEBookAssignments?: unknown }).managedEBookAssignments;
  if (!Array.isArray(list)) throw badRequest("The parameter 'managedEBookAssignments' must be a collection of 'microsoft.graph.managedEBookAssignment'.");
  const assignments = list.map((item) => readAssignment(item, version));
  const groups = assignments.map((a) => a.target.groupId).filter((g): g is string => g !== undefined);
  if (new Set(groups).size !== groups.length) throw intuneBadRequest('A group may be targeted by only one assignment of the book.');
  return assignments;
}
