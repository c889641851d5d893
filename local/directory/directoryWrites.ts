import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, type DirectoryState, type LocalUser } from './DirectoryState';
import { defaultUserView, GraphHttpError, resourceNotFound } from './graphObjects';

/**
 * Graph's own write calls for memberships and users, as Microsoft Graph v1.0 documents them
 * (group-post-members, group-delete-members, user-post-users), so tests and demos change the directory the
 * way an Entra admin's tools would; and the users-by-id filter the client reads users back with.
 */

/**
 * Graph known issues, query parameter limitations: "When using the `in` operator, the request is limited to
 * 15 expressions in the filter clause by default".
 */
export const MAX_IN_FILTER_EXPRESSIONS = 15;

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

const ID_IN_FILTER = /^\s*id\s+in\s*\(\s*('(?:[^']|'')*'(?:\s*,\s*'(?:[^']|'')*')*)\s*\)\s*$/i;

/**
 * The ids named by `GET /users?$filter=id in ('…','…')`, as listed. Another filter is refused as Graph refuses
 * one it does not support; more than 15 expressions with the answer Graph gives past its default limit.
 */
export function idsInFilter(filter: string): string[] {
  const list = ID_IN_FILTER.exec(filter)?.[1];
  if (list === undefined) throw new GraphHttpError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: ${filter.slice(0, 200)}`);
  const ids = [...list.matchAll(/'((?:[^']|'')*)'/g)].map((m) => (m[1] ?? '').replace(/''/g, "'"));
  if (ids.length > MAX_IN_FILTER_EXPRESSIONS) {
    throw new GraphHttpError(400, 'Request_UnsupportedQuery', `Too many child clauses specified in search filter expression containing 'OR' operators: ${ids.length}. Max allowed: ${MAX_IN_FILTER_EXPRESSIONS}.`);
  }
  return ids;
}
