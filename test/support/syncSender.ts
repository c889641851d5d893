import { randomUUID } from 'node:crypto';
import type { ConversationReferenceJson } from '../../services/store/entities/conversation';
import { ProactiveSendError, type NotificationMessage, type ProactiveSender } from '../../services/notifications/ProactiveSender';
import type { Store } from '../../services/store/Store';

export interface SentMessage {
  conversationId: string;
  message: NotificationMessage;
  at: number;
}

/** Records what would go to Teams; `failWith` scripts HTTP failures per conversation. */
export class RecordingSender implements ProactiveSender {
  readonly sent: SentMessage[] = [];
  readonly attempts: string[] = [];
  private readonly failures = new Map<string, number[]>();
  /** Resolves a waiter when this many messages were sent. */
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  hang = new Set<string>();

  failWith(conversationId: string, ...statuses: number[]): this {
    this.failures.set(conversationId, [...(this.failures.get(conversationId) ?? []), ...statuses]);
    return this;
  }

  async send(reference: ConversationReferenceJson, message: NotificationMessage): Promise<void> {
    const conversationId = reference.conversation.id;
    this.attempts.push(conversationId);
    if (this.hang.has(conversationId)) await new Promise(() => undefined);
    const status = this.failures.get(conversationId)?.shift();
    if (status !== undefined) throw new ProactiveSendError(`HTTP ${status}`, status, status === 429 ? 10 : undefined);
    this.sent.push({ conversationId, message, at: Date.now() });
    for (const w of this.waiters.filter((w) => this.sent.length >= w.count)) w.resolve();
    this.waiters = this.waiters.filter((w) => this.sent.length < w.count);
  }

  /** Resolves once `count` messages in total have been sent. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.sent.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.sent.length} of ${count} messages sent`)), timeoutMs);
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  to(conversationId: string): SentMessage[] {
    return this.sent.filter((s) => s.conversationId === conversationId);
  }
}

export function reference(conversationId: string, tenantId: string, userAadObjectId?: string): ConversationReferenceJson {
  return {
    channelId: 'msteams',
    serviceUrl: 'https://smba.trafficmanager.net/teams/',
    bot: { id: '28:bot', name: 'VPP Books' },
    user: userAadObjectId ? { id: `29:${userAadObjectId}`, aadObjectId: userAadObjectId } : undefined,
    conversation: { id: conversationId, conversationType: 'personal', tenantId },
  };
}

/** Stores an admin's personal chat reference, as the recorder would on their first message. */
export async function addAdminChat(store: Store, tenantId: string, userAadObjectId: string = randomUUID()): Promise<{ conversationId: string; userAadObjectId: string }> {
  const conversationId = `a:${userAadObjectId}`;
  await store.conversations.save({ tenantId, scope: 'personal', userAadObjectId, conversationId, reference: reference(conversationId, tenantId, userAadObjectId) });
  return { conversationId, userAadObjectId };
}
