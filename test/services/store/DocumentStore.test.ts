import { strict as assert } from 'node:assert';
import type { Container } from '@azure/cosmos';
import sinon from 'sinon';
import { z } from 'zod';
import { DocumentStore } from '../../../services/store/DocumentStore';
import { StoreConcurrencyError, StoreConflictError, StoreValidationError } from '../../../services/store/errors';
import { deterministicId } from '../../../services/store/ids';
import { useEmbeddedCosmos } from './fixtures';

const counterSchema = z.object({ id: z.string(), pk: z.string(), count: z.number().int(), seen: z.array(z.string()), updatedAt: z.string().optional() });
type Counter = z.infer<typeof counterSchema>;

describe('DocumentStore (optimistic concurrency, validation, idempotent writes)', () => {
  const env = useEmbeddedCosmos();
  let container: Container;
  let store: DocumentStore<Counter>;

  beforeEach(async () => {
    const database = await env.newDatabase();
    ({ container } = await database.containers.createIfNotExists({ id: 'counters', partitionKey: { paths: ['/pk'] } }));
    store = new DocumentStore({ container, schema: counterSchema, docType: 'counter', partitionKeyField: 'pk', volatileFields: ['updatedAt'] });
  });

  it('loses no increment when 20 writers update the same document at once', async () => {
    await store.create({ id: 'c1', pk: 'p', count: 0, seen: [] });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.update('c1', 'p', (c) => ({ ...c, count: c.count + 1, seen: [...c.seen, `w${i}`] }))),
    );
    assert.ok(results.every((r) => r?.written));
    const final = await store.get('c1', 'p');
    assert.equal(final?.count, 20);
    assert.equal(new Set(final?.seen).size, 20);
  });

  it('gives up with a clear error after its bounded retries', async () => {
    const impatient = new DocumentStore({ container, schema: counterSchema, docType: 'counter', partitionKeyField: 'pk', maxAttempts: 2 });
    await impatient.create({ id: 'c2', pk: 'p', count: 0, seen: [] });
    // A competing write lands between every read and replace.
    await assert.rejects(
      impatient.update('c2', 'p', async (c) => {
        await store.update('c2', 'p', (x) => ({ ...x, count: x.count + 100 }));
        return { ...c, count: c.count + 1 };
      }),
      (err: unknown) => err instanceof StoreConcurrencyError && /gave up after 2 attempts/.test(err.message),
    );
  });

  it('returns undefined when updating a missing document and writes nothing for a no-op mutation', async () => {
    assert.equal(await store.update('nope', 'p', (c) => c), undefined);
    await store.create({ id: 'c3', pk: 'p', count: 1, seen: [] });
    const before = await store.read('c3', 'p');
    const result = await store.update('c3', 'p', () => undefined);
    assert.equal(result?.written, false);
    assert.equal((await store.read('c3', 'p'))?.etag, before?.etag);
  });

  it('refuses to change the id or partition key in an update', async () => {
    await store.create({ id: 'c4', pk: 'p', count: 1, seen: [] });
    await assert.rejects(store.update('c4', 'p', (c) => ({ ...c, pk: 'other' })), /change its id or partition key/);
  });

  it('upsertIfChanged writes once, then not again for the same content (volatile fields ignored)', async () => {
    const first = await store.upsertIfChanged({ id: 'u1', pk: 'p', count: 1, seen: ['a'], updatedAt: 't1' });
    assert.equal(first.written, true);
    const etag = first.etag;
    const again = await store.upsertIfChanged({ seen: ['a'], count: 1, pk: 'p', id: 'u1', updatedAt: 't2' });
    assert.equal(again.written, false);
    assert.equal((await store.read('u1', 'p'))?.etag, etag, 'no write happened');
    const changed = await store.upsertIfChanged({ id: 'u1', pk: 'p', count: 2, seen: ['a'] });
    assert.equal(changed.written, true);
    assert.equal((await store.get('u1', 'p'))?.count, 2);
  });

  it('concurrent upsertIfChanged of the same new document creates it once', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => store.upsertIfChanged({ id: 'u2', pk: 'p', count: 7, seen: [] })));
    assert.equal(results.filter((r) => r.written).length, 1);
  });

  it('create refuses a taken id; tryCreate says so without throwing', async () => {
    await store.create({ id: 'd1', pk: 'p', count: 0, seen: [] });
    await assert.rejects(store.create({ id: 'd1', pk: 'p', count: 0, seen: [] }), StoreConflictError);
    assert.equal(await store.tryCreate({ id: 'd1', pk: 'p', count: 0, seen: [] }), undefined);
  });

  it('validates on write: a bad entity is refused and nothing is stored', async () => {
    const bad = { id: 'v1', pk: 'p', count: 1.5, seen: [] } as Counter;
    await assert.rejects(store.create(bad), (err: unknown) => err instanceof StoreValidationError && err.direction === 'write' && /Refusing to store counter "v1": count/.test(err.message));
    assert.equal(await store.get('v1', 'p'), undefined);
  });

  it('validates on read: a malformed stored document is rejected with a clear error', async () => {
    await container.items.create({ id: 'm1', pk: 'p', type: 'counter', count: 'three', seen: [] });
    await assert.rejects(store.get('m1', 'p'), (err: unknown) => {
      assert.ok(err instanceof StoreValidationError);
      assert.equal(err.direction, 'read');
      assert.match(err.message, /^Stored counter "m1" is invalid: count: /);
      return true;
    });
    await container.items.create({ id: 'm2', pk: 'p', type: 'somethingElse', count: 1, seen: [] });
    await assert.rejects(store.get('m2', 'p'), /Stored counter "m2" is invalid: type: expected "counter"/);
  });

  it('deletes conditionally on the ETag', async () => {
    const created = await store.create({ id: 'x1', pk: 'p', count: 0, seen: [] });
    await store.update('x1', 'p', (c) => ({ ...c, count: 1 }));
    assert.equal(await store.delete('x1', 'p', created.etag), false, 'changed since read');
    assert.equal(await store.delete('x1', 'p'), true);
    assert.equal(await store.delete('x1', 'p'), false);
  });

  it('upsertManyIfChanged writes only new and changed documents, in batches of at most 100', async () => {
    for (let i = 0; i < 150; i++) await store.create({ id: `m${i}`, pk: 'many', count: i, seen: [] });
    const current = new Map((await store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: 'many' })).map((v) => [v.value.id, v]));
    const writes = Array.from({ length: 260 }, (_, i) => ({
      // 0–149 exist: every third changes; 150–259 are new.
      entity: { id: `m${i}`, pk: 'many', count: i < 150 && i % 3 !== 0 ? i : i + 1000, seen: [], updatedAt: 'now' },
      current: current.get(`m${i}`) ?? null,
    }));
    const batch = sinon.spy(container.items, 'batch');
    try {
      const results = await store.upsertManyIfChanged('many', writes, { concurrency: 2 });
      assert.deepEqual(results.map((r) => r.value.id), writes.map((w) => w.entity.id), 'results in input order');
      assert.equal(results.filter((r) => r.written).length, 50 + 110);
      const unchangedEtag = results[1]?.etag;
      assert.equal(unchangedEtag, current.get('m1')?.etag, 'an unchanged document is not rewritten');
      assert.ok(batch.getCalls().every((call) => call.args[0].length <= 100));
      assert.equal(batch.callCount, 2, '160 writes → 2 round trips');
    } finally {
      batch.restore();
    }
    const stored = await store.queryValues('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: 'many' });
    assert.equal(stored.length, 260);
    assert.equal(stored.find((c) => c.id === 'm3')?.count, 1003);
    assert.equal(stored.find((c) => c.id === 'm200')?.count, 1200);
  });

  it('upsertManyIfChanged re-reads what changed since the caller read it (412, 409) and still writes everything once', async () => {
    for (let i = 0; i < 5; i++) await store.create({ id: `r${i}`, pk: 'race', count: 0, seen: [] });
    const current = new Map((await store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: 'race' })).map((v) => [v.value.id, v]));
    // After our read: someone updates r2 (our If-Match fails) and creates r5 (our create conflicts).
    await store.update('r2', 'race', (c) => ({ ...c, seen: ['other'] }));
    await store.create({ id: 'r5', pk: 'race', count: 9, seen: ['other'] });
    const ids = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
    const writes = ids.map((id) => ({ entity: { id, pk: 'race', count: 1, seen: ['mine'] }, current: current.get(id) ?? null }));
    const results = await store.upsertManyIfChanged('race', writes);
    assert.ok(results.every((r) => r.written));
    const stored = await store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: 'race' });
    assert.deepEqual(stored.map((v) => [v.value.id, v.value.count, v.value.seen[0]]).sort(), ids.map((id) => [id, 1, 'mine']));
    assert.deepEqual(results.map((r) => r.etag), ids.map((id) => stored.find((v) => v.value.id === id)?.etag), 'each result carries the stored ETag');
    await assert.rejects(store.upsertManyIfChanged('other', [{ entity: { id: 'x', pk: 'race', count: 1, seen: [] }, current: null }]), /not in partition "other"/);
  });

  it('pages through a partition with continuation tokens', async () => {
    for (let i = 0; i < 7; i++) await store.create({ id: `pg${i}`, pk: 'pages', count: i, seen: [] });
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.queryPage('SELECT * FROM c WHERE c.type = @type ORDER BY c.count', [], 'pages', 3, token);
      ids.push(...page.items.map((c) => c.id));
      token = page.continuationToken;
      pages++;
    } while (token);
    assert.deepEqual(ids, ['pg0', 'pg1', 'pg2', 'pg3', 'pg4', 'pg5', 'pg6']);
    assert.equal(pages, 3);
  });
});

