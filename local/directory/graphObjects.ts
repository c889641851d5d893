import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, type DirectoryState, type LocalDevice, type LocalGroup, type LocalUser, type ObjectKind } from './DirectoryState';

/** A Graph error answer: `{ error: { code, message } }` with this status. */
export class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Graph's answer for an id it does not know (a group, a user, a member reference). */
export function resourceNotFound(id: string): GraphHttpError {
  return new GraphHttpError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
}

export const ODATA_TYPE: Record<ObjectKind, string> = { user: '#microsoft.graph.user', device: '#microsoft.graph.device', group: '#microsoft.graph.group' };

function extensionAttributes(managedAppleId: string | undefined): Record<string, string | null> {
  const attributes: Record<string, string | null> = {};
  for (let i = 1; i <= 15; i++) attributes[`extensionAttribute${i}`] = null;
  attributes[LOCAL_MANAGED_APPLE_ID_ATTRIBUTE] = managedAppleId ?? null;
  return attributes;
}

function serializeUser(u: LocalUser): Record<string, unknown> {
  return {
    '@odata.type': ODATA_TYPE.user,
    id: u.id,
    displayName: u.displayName,
    userPrincipalName: u.userPrincipalName,
    mail: u.mail ?? null,
    jobTitle: u.jobTitle ?? null,
    department: u.department ?? null,
    onPremisesExtensionAttributes: extensionAttributes(u.managedAppleId),
  };
}

function serializeGroup(g: LocalGroup): Record<string, unknown> {
  const dynamic = g.membershipRule !== undefined;
  return {
    '@odata.type': ODATA_TYPE.group,
    id: g.id,
    displayName: g.displayName,
    description: g.description ?? null,
    groupTypes: dynamic ? ['DynamicMembership'] : [],
    membershipRule: g.membershipRule ?? null,
    membershipRuleProcessingState: dynamic ? 'On' : null,
    securityEnabled: true,
    mailEnabled: false,
  };
}

/** Every property the local directory holds for the object, in Graph's names; undefined for an unknown id. */
export function serializeObject(state: DirectoryState, id: string): Record<string, unknown> | undefined {
  const kind = state.kindOf(id);
  if (kind === 'user') return serializeUser(state.users.get(id) as LocalUser);
  if (kind === 'device') {
    const d = state.devices.get(id) as LocalDevice;
    return { '@odata.type': ODATA_TYPE.device, id: d.id, displayName: d.displayName, deviceOSType: d.deviceOSType, operatingSystem: d.deviceOSType };
  }
  if (kind === 'group') return serializeGroup(state.groups.get(id) as LocalGroup);
  return undefined;
}

/** A user with Graph's default properties only: what `POST /users` answers, and `GET /users` lists without $select. */
function defaultUserView(u: LocalUser): Record<string, unknown> {
  return {
    id: u.id,
    businessPhones: [],
    displayName: u.displayName,
    givenName: null,
    jobTitle: u.jobTitle ?? null,
    mail: u.mail ?? null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: u.userPrincipalName,
  };
}

/** `$select`: the named properties plus id and @odata.type, which Graph always returns. */
export function project(object: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (!select) return object;
  const fields = new Set(['@odata.type', 'id', ...select.split(',').map((f) => f.trim())]);
  return Object.fromEntries(Object.entries(object).filter(([key]) => fields.has(key)));
}

/** A user as `GET /users` lists it: no @odata.type (the users collection names the type once); without $select, the default properties. */
export function userListView(u: LocalUser, select: string | null): Record<string, unknown> {
  if (!select) return defaultUserView(u);
  const { '@odata.type': _type, ...user } = serializeUser(u);
  return project(user, select);
}
