/** True when Apple's (or the sandbox's) unauthenticated service config answers; used by /readyz (through a cache). */
export async function isAppleReachable(baseUrl: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/service/config`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}
