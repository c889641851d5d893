import { z } from 'zod';

/**
 * Graph's error envelope on any non-2xx answer: `{ error: { code, message, innerError: { request-id, date } } }`
 * (learn.microsoft.com/graph/errors). The throttling example nests another `code`/`message` in innerError;
 * only the request id is read from it, for the log.
 */
export const graphErrorSchema = z.object({
  error: z.looseObject({
    code: z.string().max(200),
    // Intune puts a whole JSON document in `message`: cut, not refused, so the code still reaches the log.
    message: z.string().transform((text) => text.slice(0, 4000)).optional(),
    innerError: z.looseObject({ 'request-id': z.string().max(200).optional() }).optional(),
  }),
});

/** A page of a collection; `@odata.nextLink` is an absolute URL to the next page (learn.microsoft.com/graph/paging). */
export function collectionSchema<T extends z.ZodType>(item: T) {
  return z.looseObject({
    value: z.array(item),
    '@odata.nextLink': z.url().optional(),
    '@odata.count': z.number().int().min(0).optional(),
  });
}
