import type { InvokeResponse, TurnContext } from 'botbuilder';
import { z } from 'zod';
import { looksLikeToken } from '../../services/common/chatText';
import { SEARCH_DATASETS, type SearchResult, type TypeaheadSearch } from '../../services/search/TypeaheadSearch';
import type { Logger } from '../../services/logging/logger';
import type { AccessGuard } from '../AccessGuard';
import { isExpectedError, toChatError } from '../chatErrors';
import { normaliseText } from '../parseCommand';

/** The invoke a typeahead box (`Input.ChoiceSet` with `choices.data` of type `Data.Query`) sends as the admin types. */
export const SEARCH_INVOKE_NAME = 'application/search';

/**
 * The invoke's value, as Teams' "Typeahead search in Adaptive Cards" shows it:
 * `{ queryText, queryOptions: { skip, top }, dataset }`. Teams may add more (`kind`, `context`, the card's
 * inputs under `data`), which is left alone.
 */
const searchInvokeValueSchema = z.looseObject({
  queryText: z.string().max(500),
  queryOptions: z
    .looseObject({
      skip: z.number().int().min(0).max(1_000).default(0),
      top: z.number().int().min(1).max(100).default(15),
    })
    .default({ skip: 0, top: 15 }),
  dataset: z.enum(SEARCH_DATASETS),
});

const SEARCH_RESPONSE_TYPE = 'application/vnd.microsoft.search.searchResponse';
/** The error answer botbuilder itself gives a malformed search invoke (ActivityHandler.getSearchInvokeValue). */
const ERROR_TYPE = 'application/vnd.microsoft.error';

const BAD_QUERY_MESSAGE = 'That search came with something I could not read, so I searched nothing. Type part of the name instead.';

/** The dropdown shows the message as plain text: no Markdown emphasis. */
const plain = (text: string): string => text.replace(/\*\*/g, '');

function searchError(statusCode: number, code: string, message: string): InvokeResponse {
  return { status: statusCode, body: { statusCode, type: ERROR_TYPE, value: { code, message: plain(message) } } };
}

function searchResponse(results: SearchResult[]): InvokeResponse {
  return { status: 200, body: { statusCode: 200, type: SEARCH_RESPONSE_TYPE, value: { results } } };
}

/**
 * Answers typeahead searches. Only admins get results: the sender is checked like any command (from what
 * Teams put on the activity, refusals audited), so a member who got hold of a card learns no book or group.
 */
export class SearchInvokeHandler {
  constructor(
    private readonly search: Pick<TypeaheadSearch, 'search'>,
    private readonly guard: Pick<AccessGuard, 'check'>,
    private readonly logger?: Logger,
  ) {}

  async handle(context: TurnContext): Promise<InvokeResponse> {
    const parsed = searchInvokeValueSchema.safeParse(context.activity.value);
    if (!parsed.success) return searchError(400, 'BadRequest', BAD_QUERY_MESSAGE);
    const access = await this.guard.check(context, 'search');
    if (!access.allowed) return searchError(403, 'Forbidden', access.message);
    const { queryText, queryOptions, dataset } = parsed.data;
    const text = normaliseText(queryText);
    // A pasted token must not travel on as a search term (to Graph, or into a log).
    if (looksLikeToken(text)) return searchResponse([]);
    try {
      const results = await this.search.search({ tenantId: access.actor.tenantId, dataset, text, skip: queryOptions.skip, top: queryOptions.top });
      return searchResponse(results);
    } catch (err) {
      const error = toChatError(err);
      if (isExpectedError(err)) return searchError(503, 'ServiceUnavailable', error.text);
      this.logger?.error({ err, incidentId: error.incidentId, dataset }, 'typeahead search failed');
      return searchError(500, 'InternalServerError', error.text);
    }
  }
}