describe('DocumentStore partition scoping (the emulator ignores the partition key option on queries)', () => {
  const env = useEmbeddedCosmos();
  let store: DocumentStore<Counter>;

  beforeEach(async () => {
    const database = await env.newDatabase();
    const { container } = await database.containers.createIfNotExists({ id: 'counters', partitionKey: { paths: ['/pk'] } });
    store = new DocumentStore({ container, schema: counterSchema, docType: 'counter', partitionKeyField: 'pk' });
    // The same ids in two partitions, as two tokens' users share clientUserIds in the sync bench.
    for (const pk of ['a', 'b']) {
      for (let i = 0; i < 5; i++) await store.create({ id: `same-${i}`, pk, count: pk === 'a' ? i : 100 + i, seen: [pk] });
    }
  });

  it('query and queryValues return only the asked partition; without one they span both', async () => {
    const a = await store.query('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: 'a' });
    assert.deepEqual(a.map((v) => v.value.pk), ['a', 'a', 'a', 'a', 'a']);
    const b = await store.queryValues('SELECT * FROM c WHERE c.type = @type AND c.count >= @min ORDER BY c.count', [{ name: '@min', value: 102 }], { partitionKey: 'b' });
    assert.deepEqual(b.map((c) => c.count), [102, 103, 104]);
    assert.equal((await store.queryValues('SELECT * FROM c WHERE c.type = @type')).length, 10, 'cross-partition');
  });

  it('queryPage pages through one partition only', async () => {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await store.queryPage('SELECT * FROM c WHERE c.type = @type ORDER BY c.count', [], 'b', 2, token);
      ids.push(...page.items.map((c) => `${c.pk}:${c.id}`));
      token = page.continuationToken;
    } while (token);
    assert.deepEqual(ids, ['b:same-0', 'b:same-1', 'b:same-2', 'b:same-3', 'b:same-4']);
  });

  it('scalar counts one partition', async () => {
    assert.deepEqual(await store.scalar('SELECT VALUE COUNT(1) FROM c WHERE c.type = @type', [], z.number(), { partitionKey: 'a' }), [5]);
    assert.deepEqual(await store.scalar('SELECT VALUE COUNT(1) FROM c WHERE c.type = @type', [], z.number()), [10]);
  });

  it('deletePartition removes one partition and leaves the same ids in the other', async () => {
    assert.equal(await store.deletePartition('a'), 5);
    assert.deepEqual(await store.queryValues('SELECT * FROM c WHERE c.type = @type', [], { partitionKey: 'a' }), []);
    const b = await store.queryValues('SELECT * FROM c WHERE c.type = @type ORDER BY c.count', [], { partitionKey: 'b' });
    assert.deepEqual(b.map((c) => c.count), [100, 101, 102, 103, 104]);
  });

  it('refuses a query without the type filter, and a caller parameter named @partitionKey', async () => {
    await assert.rejects(store.query('SELECT * FROM c', [], { partitionKey: 'a' }), /counter query must filter on "c.type = @type"/);
    await assert.rejects(store.queryValues('SELECT * FROM c WHERE c.pk = @pk', [{ name: '@pk', value: 'a' }]), /must filter on "c.type = @type"/);
    await assert.rejects(store.query('SELECT * FROM c WHERE c.type = @type AND c.pk = @partitionKey', [{ name: '@partitionKey', value: 'b' }], { partitionKey: 'a' }), /@partitionKey is reserved/);
  });

  it('refuses a partition key field that is not a plain property name', () => {
    assert.throws(
      () => new DocumentStore({ container: store.container, schema: z.object({ id: z.string(), 'a-b': z.string() }), docType: 'odd', partitionKeyField: 'a-b' }),
      /partition key field "a-b" is not a plain property name/,
    );
  });
});

describe('deterministicId', () => {
  it('is stable, escapes separators and forbidden characters, and hashes very long keys', () => {
    assert.equal(deterministicId('123', 'STDQ'), '123|STDQ');
    assert.notEqual(deterministicId('a|b', 'c'), deterministicId('a', 'b|c'));
    assert.doesNotMatch(deterministicId('19:x/y?z#w\\v', 'k'), /[/\\?#]/);
    const long = deterministicId('x'.repeat(300));
    assert.match(long, /^h\|[0-9a-f]{64}$/);
    assert.equal(long, deterministicId('x'.repeat(300)));
  });
});
