import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Characters Cosmos DB refuses in an item id. */
const FORBIDDEN = /[/\\?#]/;
const MAX_ID_LENGTH = 255;

export const documentIdSchema = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .refine((v) => !FORBIDDEN.test(v), 'must not contain / \\ ? or #');

function escapePart(part: string): string {
  return part.replace(/[%|/\\?#]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

/**
 * A deterministic item id from its natural key, so writing the same thing twice hits the same
 * document. Parts are escaped (no collisions between ("a|b","c") and ("a","b|c")) and an id that
 * would be too long is replaced by a hash of itself.
 */
export function deterministicId(...parts: string[]): string {
  const id = parts.map(escapePart).join('|');
  if (id.length <= MAX_ID_LENGTH) return id;
  return `h|${createHash('sha256').update(id).digest('hex')}`;
}
