import type { Logger } from '../../../services/logging/logger';
import { Secret } from '../../../services/secrets/Secret';
import { AppleBooksClient, type AppleBooksClientOptions } from '../../../services/apple/AppleBooksClient';
import { startAppleSandbox, type AppleSandboxOptions, type RunningAppleSandbox } from '../../../local/appleSandbox/AppleSandboxServer';
import { SandboxState, type SandboxOrganisation } from '../../../local/appleSandbox/SandboxState';

export interface TestSandbox {
  sandbox: RunningAppleSandbox;
  state: SandboxState;
  org: SandboxOrganisation;
  /** Bearer of a valid token for `org`. */
  bearer: string;
  client(overrides?: Partial<AppleBooksClientOptions> & { bearer?: string }): AppleBooksClient;
}

/** Fast retries and no rate limit, so tests that are not about timing stay quick. */
export const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 40 };
export const NO_RATE_LIMIT = { maxRequestsPerSecond: 10_000, maxConcurrent: 5 };

export const BOOKS = Array.from({ length: 12 }, (_, i) => ({
  adamId: String(1_700_000_000 + i),
  title: `Test Book ${i + 1}`,
  author: `Author ${i + 1}`,
  totalCount: i === 0 ? 2 : 50,
}));

/** A sandbox with one organisation of 12 books (the first with only 2 licenses) and a minted token. */
export async function startTestSandbox(options: AppleSandboxOptions & { logger?: Logger } = {}): Promise<TestSandbox> {
  const state = new SandboxState({ pageSize: options.pageSize ?? 5, eventDelayMs: options.eventDelayMs ?? 30 });
  const org = state.addOrganisation({ orgName: 'Test School', books: BOOKS });
  const bearer = state.mintToken(org);
  const sandbox = await startAppleSandbox({ ...options, state });
  return {
    sandbox,
    state,
    org,
    bearer,
    client: ({ bearer: b, ...overrides } = {}) =>
      new AppleBooksClient({
        baseUrl: sandbox.baseUrl,
        token: new Secret(b ?? bearer),
        pollIntervalMs: 10,
        pollTimeoutMs: 5000,
        retry: FAST_RETRY,
        rateLimit: NO_RATE_LIMIT,
        logger: options.logger,
        ...overrides,
      }),
  };
}
