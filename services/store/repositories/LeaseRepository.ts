import type { Container } from '@azure/cosmos';
import { DocumentStore, type Versioned } from '../DocumentStore';
import { leaseSchema, type Lease } from '../entities/lease';
import { clockOf, type RepositoryOptions } from './options';

/** Proof of holding a lease: renew and release only work while the document still has this ETag. */
export type LeaseHandle = Versioned<Lease>;

/**
 * Named locks across bot instances (e.g. `sync|<tokenId>`), partitioned by their own id. Every change
 * is conditional on the ETag, so of two contenders exactly one wins; a holder that dies stops
 * renewing and anyone may take the lease once it has expired.
 */
export class LeaseRepository {
  readonly store: DocumentStore<Lease>;
  private readonly now: () => Date;

  constructor(container: Container, options: RepositoryOptions = {}) {
    this.now = clockOf(options);
    this.store = new DocumentStore({ container, schema: leaseSchema, docType: 'lease', partitionKeyField: 'id', maxAttempts: options.maxAttempts });
  }

  get(name: string): Promise<Lease | undefined> {
    return this.store.get(name, name);
  }

  /** Takes the lease if free, expired, or already ours; undefined when someone else holds it. */
  async acquire(name: string, owner: string, durationMs: number): Promise<LeaseHandle | undefined> {
    const now = this.now();
    const lease: Lease = {
      id: name,
      owner,
      acquiredDateTime: now.toISOString(),
      renewedDateTime: now.toISOString(),
      expiresAt: new Date(now.getTime() + durationMs).toISOString(),
    };
    const existing = await this.store.read(name, name);
    if (!existing) return this.store.tryCreate(lease);
    const held = existing.value;
    if (held.owner !== owner && Date.parse(held.expiresAt) > now.getTime()) return undefined;
    const keepSince = held.owner === owner ? held.acquiredDateTime : lease.acquiredDateTime;
    return this.store.tryReplace({ ...lease, acquiredDateTime: keepSince }, existing.etag);
  }

  /** Extends a lease we hold; undefined when it was lost (taken over after expiry, or released). */
  async renew(handle: LeaseHandle, durationMs: number): Promise<LeaseHandle | undefined> {
    const now = this.now();
    return this.store.tryReplace(
      { ...handle.value, renewedDateTime: now.toISOString(), expiresAt: new Date(now.getTime() + durationMs).toISOString() },
      handle.etag,
    );
  }

  /** Gives the lease up; false when it was no longer ours (then there is nothing to release). */
  release(handle: LeaseHandle): Promise<boolean> {
    return this.store.delete(handle.value.id, handle.value.id, handle.etag);
  }
}
