import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Database } from '@azure/cosmos';
import { Secret } from '../../../services/secrets/Secret';
import { CONTAINER_DEFINITIONS, RESERVED_CONTAINER, ensureContainers, type ContainerName } from '../../../services/store/containers';
import type { DocumentStore } from '../../../services/store/DocumentStore';
import { EmbeddedCosmos } from '../../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../../services/store/Store';
import { StoreValidationError } from '../../../services/store/errors';
import { heldEncryptedToken, tokenCipherContext } from '../../../services/store/entities/vppToken';
import { assignmentId, type EBookAssignment } from '../../../services/store/entities/assignment';
import type { EBook } from '../../../services/store/entities/eBook';
import type { VppUser } from '../../../services/store/entities/vppUser';
import type { ApprovalRequest } from '../../../services/store/entities/approval';
import { ADMIN, NOW, TENANT, cipher, sampleBook, sampleToken, useEmbeddedCosmos } from './fixtures';

/** A clock tests can move. */
function movableClock(start = NOW): { now: () => Date; advance: (ms: number) => void } {
  let t = Date.parse(start);
  return { now: () => new Date(t), advance: (ms) => (t += ms) };
}

describe('store containers', () => {
  const env = useEmbeddedCosmos();

  it('ensureContainers creates every container with its partition key, idempotently, and never botState', async () => {
    const database = await env.newDatabase();
    await ensureContainers(database);
    await ensureContainers(database);
    const { resources } = await database.containers.readAll().fetchAll();
    const byId = new Map(resources.map((c) => [c.id, c]));
    for (const def of Object.values(CONTAINER_DEFINITIONS)) {
      assert.deepEqual(byId.get(def.id)?.partitionKey?.paths, def.partitionKey.paths, def.id);
    }
    assert.equal(byId.has(RESERVED_CONTAINER), false);
    assert.equal(resources.length, Object.keys(CONTAINER_DEFINITIONS).length);
  });

  it('every repository scopes its queries on the field its container is partitioned by', async () => {
    const store = await env.newStore();
    const repositories = Object.entries(store).filter(([name]) => name !== 'containers') as Array<[string, { store: DocumentStore<{ id: string }> }]>;
    const definitions = new Map<string, (typeof CONTAINER_DEFINITIONS)[ContainerName]>(Object.values(CONTAINER_DEFINITIONS).map((def) => [def.id, def]));
    const used = new Set<string>();
    for (const [name, repository] of repositories) {
      // Several document types may share a container (runs and standing assignments beside assignments).
      const def = definitions.get(repository.store.container.id);
      assert.ok(def, `${name} writes to a container ensureContainers creates`);
      assert.deepEqual(def.partitionKey.paths, [`/${repository.store.partitionKeyField}`], name);
      used.add(def.id);
    }
    assert.equal(used.size, definitions.size, 'every container is used by a repository');
  });
});

