/**
 * Runs `fn` over `items` with at most `limit` at a time, in order of start. Store writes of a sync or an
 * assignment batch are independent, and one at a time leaves the Cosmos round trips idle.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
