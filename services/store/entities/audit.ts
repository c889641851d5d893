import { z } from 'zod';
import { LIMITS, actorSchema, dateTimeSchema, idSchema } from './common';

/** Field names that only ever hold credentials: an audit entry must never have one. */
const SECRET_FIELD = /^(s?token|vppToken|tokenValue|encryptedToken|ciphertext|secret|clientSecret|password|passwd|credentials?|authorization|cookie|apiKey|key|privateKey)$/i;
const SECRET_FIELD_PART = /(secret|password|credential|authorization|bearer)/i;

/** deterministicId's form for long natural keys: a digest, not a secret. */
const HASHED_ID = /^h\|[0-9a-f]{64}$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A string that looks like a credential: a long unbroken base64/base64url run (VPP tokens, keys),
 * a JWT, or base64-encoded JSON (a .vpptoken file starts with "eyJ"). GUIDs are ids, not secrets.
 */
function looksLikeSecret(value: string): boolean {
  if (GUID.test(value) || HASHED_ID.test(value)) return false;
  if (/\beyJ[A-Za-z0-9+/_-]{16,}/.test(value)) return true;
  if (/^Bearer\s/i.test(value)) return true;
  return /[A-Za-z0-9+/_=-]{40,}/.test(value);
}

function checkForSecrets(value: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (typeof value === 'string') {
    if (looksLikeSecret(value)) ctx.addIssue({ code: 'custom', path, message: 'looks like a token or key; audit entries must never contain secrets' });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkForSecrets(v, [...path, i], ctx));
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (SECRET_FIELD.test(key) || SECRET_FIELD_PART.test(key)) {
        ctx.addIssue({ code: 'custom', path: [...path, key], message: `field "${key}" would hold a secret; audit entries must never contain one` });
      }
      checkForSecrets(v, [...path, key], ctx);
    }
  }
}

const detailValue = z.union([z.string().max(LIMITS.message), z.number(), z.boolean(), z.null()]);

/** Who did what, when, to what, and how it ended. Strict: unknown fields are refused, not dropped. */
export const auditEventSchema = z
  .strictObject({
    id: idSchema,
    tenantId: z.string().min(1).max(128),
    timestamp: dateTimeSchema,
    actor: z.union([actorSchema.strict(), z.strictObject({ system: z.string().min(1).max(128) })]),
    /** Dotted verb, e.g. "token.upload", "assignment.approve", "sync.manual". */
    action: z.string().regex(/^[a-z][a-zA-Z]*(\.[a-z][a-zA-Z]*)+$/, 'a dotted action such as "token.upload"'),
    target: z.strictObject({
      type: z.enum(['token', 'book', 'assignment', 'approval', 'user', 'group', 'conversation', 'sync']),
      id: z.string().min(1).max(256),
      name: z.string().max(LIMITS.title).optional(),
    }),
    tokenId: idSchema.optional(),
    outcome: z.enum(['success', 'failure', 'refused']),
    details: z.record(z.string().max(64), detailValue).optional(),
    /** A repeated event (the same refusal again and again) is one entry: how often, from `timestamp` to `lastTimestamp`. */
    count: z.number().int().positive().optional(),
    lastTimestamp: dateTimeSchema.optional(),
  })
  .superRefine((event, ctx) => checkForSecrets(event, [], ctx));
export type AuditEvent = z.infer<typeof auditEventSchema>;
