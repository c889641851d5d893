import type { z } from 'zod';

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`)
    .join('; ');
}

/**
 * A document failed its schema: on read it was corrupted or written by something else, on write a
 * caller built a bad entity. Either way nothing is silently stored or returned.
 */
export class StoreValidationError extends Error {
  override readonly name = 'StoreValidationError';

  constructor(
    readonly direction: 'read' | 'write',
    readonly entity: string,
    readonly id: string,
    readonly issues: z.ZodError,
  ) {
    super(
      direction === 'read'
        ? `Stored ${entity} "${id}" is invalid: ${describeIssues(issues)}`
        : `Refusing to store ${entity} "${id}": ${describeIssues(issues)}`,
    );
  }
}

/** A create found the id already taken. */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';

  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} "${id}" already exists`);
  }
}

/** Optimistic concurrency gave up after its bounded retries; the caller may try again later. */
export class StoreConcurrencyError extends Error {
  override readonly name = 'StoreConcurrencyError';

  constructor(
    readonly entity: string,
    readonly id: string,
    readonly attempts: number,
  ) {
    super(`${entity} "${id}" kept changing under us; gave up after ${attempts} attempts`);
  }
}

/** The HTTP status of an @azure/cosmos ErrorResponse, or undefined for anything else. */
export function cosmosStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') return err.code;
  return undefined;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * The database could not be reached (down, network, throttled past the SDK's retries). The SDK's errors
 * carry `diagnostics`, which tells them from other errors with the same network codes.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('diagnostics' in err)) return false;
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
  return (typeof code === 'string' && UNREACHABLE_CODES.has(code)) || statusCode === 503 || statusCode === 408 || statusCode === 429;
}
