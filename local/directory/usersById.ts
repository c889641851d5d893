import { GraphHttpError } from './graphObjects';

/**
 * Graph known issues, query parameter limitations: "When using the `in` operator, the request is limited to
 * 15 expressions in the filter clause by default".
 */
export const MAX_IN_FILTER_EXPRESSIONS = 15;

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
