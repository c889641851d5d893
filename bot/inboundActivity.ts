import { z } from 'zod';

const universalActionValueSchema = z.looseObject({ action: z.looseObject({}) });

/**
 * The least an inbound activity must have for the bot to act on it and answer: everything else
 * botbuilder reads is optional. Checked before the adapter so malformed bodies get a 400, not a 500
 * from deep inside the SDK.
 */
const inboundActivitySchema = z.looseObject({
  type: z.string().min(1).max(64),
  serviceUrl: z.string().url().max(2048),
  conversation: z.looseObject({ id: z.string().min(1).max(1024) }),
  from: z.looseObject({ id: z.string().max(1024) }).optional(),
  // Length is bounded by the body cap; a wrong type would fail deep inside botbuilder.
  text: z.string().optional(),
}).superRefine((activity, ctx) => {
  // botbuilder reads `value.action.type` of a Universal Action unchecked, so a value without an action
  // object would throw inside the SDK (a 501 and an incident message in chat).
  if (activity.type !== 'invoke' || activity.name !== 'adaptiveCard/action') return;
  if (!universalActionValueSchema.safeParse(activity.value).success) {
    ctx.addIssue({ code: 'custom', path: ['value', 'action'], message: 'a Universal Action needs an action object' });
  }
});

/** One line for the HTTP response; never echoes the body back. */
export function describeInvalidActivity(body: unknown): string | undefined {
  const result = inboundActivitySchema.safeParse(body);
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  return `Not a Bot Framework activity: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'}`;
}
