/** Readiness must answer quickly even when Apple does not. */
const TIMEOUT_MS = 3000;

/** True when Apple's (or the sandbox's) unauthenticated service config answers; used by /readyz (through a cache). */
export async function isAppleReachable(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/service/config`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return response.ok;
  } catch {
    return false;
  }
}
