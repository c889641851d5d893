/** Readiness must answer quickly even when Graph does not. */
const TIMEOUT_MS = 3000;

/**
 * True when Microsoft Graph (or the local Intune) answers at all; used by /readyz (through a cache) in Intune
 * mode. Without a token Graph answers 401, which says it is reachable: only no answer, or a 5xx, is down.
 * The service root is asked, not `$metadata`, which is megabytes.
 */
export async function isGraphReachable(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/v1.0/`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}