describe('repositories against embedded Cosmos', () => {
  const env = useEmbeddedCosmos();
  const clock = movableClock();
  let store: Store;
  let database: Database;

  beforeEach(async () => {
    database = await env.newDatabase();
    store = await createStore(database, { now: clock.now });
  });

  describe('TokenRepository', () => {
    it('creates, reads, lists and counts the tokens of a tenant', async () => {
      const a = sampleToken({ displayName: 'B token' });
      const b = sampleToken({ displayName: 'A token', locationId: 'loc-2', locationName: 'Branch' });
      await store.tokens.create(a);
      await store.tokens.create(b);
      await store.tokens.create(sampleToken({ tenantId: 'other-tenant' }));
      assert.deepEqual(await store.tokens.get(TENANT, a.id), a);
      assert.deepEqual((await store.tokens.listByTenant(TENANT)).map((t) => t.displayName), ['A token', 'B token']);
      assert.equal(await store.tokens.countInTenant(TENANT), 2);
      assert.equal((await store.tokens.listAll()).length, 3);
    });

    it('finds a token by Apple location id or name', async () => {
      const t = sampleToken({ locationId: 'uid-77', locationName: 'Paris' });
      await store.tokens.create(t);
      assert.deepEqual((await store.tokens.findByLocation(TENANT, { locationId: 'uid-77' })).map((x) => x.id), [t.id]);
      assert.deepEqual((await store.tokens.findByLocation(TENANT, { locationName: 'Paris' })).map((x) => x.id), [t.id]);
      assert.deepEqual(await store.tokens.findByLocation(TENANT, { locationId: 'nope' }), []);
    });

    it('refuses a token beyond the tenant limit', async () => {
      for (let i = 0; i < 3; i++) assert.equal((await store.tokens.createWithinLimit(sampleToken(), 3)).created, true);
      const refused = await store.tokens.createWithinLimit(sampleToken(), 3);
      assert.deepEqual(refused, { created: false, count: 3 });
      assert.equal(await store.tokens.countInTenant(TENANT), 3);
    });

    it('never goes over the limit when uploads race', async () => {
      await Promise.all(Array.from({ length: 6 }, () => store.tokens.createWithinLimit(sampleToken(), 4)));
      assert.ok((await store.tokens.countInTenant(TENANT)) <= 4);
    });

    it('updates by read-modify-write and stamps lastModifiedDateTime', async () => {
      const t = sampleToken();
      await store.tokens.create(t);
      clock.advance(60_000);
      const result = await store.tokens.update(TENANT, t.id, (x) => ({ ...x, lastSyncStatus: 'completed', assetsVersionId: 'v2' }));
      assert.equal(result?.value.lastSyncStatus, 'completed');
      assert.equal(result?.value.lastModifiedDateTime, clock.now().toISOString());
      assert.equal((await store.tokens.get(TENANT, t.id))?.assetsVersionId, 'v2');
    });

    it('counts 20 concurrent sync failures exactly', async () => {
      const t = sampleToken();
      await store.tokens.create(t);
      await Promise.all(Array.from({ length: 20 }, () => store.tokens.update(TENANT, t.id, (x) => ({ ...x, consecutiveSyncFailures: x.consecutiveSyncFailures + 1 }))));
      assert.equal((await store.tokens.get(TENANT, t.id))?.consecutiveSyncFailures, 20);
    });

    it('deletes a token', async () => {
      const t = sampleToken();
      await store.tokens.create(t);
      assert.equal(await store.tokens.delete(TENANT, t.id), true);
      assert.equal(await store.tokens.get(TENANT, t.id), undefined);
    });
  });

  describe('secrets at rest', () => {
    it('stores no plain token anywhere in the database, yet the token decrypts', async () => {
      const plain = new Secret(`eyJ0b2tlbiI6IkFBQUFBLXBsYWluLXZwcC10b2tlbi0${randomUUID()}`);
      const token = sampleToken({}, plain);
      await store.tokens.create(token);
      await store.audit.record({ tenantId: TENANT, actor: ADMIN, action: 'token.upload', target: { type: 'token', id: token.id, name: token.displayName }, outcome: 'success' });
      await store.syncRuns.start({ id: 'r1', tokenId: token.id, tenantId: TENANT, trigger: 'tokenUpload', startedDateTime: NOW, status: 'inProgress', counts: { booksAdded: 0, booksUpdated: 0, booksUnchanged: 0, usersChanged: 0, assignmentsChanged: 0, writes: 0 } });
      let scanned = 0;
      for (const def of Object.values(CONTAINER_DEFINITIONS)) {
        const { resources } = await database.container(def.id).items.readAll().fetchAll();
        for (const item of resources) {
          scanned++;
          const text = JSON.stringify(item);
          assert.ok(!text.includes(plain.reveal()), `plain token found in ${def.id}`);
          assert.ok(!text.includes(Buffer.from(plain.reveal()).toString('base64')), `base64 of the token found in ${def.id}`);
        }
      }
      assert.ok(scanned >= 3);
      const stored = await store.tokens.get(TENANT, token.id);
      assert.ok(stored);
      assert.equal(cipher.decrypt(heldEncryptedToken(stored), tokenCipherContext(stored)).reveal(), plain.reveal());
    });
  });

  describe('BookRepository', () => {
    it('finds a token\'s books by title or author as names are compared, a page at a time, and by exact title', async () => {
      const tokenId = 'tok-1';
      const titles = ['Swift Basics', 'Advanced Swift', 'Cooking', 'The Swift Way', 'Gardening', 'Swift'];
      for (const [i, title] of titles.entries()) await store.books.upsertIfChanged(sampleBook(tokenId, String(1000 + i), { title, author: i === 2 ? 'Jane Swíftly' : undefined }));
      await store.books.upsertIfChanged(sampleBook('tok-2', '1000', { title: 'Swift Elsewhere' }));
      assert.equal((await store.books.get(tokenId, '1002', 'STDQ'))?.searchKey, 'cooking\njane swiftly', 'every write stores the normalised key');
      const first = await store.books.findByName(tokenId, ' SWÍFT ', { pageSize: 2 });
      assert.deepEqual(first.items.map((b) => b.title), ['Advanced Swift', 'Cooking']);
      assert.ok(first.continuationToken);
      const second = await store.books.findByName(tokenId, 'swift', { pageSize: 2, continuationToken: first.continuationToken });
      assert.deepEqual(second.items.map((b) => b.title), ['Swift', 'Swift Basics']);
      const third = await store.books.findByName(tokenId, 'swift', { pageSize: 2, continuationToken: second.continuationToken });
      assert.deepEqual(third.items.map((b) => b.title), ['The Swift Way']);
      assert.equal(third.continuationToken, undefined);
      assert.deepEqual((await store.books.findInTenantByTitle(TENANT, 'SWIFT')).map((b) => b.title), ['Swift'], 'the title itself, not titles containing it, in any of the tenant\'s tokens');
      assert.deepEqual((await store.books.findInTenantByName(TENANT, 'elsewhere')).items.map((b) => b.title), ['Swift Elsewhere'], "the tenant's other token too");
      assert.deepEqual((await store.books.findInTenantByName('another-tenant', 'swift')).items, [], "never another tenant's books");
      assert.deepEqual((await store.books.findByName(tokenId, 'swift\njane')).items, [], 'no match across the title and the author');
      assert.equal((await store.books.findByName(tokenId, '', { pageSize: 10 })).items.length, 6);
      assert.equal((await store.books.listByToken(tokenId)).length, 6);
      assert.equal((await store.books.get(tokenId, '1000', 'STDQ'))?.title, 'Swift Basics');
    });

    it('a repeated sync with nothing new makes zero writes; a dropped book goes only if unchanged since it was read', async () => {
      const tokenId = 'tok-sync';
      const catalogue = Array.from({ length: 5 }, (_, i) => sampleBook(tokenId, String(2000 + i)));
      const sync = async (books: EBook[]): Promise<boolean[]> => {
        const stored = await store.books.listForSync(tokenId);
        const results = await store.books.upsertManyIfChanged(tokenId, books.map((entity) => ({ entity, current: stored.get(entity.id) ?? null })));
        return results.map((r) => r.written);
      };
      assert.deepEqual(await sync(catalogue), [true, true, true, true, true]);
      const etags = await etagsOf(database, 'books', tokenId);
      clock.advance(3_600_000);
      // Same content, later timestamps: must not count as a change.
      const again = catalogue.map((b) => ({ ...b, createdDateTime: clock.now().toISOString(), lastModifiedDateTime: clock.now().toISOString() }));
      assert.deepEqual(await sync(again), [false, false, false, false, false]);
      assert.deepEqual(await etagsOf(database, 'books', tokenId), etags, 'no document was rewritten');
      const changed = again.map((b, i) => (i === 0 ? { ...b, usedLicenseCount: 3, availableLicenseCount: 7 } : b)).slice(0, 4);
      assert.deepEqual(await sync(changed), [true, false, false, false]);
      assert.equal((await store.books.getById(tokenId, catalogue[0]?.id ?? ''))?.createdDateTime, NOW, 'creation time kept');

      const dropped = [...(await store.books.listForSync(tokenId)).values()].filter((v) => v.value.id === catalogue[4]?.id);
      assert.equal(dropped.length, 1);
      await store.books.update(tokenId, catalogue[4]?.id ?? '', (b) => ({ ...b, usedLicenseCount: 4, availableLicenseCount: 6 }));
      assert.equal(await store.books.removeIfUnchanged(tokenId, dropped), 0, 'changed since it was read: kept');
      assert.equal(await store.books.removeIfUnchanged(tokenId, [...(await store.books.listForSync(tokenId)).values()].filter((v) => v.value.id === catalogue[4]?.id)), 1);
      assert.deepEqual((await store.books.listByToken(tokenId)).map((b) => b.id).sort(), catalogue.slice(0, 4).map((b) => b.id).sort());
    });

    it('deletes all books of a removed token', async () => {
      for (let i = 0; i < 3; i++) await store.books.upsertIfChanged(sampleBook('tok-del', String(3000 + i)));
      assert.equal(await store.books.deleteAllForToken('tok-del'), 3);
      assert.deepEqual(await store.books.listByToken('tok-del'), []);
    });
  });

  describe('AssignmentRepository', () => {
    const assignment = (overrides: Partial<EBookAssignment> = {}): EBookAssignment => ({
      id: assignmentId('1000', 'STDQ', 'group-1'),
      tokenId: 'tok-1',
      tenantId: TENANT,
      adamId: '1000',
      pricingParam: 'STDQ',
      bookTitle: 'Swift Basics',
      targetGroupId: 'group-1',
      targetGroupName: 'Sales',
      installIntent: 'required',
      status: 'pendingApproval',
      requestedBy: ADMIN,
      requestedDateTime: NOW,
      lastModifiedDateTime: NOW,
      ...overrides,
    });

    it('keeps one assignment per book and group, and tracks its status', async () => {
      assert.equal((await store.assignments.createOrGet(assignment())).created, true);
      const second = await store.assignments.createOrGet(assignment({ installIntent: 'available' }));
      assert.equal(second.created, false);
      assert.equal(second.assignment.installIntent, 'required');
      await store.assignments.update('tok-1', second.assignment.id, (a) => ({ ...a, status: 'inProgress', approvedBy: ADMIN, decidedAt: NOW }));
      await store.assignments.createOrGet(assignment({ id: assignmentId('1001', 'STDQ', 'group-2'), adamId: '1001', targetGroupId: 'group-2' }));
      assert.deepEqual((await store.assignments.listByBook('tok-1', '1000', 'STDQ')).map((a) => [a.targetGroupId, a.status]), [['group-1', 'inProgress']]);
      await store.assignments.update('tok-1', second.assignment.id, (a) => ({
        ...a,
        status: 'completed',
        results: { targetedUsers: 3, licensed: 2, awaitingInvitation: 1, failed: 0, updatedDateTime: NOW },
      }));
      assert.equal((await store.assignments.get('tok-1', second.assignment.id))?.results?.licensed, 2);
      assert.equal(await store.assignments.delete('tok-1', second.assignment.id), true);
    });
  });

  describe('VppUserRepository', () => {
    const user = (id: string, overrides: Partial<VppUser> = {}): VppUser => ({
      id,
      clientUserId: id,
      tokenId: 'tok-1',
      tenantId: TENANT,
      status: 'registered',
      inviteCode: `invite-${id}`,
      createdDateTime: NOW,
      lastModifiedDateTime: NOW,
      ...overrides,
    });

    it('stores users by clientUserId, reads them one by one and in bulk, syncs without rewriting', async () => {
      const users = [user('u1'), user('u2'), user('u3', { status: 'associated', managedAppleId: 'u3@contoso.appleaccount.com', inviteCode: undefined })];
      const sync = async (): Promise<boolean[]> => {
        const stored = await store.vppUsers.listForSync('tok-1');
        return (await store.vppUsers.upsertManyIfChanged('tok-1', users.map((entity) => ({ entity, current: stored.get(entity.id) ?? null })))).map((r) => r.written);
      };
      assert.deepEqual(await sync(), [true, true, true]);
      assert.deepEqual(await sync(), [false, false, false]);
      assert.equal((await store.vppUsers.get('tok-1', 'u1'))?.inviteCode, 'invite-u1');
      assert.deepEqual((await store.vppUsers.getMany('tok-1', ['u1', 'u3', 'zz'])).map((u) => u.id).sort(), ['u1', 'u3']);
      await store.vppUsers.update('tok-1', 'u1', (u) => ({ ...u, status: 'associated' }));
      assert.deepEqual((await store.vppUsers.listByToken('tok-1')).filter((u) => u.status === 'registered').map((u) => u.id), ['u2']);
    });

    it('refuses a user whose id is not its clientUserId', async () => {
      await assert.rejects(store.vppUsers.upsertIfChanged(user('u9', { clientUserId: 'someone-else' })), /id must equal clientUserId/);
    });
  });

  describe('SyncRunRepository', () => {
    it('records runs with a TTL and lists the newest first', async () => {
      for (let i = 0; i < 4; i++) {
        await store.syncRuns.start({
          id: `run-${i}`,
          tokenId: 'tok-1',
          tenantId: TENANT,
          trigger: i === 3 ? 'manual' : 'scheduled',
          startedBy: i === 3 ? ADMIN : undefined,
          startedDateTime: new Date(Date.parse(NOW) + i * 1000).toISOString(),
          status: 'inProgress',
          counts: { booksAdded: 0, booksUpdated: 0, booksUnchanged: 0, usersChanged: 0, assignmentsChanged: 0, writes: 0 },
        });
      }
      const finished = await store.syncRuns.finish('tok-1', 'run-3', { status: 'failed', finishedDateTime: NOW, error: { code: '9646', message: 'Apple is rate limiting', occurredDateTime: NOW } });
      assert.equal(finished?.status, 'failed');
      const recent = await store.syncRuns.listRecent('tok-1', 2);
      assert.deepEqual(recent.map((r) => r.id), ['run-3', 'run-2']);
      assert.ok((recent[0]?.ttl ?? 0) > 0);
    });
  });

  describe('ApprovalRepository', () => {
    const request = (overrides: Partial<ApprovalRequest> = {}): ApprovalRequest => ({
      id: randomUUID(),
      tenantId: TENANT,
      tokenId: 'tok-1',
      kind: 'assignment',
      assignmentId: assignmentId('1000', 'STDQ', 'group-1'),
      summary: { bookTitle: 'Swift Basics', groupName: 'Sales', installIntent: 'required', licensesNeeded: 12 },
      state: 'pending',
      requestedBy: ADMIN,
      requestedDateTime: clock.now().toISOString(),
      expiresAt: new Date(clock.now().getTime() + 3_600_000).toISOString(),
      ...overrides,
    });

    it('lets exactly one of two simultaneous deciders win', async () => {
      const r = await store.approvals.create(request());
      await store.approvals.setCard(TENANT, r.id, { activityId: 'act-1', conversationId: '19:abc@thread.tacv2' });
      const bob = { aadObjectId: 'bob' };
      const carol = { aadObjectId: 'carol' };
      const [x, y] = await Promise.all([
        store.approvals.decide(TENANT, r.id, { decision: 'approved', decider: bob }),
        store.approvals.decide(TENANT, r.id, { decision: 'rejected', decider: carol, comment: 'no budget' }),
      ]);
      const outcomes = [x.outcome, y.outcome].sort();
      assert.deepEqual(outcomes, ['alreadyDecided', 'decided']);
      const stored = await store.approvals.get(TENANT, r.id);
      const winner = x.outcome === 'decided' ? x : y;
      assert.ok(winner.outcome === 'decided');
      assert.equal(stored?.state, winner.request.state);
      assert.equal(stored?.card?.activityId, 'act-1');
      assert.deepEqual(await store.approvals.listPending(TENANT), []);
    });

    it('refuses a decision after expiry and expires overdue requests once', async () => {
      const r = await store.approvals.create(request());
      const other = await store.approvals.create(request());
      assert.equal((await store.approvals.listPending(TENANT)).length, 2);
      clock.advance(2 * 3_600_000);
      const late = await store.approvals.decide(TENANT, r.id, { decision: 'approved', decider: ADMIN });
      assert.equal(late.outcome, 'expired');
      assert.deepEqual((await store.approvals.expireOverdue(TENANT)).map((a) => a.id), [other.id]);
      assert.deepEqual(await store.approvals.expireOverdue(TENANT), []);
      assert.equal((await store.approvals.decide(TENANT, 'missing', { decision: 'approved', decider: ADMIN })).outcome, 'notFound');
    });
  });

  describe('ConversationReferenceRepository', () => {
    const reference = (conversationId: string) => ({
      bot: { id: '28:bot', name: 'VPP Books' },
      user: { id: '29:user', aadObjectId: ADMIN.aadObjectId, name: 'Ada' },
      conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
      channelId: 'msteams',
      serviceUrl: 'https://smba.trafficmanager.net/emea/',
      locale: 'en-US',
      extraFieldFromTheFuture: { kept: true },
    });

    it('saves per admin and per channel, writes only on change, and forgets on uninstall', async () => {
      const first = await store.conversations.save({ tenantId: TENANT, scope: 'personal', userAadObjectId: ADMIN.aadObjectId, conversationId: 'a:1xyz', reference: reference('a:1xyz') });
      assert.equal(first.written, true);
      clock.advance(1000);
      const again = await store.conversations.save({ tenantId: TENANT, scope: 'personal', userAadObjectId: ADMIN.aadObjectId, conversationId: 'a:1xyz', reference: reference('a:1xyz') });
      assert.equal(again.written, false, 'a message in the same chat costs no write');
      const got = await store.conversations.getForUser(TENANT, ADMIN.aadObjectId);
      assert.deepEqual(got?.reference, reference('a:1xyz'), 'the reference round-trips exactly, unknown fields included');
      await store.conversations.save({ tenantId: TENANT, scope: 'channel', conversationId: '19:chan/with?odd#chars@thread.tacv2', reference: reference('19:chan/with?odd#chars@thread.tacv2') });
      assert.equal((await store.conversations.getForConversation(TENANT, '19:chan/with?odd#chars@thread.tacv2'))?.scope, 'channel');
      assert.equal((await store.conversations.listByTenant(TENANT)).length, 2);
      assert.equal((await store.conversations.listByTenant(TENANT, 'channel')).length, 1);
      assert.equal(await store.conversations.deleteByConversationId(TENANT, '19:chan/with?odd#chars@thread.tacv2'), 1);
      assert.equal((await store.conversations.listByTenant(TENANT)).length, 1);
    });

    it('rejects a reference without a service URL', async () => {
      const { serviceUrl: _drop, ...broken } = reference('a:1');
      await assert.rejects(
        store.conversations.save({ tenantId: TENANT, scope: 'channel', conversationId: 'a:1', reference: broken as unknown as ReturnType<typeof reference> }),
        (err: unknown) => err instanceof StoreValidationError && /reference\.serviceUrl/.test(err.message),
      );
    });
  });

  describe('NotificationRepository', () => {
    const claim = { tokenId: 'tok-1', tenantId: TENANT, kind: 'tokenExpiring' as const, threshold: '30d', occurrenceKey: '2027-01-01', claimedBy: 'instance-a' };

    it('hands a notification to exactly one claimant and never again once sent', async () => {
      const claims = await Promise.all([claim, { ...claim, claimedBy: 'instance-b' }, { ...claim, claimedBy: 'instance-c' }].map((c) => store.notifications.claim(c)));
      const winners = claims.filter((c) => c !== undefined);
      assert.equal(winners.length, 1);
      const won = winners[0];
      assert.ok(won);
      await store.notifications.markSent('tok-1', won.id, 2);
      clock.advance(24 * 3_600_000);
      assert.equal(await store.notifications.claim(claim), undefined);
      assert.equal((await store.notifications.listByToken('tok-1')).find((n) => n.id === won.id)?.state, 'sent');
      // A renewed token (new expiry) is a new occurrence: warn again.
      assert.ok(await store.notifications.claim({ ...claim, occurrenceKey: '2028-01-01' }));
      assert.equal((await store.notifications.listByToken('tok-1')).length, 2);
    });

    it('lets a failed or abandoned claim be retried', async () => {
      const first = await store.notifications.claim(claim);
      assert.ok(first);
      assert.equal(await store.notifications.claim({ ...claim, claimedBy: 'b' }), undefined, 'still being sent');
      clock.advance(16 * 60_000);
      const retaken = await store.notifications.claim({ ...claim, claimedBy: 'b' });
      assert.equal(retaken?.claimedBy, 'b');
      await store.notifications.markFailed('tok-1', first.id, 'Teams said 502');
      assert.equal((await store.notifications.claim({ ...claim, claimedBy: 'c' }))?.claimedBy, 'c');
      assert.equal(await store.notifications.deleteAllForToken('tok-1'), 1);
    });
  });

  describe('AuditLog', () => {
    it('records events and lists them newest first, and by target', async () => {
      for (let i = 0; i < 3; i++) {
        clock.advance(1000);
        await store.audit.record({ tenantId: TENANT, actor: ADMIN, action: 'sync.manual', target: { type: 'token', id: 'tok-1' }, tokenId: 'tok-1', outcome: 'success', details: { run: i } });
      }
      clock.advance(1000);
      await store.audit.record({ tenantId: TENANT, actor: { system: 'scheduler' }, action: 'sync.scheduled', target: { type: 'token', id: 'tok-2' }, outcome: 'failure', details: { errorNumber: 9646, reason: 'rate limited' } });
      const page = await store.audit.list(TENANT, 2);
      assert.equal(page.items.length, 2);
      assert.equal(page.items[0]?.action, 'sync.scheduled');
      assert.ok(page.continuationToken);
      assert.equal((await store.audit.listForTarget(TENANT, 'token', 'tok-1')).length, 3);
    });

    const secretShapes: Array<[string, Record<string, unknown>]> = [
      ['a token-named detail', { details: { token: 'abc' } }],
      ['a password-ish detail', { details: { adminPassword: 'hunter2' } }],
      ['a long base64 value', { details: { note: 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg==' } }],
      ['a .vpptoken inside text', { details: { note: 'uploaded eyJ0b2tlbiI6ImFiY2RlZmdoaWprbG1ub3AifQ' } }],
      ['a bearer header', { details: { header: 'Bearer abc.def' } }],
      ['an unknown top-level field', { encryptedToken: { keyId: 'k1' } }],
      ['a secret in the target name', { target: { type: 'token', id: 'tok-1', name: 'eyJ0b2tlbiI6InNlY3JldHNlY3JldHNlY3JldCJ9' } }],
    ];
    for (const [name, extra] of secretShapes) {
      it(`refuses ${name} and writes nothing`, async () => {
        const entry = { tenantId: TENANT, actor: ADMIN, action: 'token.upload', target: { type: 'token' as const, id: 'tok-9' }, outcome: 'success' as const, ...extra };
        await assert.rejects(store.audit.record(entry as Parameters<AuditLogRecord>[0]), (err: unknown) => err instanceof StoreValidationError && /secret|Unrecognized key/i.test(err.message));
        assert.deepEqual((await store.audit.list(TENANT)).items, []);
      });
    }

    it('accepts ids and names that merely look technical, and stores them as given', async () => {
      const target = { type: 'assignment' as const, id: assignmentId('1000', 'STDQ', '6f1c2a4e-1111-2222-3333-444455556666'), name: 'Swift Basics → Sales' };
      const details = { groupId: '6f1c2a4e-1111-2222-3333-444455556666', licenses: 12, keyId: 'k2' };
      await store.audit.record({ tenantId: TENANT, actor: ADMIN, action: 'assignment.approve', target, outcome: 'success', details });
      const [stored, ...more] = (await store.audit.list(TENANT)).items;
      assert.deepEqual(more, []);
      assert.ok(stored);
      assert.equal(stored.action, 'assignment.approve');
      assert.deepEqual(stored.target, target);
      assert.deepEqual(stored.details, details);
    });
  });

  describe('LeaseRepository', () => {
    it('gives a free lease to exactly one of two racing owners', async () => {
      const [a, b] = await Promise.all([store.leases.acquire('sync|tok-1', 'owner-a', 60_000), store.leases.acquire('sync|tok-1', 'owner-b', 60_000)]);
      assert.equal([a, b].filter((h) => h !== undefined).length, 1);
      const holder = (a ?? b)?.value.owner;
      assert.equal((await store.leases.get('sync|tok-1'))?.owner, holder);
    });

    it('refuses a held lease, renews for its holder, and lets others take it once expired', async () => {
      const a = await store.leases.acquire('sync|tok-2', 'owner-a', 60_000);
      assert.ok(a);
      assert.equal(await store.leases.acquire('sync|tok-2', 'owner-b', 60_000), undefined);
      clock.advance(30_000);
      const renewed = await store.leases.renew(a, 60_000);
      assert.ok(renewed);
      clock.advance(45_000);
      assert.equal(await store.leases.acquire('sync|tok-2', 'owner-b', 60_000), undefined, 'renewal extended it');
      clock.advance(20_000);
      const b = await store.leases.acquire('sync|tok-2', 'owner-b', 60_000);
      assert.equal(b?.value.owner, 'owner-b', 'expired lease taken over');
      assert.equal(await store.leases.renew(renewed, 60_000), undefined, 'the old holder learns it lost the lease');
      assert.equal(await store.leases.release(renewed), false, 'and cannot release it');
      assert.ok(b);
      assert.equal(await store.leases.release(b), true);
      assert.ok(await store.leases.acquire('sync|tok-2', 'owner-c', 60_000), 'free again after release');
    });

    it('two owners racing for an expired lease: one wins', async () => {
      await store.leases.acquire('sync|tok-3', 'dead', 1_000);
      clock.advance(5_000);
      const results = await Promise.all([store.leases.acquire('sync|tok-3', 'x', 60_000), store.leases.acquire('sync|tok-3', 'y', 60_000)]);
      assert.equal(results.filter((h) => h !== undefined).length, 1);
    });
  });
});

type AuditLogRecord = Store['audit']['record'];

/** A token's partition (books, users): the filter is in the SQL because the emulator ignores the partitionKey option. */
async function etagsOf(database: Database, container: string, tokenId: string): Promise<string[]> {
  const { resources } = await database
    .container(container)
    .items.query<{ _etag: string }>({ query: 'SELECT c._etag FROM c WHERE c.tokenId = @tokenId', parameters: [{ name: '@tokenId', value: tokenId }] }, { partitionKey: tokenId })
    .fetchAll();
  return resources.map((r) => r._etag).sort();
}

describe('EmbeddedCosmos snapshot', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vpp-cosmos-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps the data across stop and start', async () => {
    const snapshotFile = path.join(dir, 'store.json');
    const token = sampleToken();
    const first = new EmbeddedCosmos({ snapshotFile });
    await first.start();
    try {
      const store = await createStore((await first.client().databases.createIfNotExists({ id: 'vppbooks' })).database);
      await store.tokens.create(token);
      await store.leases.acquire('sync|x', 'me', 60_000);
    } finally {
      await first.stop();
    }
    if (process.platform !== 'win32') assert.equal((await fs.stat(snapshotFile)).mode & 0o777, 0o600);

    const second = new EmbeddedCosmos({ snapshotFile });
    await second.start();
    try {
      const store = await createStore((await second.client().databases.createIfNotExists({ id: 'vppbooks' })).database);
      assert.deepEqual(await store.tokens.get(TENANT, token.id), token);
      assert.equal((await store.leases.get('sync|x'))?.owner, 'me');
      // Writes after a restore still get ETags and conditional updates.
      const updated = await store.tokens.update(TENANT, token.id, (t) => ({ ...t, state: 'expired' }));
      assert.equal(updated?.value.state, 'expired');
    } finally {
      await second.stop();
    }
  });
});
