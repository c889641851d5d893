import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, type DirectoryState, type LocalUser } from './DirectoryState';
import { defaultUserView, GraphHttpError, ODATA_TYPE, project, resourceNotFound, serializeObject } from './graphObjects';

/**
 * Graph's own write calls for memberships and users, and getByIds, as Microsoft Graph v1.0 documents
 * them (group-post-members, group-delete-members, user-post-users, directoryobject-getbyids), so tests and
 * demos change the directory the way an Entra admin's tools would.
 */

/** directoryobject-getbyids: "You can specify up to 1000 IDs." */
export const MAX_GET_BY_IDS = 1000;

const GRAPH_ORIGIN = 'https://graph.microsoft.com';
const REFERENCE_PATH = /^\/(?:v1\.0|beta)\/(?:directoryObjects|users|groups|devices)\/([^/]+)$/;
const DYNAMIC_MESSAGE = 'Members of a group with dynamic membership cannot be added or removed manually.';
/** user-post-users: UPN characters A-Z a-z 0-9 ' . - _ ! # ^ ~, then @ and a domain. */
const UPN = /^[A-Za-z0-9'.\-_!#^~]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
const MAIL_NICKNAME = /^[^@()\\[\]";:<>,\s]{1,64}$/;

/** `{ "@odata.id": ".../v1.0/directoryObjects/{id}" }` on Graph's origin or this directory's. */
function referencedId(body: unknown, origin: string): string {
  const reference = (body as Record<string, unknown> | undefined)?.['@odata.id'];
  let url: URL | undefined;
  try {
    url = typeof reference === 'string' ? new URL(reference) : undefined;
  } catch {
    url = undefined;
  }
  const id = url && (url.origin === GRAPH_ORIGIN || url.origin === origin) ? REFERENCE_PATH.exec(url.pathname)?.[1] : undefined;
  if (id === undefined) throw new GraphHttpError(400, 'Request_BadRequest', `Invalid object identifier '${typeof reference === 'string' ? reference.slice(0, 200) : ''}'.`);
  return decodeURIComponent(id);
}

/** `POST /groups/{id}/members/$ref`: 204; 404 for an unknown group or member; 400 for a member already there. */
export function addMemberReference(state: DirectoryState, groupId: string, body: unknown, origin: string): void {
  const group = state.groups.get(groupId);
  if (!group) throw resourceNotFound(groupId);
  const memberId = referencedId(body, origin);
  if (state.kindOf(memberId) === undefined) throw resourceNotFound(memberId);
  if (state.isDynamic(group)) throw new GraphHttpError(400, 'Request_BadRequest', DYNAMIC_MESSAGE);
  if (memberId === groupId) throw new GraphHttpError(400, 'Request_BadRequest', 'A group cannot be a member of itself.');
  if (group.members.includes(memberId)) {
    throw new GraphHttpError(400, 'Request_BadRequest', "One or more added object references already exist for the following modified properties: 'members'.");
  }
  state.addMembers(groupId, [memberId]);
}

/** `DELETE /groups/{id}/members/{id}/$ref`: 204; 404 when the group is unknown or the object is not a member. */
export function removeMemberReference(state: DirectoryState, groupId: string, memberId: string): void {
  const group = state.groups.get(groupId);
  if (!group) throw resourceNotFound(groupId);
  if (state.isDynamic(group)) throw new GraphHttpError(400, 'Request_BadRequest', DYNAMIC_MESSAGE);
  if (!state.removeMember(groupId, memberId)) throw resourceNotFound(memberId);
}

const REQUIRED_USER_PROPERTIES = ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName'] as const;

const optionalText = z.string().max(1024).nullish();
const createUserSchema = z.object({
  accountEnabled: z.boolean(),
  displayName: z.string().trim().min(1).max(256),
  mailNickname: z.string().regex(MAIL_NICKNAME),
  userPrincipalName: z.string().max(113).regex(UPN),
  passwordProfile: z.object({ password: z.string().min(1).max(256), forceChangePasswordNextSignIn: z.boolean().optional() }),
  mail: optionalText,
  jobTitle: optionalText,
  department: optionalText,
  givenName: optionalText,
  surname: optionalText,
  // user resource: for a cloud-only user these "can be set during the creation or update of a user object".
  onPremisesExtensionAttributes: z.record(z.string().regex(/^extensionAttribute([1-9]|1[0-5])$/), z.string().max(1024).nullable()).nullish(),
});

function requiredPropertyMissing(body: Record<string, unknown>): string | undefined {
  return REQUIRED_USER_PROPERTIES.find((name) => {
    const value = body[name];
    return value === undefined || value === null || value === '';
  });
}

/** `POST /users`: 201 with the new user's default properties; 400 for a missing or invalid property or a UPN in use. */
export function createUser(state: DirectoryState, body: unknown, origin: string): Record<string, unknown> {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const missing = requiredPropertyMissing(fields);
  if (missing) throw new GraphHttpError(400, 'Request_BadRequest', `Property ${missing} value is required but is empty or missing.`);
  const parsed = createUserSchema.safeParse(fields);
  if (!parsed.success) {
    const property = String(parsed.error.issues[0]?.path[0] ?? 'user');
    throw new GraphHttpError(400, 'Request_BadRequest', `Invalid value specified for property '${property}' of resource 'User'.`);
  }
  const input = parsed.data;
  const upn = input.userPrincipalName.toLowerCase();
  for (const existing of state.users.values()) {
    if (existing.userPrincipalName.toLowerCase() === upn) throw new GraphHttpError(400, 'Request_BadRequest', 'Another object with the same value for property userPrincipalName already exists.');
  }
  const user: LocalUser = {
    id: randomUUID(),
    displayName: input.displayName,
    userPrincipalName: input.userPrincipalName,
    mail: input.mail ?? undefined,
    jobTitle: input.jobTitle ?? undefined,
    department: input.department ?? undefined,
    managedAppleId: input.onPremisesExtensionAttributes?.[LOCAL_MANAGED_APPLE_ID_ATTRIBUTE] ?? undefined,
  };
  state.addUser(user);
  return { '@odata.context': `${origin}/v1.0/$metadata#users/$entity`, ...defaultUserView(user) };
}

const TYPES = new Map<string, 'user' | 'group' | 'device' | 'any'>([
  ['user', 'user'],
  ['group', 'group'],
  ['device', 'device'],
  ['directoryobject', 'any'],
]);
const getByIdsSchema = z.object({ ids: z.array(z.string().max(128)).min(1), types: z.array(z.string().max(64)).optional() });

/** `POST /directoryObjects/getByIds`: the objects among `ids` of the given types; unknown ids are left out. */
export function getByIds(state: DirectoryState, body: unknown, select: string | null, origin: string): Record<string, unknown> {
  const parsed = getByIdsSchema.safeParse(body);
  if (!parsed.success) throw new GraphHttpError(400, 'Request_BadRequest', 'Invalid request body: ids must list the ids to look up.');
  if (parsed.data.ids.length > MAX_GET_BY_IDS) throw new GraphHttpError(400, 'Request_BadRequest', `Too many ids: getByIds accepts at most ${MAX_GET_BY_IDS}.`);
  const types = (parsed.data.types ?? ['directoryObject']).map((t) => TYPES.get(t.toLowerCase()));
  if (types.some((t) => t === undefined)) throw new GraphHttpError(400, 'Request_BadRequest', 'Invalid value in types: use user, group, device or directoryObject.');
  const wanted = new Set(types);
  const value: Array<Record<string, unknown>> = [];
  for (const id of new Set(parsed.data.ids)) {
    const kind = state.kindOf(id);
    if (kind === undefined || !(wanted.has('any') || wanted.has(kind))) continue;
    value.push(objectView(state, id, select));
  }
  return { '@odata.context': `${origin}/v1.0/$metadata#directoryObjects`, value };
}

/** directoryobject-getbyids: "Only a subset of user properties are returned by default in v1.0"; $select picks others. */
function objectView(state: DirectoryState, id: string, select: string | null): Record<string, unknown> {
  const user = state.users.get(id);
  if (user && !select) return { '@odata.type': ODATA_TYPE.user, ...defaultUserView(user) };
  const full = serializeObject(state, id) ?? { id };
  return project(full, select);
}
