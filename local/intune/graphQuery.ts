import { badRequest } from './graphErrors';
import type { IntuneEBook } from './IntuneState';

/**
 * OData query options as Graph takes them on the deviceAppManagement collections: `$top` as the page size
 * with `@odata.nextLink` carrying an opaque `$skiptoken` (https://learn.microsoft.com/graph/paging), `$select`,
 * `$count`, and on managedEBooks `$filter` and `$expand=assignments`. Any other system option is refused, as
 * Graph's OData layer refuses options a resource does not allow.
 */

export interface QueryOptions {
  top: number | undefined;
  offset: number;
  select: string[] | undefined;
  count: boolean;
  filter: string | undefined;
  expand: string[];
}

const ODATA_REFUSAL = (option: string) =>
  badRequest(`Query option '${option}' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.`);

/** Reads the query; `allowed` names the system options this resource takes. */
export function readQuery(params: URLSearchParams, allowed: ReadonlySet<string>): QueryOptions {
  for (const key of params.keys()) {
    if (key.startsWith('$') && !allowed.has(key)) throw ODATA_REFUSAL(key);
  }
  const rawTop = params.get('$top');
  let top: number | undefined;
  if (rawTop !== null) {
    if (!/^\d+$/.test(rawTop.trim())) throw badRequest(`Invalid value '${rawTop}' for $top query option found. The $top query option requires a non-negative integer value.`);
    top = Number(rawTop.trim());
  }
  const skipToken = params.get('$skiptoken');
  let offset = 0;
  if (skipToken !== null) {
    const decoded = /^o:(\d+)$/.exec(Buffer.from(skipToken, 'base64url').toString('utf8'));
    if (!decoded?.[1]) throw badRequest('The $skiptoken value is not valid. Send the @odata.nextLink of the previous page as it is.');
    offset = Number(decoded[1]);
  }
  const list = (name: string): string[] | undefined => {
    const raw = params.get(name);
    return raw === null ? undefined : raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  };
  const count = params.get('$count');
  if (count !== null && count !== 'true' && count !== 'false') throw badRequest(`'${count}' is not a valid count option.`);
  return { top, offset, select: list('$select'), count: count === 'true', filter: params.get('$filter') ?? undefined, expand: list('$expand') ?? [] };
}

export function skipToken(offset: number): string {
  return Buffer.from(`o:${offset}`, 'utf8').toString('base64url');
}

const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/**
 * `$filter` on managedEBooks: `isof('microsoft.graph.iosVppEBook')` (every book here is one; the abstract
 * `managedEBook` too), `vppTokenId eq <guid>` with the Edm.Guid literal unquoted as OData writes it, and
 * `and` of those. No Graph page documents either (NOTES.md): anything else is refused rather than guessed.
 */
export function eBookFilter(filter: string | undefined): (book: IntuneEBook) => boolean {
  if (filter === undefined || filter.trim() === '') return () => true;
  const clauses = filter.split(/\s+and\s+/i).map((clause): ((book: IntuneEBook) => boolean) => {
    const text = clause.trim().replace(/^\((.*)\)$/, '$1').trim();
    const isof = /^isof\(\s*'#?([\w.]+)'\s*\)$/i.exec(text);
    if (isof) {
      const type = isof[1] ?? '';
      const matches = type === 'microsoft.graph.iosVppEBook' || type === 'microsoft.graph.managedEBook';
      return () => matches;
    }
    const byToken = new RegExp(`^vppTokenId\\s+eq\\s+(${GUID})$`, 'i').exec(text);
    if (byToken) {
      const id = (byToken[1] ?? '').toLowerCase();
      return (book) => book.vppTokenId.toLowerCase() === id;
    }
    if (new RegExp(`^vppTokenId\\s+eq\\s+'${GUID}'$`, 'i').test(text)) {
      throw badRequest("A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.");
    }
    throw badRequest(`Invalid filter clause: the local Intune understands isof('microsoft.graph.iosVppEBook') and vppTokenId eq <guid>, not '${text}'.`);
  });
  return (book) => clauses.every((matches) => matches(book));
}
