import type { Container } from '@azure/cosmos';
import { DocumentStore } from '../DocumentStore';
import { truncate } from '../../common/truncate';
import { LIMITS } from '../entities/common';
import { notificationId, notificationSchema, type Notification } from '../entities/notification';
import { clockOf, type RepositoryOptions } from './options';

export type NotificationClaim = Pick<Notification, 'tokenId' | 'tenantId' | 'kind' | 'threshold' | 'occurrenceKey' | 'claimedBy'>;

/** A claim not marked sent within this time is presumed abandoned (the sender crashed). */
const DEFAULT_STALE_CLAIM_MS = 15 * 60_000;

/**
 * Send-once bookkeeping. Whoever creates the deterministic document first sends the notification;
 * every other instance (or a later sweep) finds it and does nothing.
 */
export class NotificationRepository {
  readonly store: DocumentStore<Notification>;
  private readonly now: () => Date;

  constructor(
    container: Container,
    options: RepositoryOptions & { staleClaimMs?: number } = {},
  ) {
    this.now = clockOf(options);
    this.staleClaimMs = options.staleClaimMs ?? DEFAULT_STALE_CLAIM_MS;
    this.store = new DocumentStore({ container, schema: notificationSchema, docType: 'notification', partitionKeyField: 'tokenId', maxAttempts: options.maxAttempts });
  }

  private readonly staleClaimMs: number;

  /** The notification to send, or undefined when it was already sent or is being sent by someone else. */
  async claim(claim: NotificationClaim): Promise<Notification | undefined> {
    const now = this.now();
    const notification: Notification = {
      ...claim,
      id: notificationId(claim.kind, claim.threshold, claim.occurrenceKey),
      state: 'claimed',
      claimedDateTime: now.toISOString(),
    };
    const created = await this.store.tryCreate(notification);
    if (created) return created.value;
    const existing = await this.store.read(notification.id, claim.tokenId);
    if (!existing || existing.value.state === 'sent') return undefined;
    const abandoned = existing.value.state === 'failed' || Date.parse(existing.value.claimedDateTime) + this.staleClaimMs <= now.getTime();
    if (!abandoned) return undefined;
    return (await this.store.tryReplace(notification, existing.etag))?.value;
  }

  async markSent(tokenId: string, id: string, recipients: number): Promise<Notification | undefined> {
    const sentDateTime = this.now().toISOString();
    return (await this.store.update(id, tokenId, (n) => ({ ...n, state: 'sent', sentDateTime, recipients, error: undefined })))?.value;
  }

  /** Records the failure; a later claim may try again. */
  async markFailed(tokenId: string, id: string, error: string): Promise<Notification | undefined> {
    return (await this.store.update(id, tokenId, (n) => ({ ...n, state: 'failed', error: truncate(error, LIMITS.message) })))?.value;
  }

  listByToken(tokenId: string): Promise<Notification[]> {
    return this.store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.tokenId = @tokenId', [{ name: '@tokenId', value: tokenId }], { partitionKey: tokenId });
  }

  deleteAllForToken(tokenId: string): Promise<number> {
    return this.store.deletePartition(tokenId);
  }
}

