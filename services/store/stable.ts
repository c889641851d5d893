/** Cosmos adds these to every item; they are never part of an entity's content. */
export const SYSTEM_PROPERTIES: readonly string[] = ['_rid', '_self', '_etag', '_ts', '_attachments', '_lsn'];

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      // JSON drops undefined, so a stored document never has it; compare the way it would be stored.
      if (v !== undefined) out[key] = normalise(v);
    }
    return out;
  }
  return value;
}

/** JSON with keys sorted at every level: equal content gives an equal string whatever the key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(normalise(value));
}

/** True when two documents hold the same content, ignoring system properties and `ignore`d fields. */
export function sameContent(a: Record<string, unknown>, b: Record<string, unknown>, ignore: readonly string[] = []): boolean {
  const strip = (doc: Record<string, unknown>): Record<string, unknown> => {
    const copy = { ...doc };
    for (const key of [...SYSTEM_PROPERTIES, ...ignore]) delete copy[key];
    return copy;
  };
  return stableStringify(strip(a)) === stableStringify(strip(b));
}
