/**
 * Graph's error answers (https://learn.microsoft.com/graph/errors): `{"error": {"code", "message", "innerError":
 * {"date", "request-id", "client-request-id"}}}`. Errors raised by Intune itself (an unknown entity, a token it
 * will not take) carry Intune's habit of a JSON document serialised into `message`
 * (test/fixtures/intune/error-intune-bad-request-observed.jsonc); errors of Graph's OData layer (unknown property,
 * bad enum value, unknown segment, wrong method) carry a plain sentence.
 */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { intune?: boolean; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

/** Graph's innerError date: UTC, to the second, without a zone letter ("2020-09-22T16:33:23"). */
export function graphErrorDate(date: Date): string {
  return date.toISOString().slice(0, 19);
}

export interface RequestIds {
  requestId: string;
  clientRequestId: string;
}

export function graphErrorBody(error: GraphError, ids: RequestIds, now: Date): unknown {
  const message = error.options.intune
    ? JSON.stringify(
        {
          _version: 3,
          Message: `${error.message} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: ${ids.requestId} - Url: http://local-intune/StatelessAppMetadataFEService/deviceAppManagement`,
          CustomApiErrorPhrase: '',
          RetryAfter: null,
          ErrorSourceService: '',
          HttpHeaders: '{}',
        },
        null,
        2,
      ).replace(/\n/g, '\r\n')
    : error.message;
  return { error: { code: error.code, message, innerError: { date: graphErrorDate(now), 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId } } };
}

/** An OData-layer refusal of a request body or query. */
export const badRequest = (message: string): GraphError => new GraphError(400, 'BadRequest', message);

/** Intune's own refusal of a request it understood. */
export const intuneBadRequest = (message: string): GraphError => new GraphError(400, 'BadRequest', message, { intune: true });

export const notFound = (what: string, id: string): GraphError => new GraphError(404, 'ResourceNotFound', `${what} with id '${id}' was not found.`, { intune: true });
