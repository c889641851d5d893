import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { createStore, type Store } from '../../../services/store/Store';
import type { MemberNoticeDraft } from '../../../services/store/repositories/MemberNoticeRepository';
import { ADMIN, NOW, TENANT, useEmbeddedCosmos } from './fixtures';

function movableClock(start = NOW): { now: () => Date; advance: (ms: number) => void } {
  let t = Date.parse(start);
  return { now: () => new Date(t), advance: (ms) => (t += ms) };
}

function draft(tokenId: string, runId: string, n: number, overrides: Partial<MemberNoticeDraft> = {}): MemberNoticeDraft {
  return {
    tokenId,
    tenantId: TENANT,
    runId,
    kind: 'licensed',
    member: { clientUserId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, displayName: `Member ${n}`, mail: `member${n}@example.org` },
    book: { adamId: '1234', pricingParam: 'STDQ', title: 'Emma' },
    requestedBy: ADMIN,
    ...overrides,
  };
}

/** The told-once rules of member notices, against the Cosmos protocol (the local emulator). */
describe('MemberNoticeRepository: told once', () => {
  const env = useEmbeddedCosmos();
  const clock = movableClock();
  let store: Store;
  let tokenId: string;
  let runId: string;

  beforeEach(async () => {
    store = await createStore(await env.newDatabase(), { now: clock.now });
    tokenId = randomUUID();
    runId = randomUUID();
  });

  it('records each (run, member, kind) once: a second call, or the same member in another case, creates nothing', async () => {
    const drafts = [draft(tokenId, runId, 1), draft(tokenId, runId, 2)];
    assert.equal(await store.memberNotices.record(drafts), 2);
    assert.equal(await store.memberNotices.record(drafts), 0);
    const upper = draft(tokenId, runId, 1);
    upper.member = { ...upper.member, clientUserId: upper.member.clientUserId.toUpperCase() };
    assert.equal(await store.memberNotices.record([upper]), 0, 'an Entra id in upper case is the same member');
    // Another kind, or another run, is another notice.
    assert.equal(await store.memberNotices.record([draft(tokenId, runId, 1, { kind: 'invited', invitationUrl: 'https://vpp.example/invite/abc' })]), 1);
    assert.equal(await store.memberNotices.record([draft(tokenId, randomUUID(), 1)]), 1);
    assert.equal((await store.memberNotices.listForRun(tokenId, runId)).length, 3);
  });

  it('concurrent recordings of the same notices create each exactly once', async () => {
    const drafts = Array.from({ length: 20 }, (_, i) => draft(tokenId, runId, i));
    const created = await Promise.all([store.memberNotices.record(drafts), store.memberNotices.record(drafts), store.memberNotices.record(drafts)]);
    assert.equal(created.reduce((a, b) => a + b, 0), 20);
    assert.equal((await store.memberNotices.listForRun(tokenId, runId)).length, 20);
  });

  it('refuses a notice whose invitation link is not a web link', async () => {
    await assert.rejects(store.memberNotices.record([draft(tokenId, runId, 1, { kind: 'invited', invitationUrl: 'javascript:alert(1)' })]), /invitationUrl/);
  });

  it('of two senders claiming one notice, exactly one wins; a finished notice is never due again', async () => {
    await store.memberNotices.record([draft(tokenId, runId, 1)]);
    const [due] = await store.memberNotices.due();
    assert.ok(due);
    const claims = await Promise.all([store.memberNotices.claim(due, 'instance-a'), store.memberNotices.claim(due, 'instance-b')]);
    const won = claims.filter((c) => c !== undefined);
    assert.equal(won.length, 1);
    assert.equal((await store.memberNotices.due()).length, 0, 'a claimed notice is not due');
    const sent = await store.memberNotices.finish(won[0] as NonNullable<(typeof won)[0]>, { state: 'sent' });
    assert.equal(sent?.value.state, 'sent');
    // A stale copy (read before the claim) changes nothing.
    assert.equal(await store.memberNotices.finish(due, { state: 'unreachable', reason: 'late' }), undefined);
    assert.equal(await store.memberNotices.claim(due, 'instance-c'), undefined);
    assert.equal((await store.memberNotices.get(tokenId, runId, due.value.member.clientUserId, 'licensed'))?.state, 'sent');
  });

  it('finds notices left sending by this instance, or by anyone long ago; a retry waits until it is due', async () => {
    await store.memberNotices.record([draft(tokenId, runId, 1), draft(tokenId, runId, 2), draft(tokenId, runId, 3)]);
    const [a, b, c] = await store.memberNotices.due();
    assert.ok(a && b && c);
    await store.memberNotices.claim(a, 'me');
    await store.memberNotices.claim(b, 'someone-else');
    assert.deepEqual((await store.memberNotices.interrupted({ claimedBy: 'me' })).map((n) => n.value.id), [a.value.id]);
    clock.advance(60_000);
    assert.equal((await store.memberNotices.interrupted({ claimedBefore: new Date(clock.now().getTime() - 120_000) })).length, 0);
    assert.equal((await store.memberNotices.interrupted({ claimedBefore: clock.now() })).length, 2);

    const later = await store.memberNotices.retryLater(c, 30_000, 'Graph was busy');
    assert.equal(later?.value.attempts, 1);
    assert.equal((await store.memberNotices.due()).length, 0, 'not due before its time');
    clock.advance(30_000);
    assert.deepEqual((await store.memberNotices.due()).map((n) => n.value.id), [c.value.id]);
  });

  it('counts a run by state and lists every unreachable member by name', async () => {
    const drafts = Array.from({ length: 14 }, (_, i) => draft(tokenId, runId, i, { member: { clientUserId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, displayName: `Member ${String.fromCharCode(90 - i)}` } }));
    await store.memberNotices.record(drafts);
    const due = await store.memberNotices.due();
    for (const [i, notice] of due.entries()) {
      if (i < 12) await store.memberNotices.finish(notice, { state: 'unreachable', reason: 'blocked' });
      else if (i < 13) await store.memberNotices.finish(notice, { state: 'sent' });
    }
    assert.deepEqual(await store.memberNotices.counts(tokenId, runId), { open: 1, sent: 1, unreachable: 12 });
    const unreachable = await store.memberNotices.unreachable(tokenId, runId);
    assert.equal(unreachable.length, 12, 'all of them, not the first 10');
    assert.deepEqual(
      unreachable.map((n) => n.member.displayName),
      [...unreachable.map((n) => n.member.displayName)].sort(),
    );
  });

  it('a run summary is claimed once; recording more notices opens it again', async () => {
    await store.memberNotices.record([draft(tokenId, runId, 1)]);
    const [open] = await store.memberNotices.openRuns();
    assert.ok(open);
    const claims = await Promise.all([store.memberNotices.claimSummary(open), store.memberNotices.claimSummary(open)]);
    assert.equal(claims.filter(Boolean).length, 1);
    assert.equal((await store.memberNotices.openRuns()).length, 0);
    assert.equal(await store.memberNotices.record([draft(tokenId, runId, 1)]), 0);
    assert.equal((await store.memberNotices.openRuns()).length, 0, 'nothing new: still closed');
    await store.memberNotices.record([draft(tokenId, runId, 2)]);
    const [reopened] = await store.memberNotices.openRuns();
    assert.equal(reopened?.value.summaries, 1);
  });

  it('finds an export by its id until it expires, then forgets it; removing the token removes everything', async () => {
    await store.memberNotices.record([draft(tokenId, runId, 1)]);
    const id = 'a'.repeat(64);
    await store.memberNotices.createExport({ id, tokenId, tenantId: TENANT, runId, bookTitle: 'Emma', createdDateTime: clock.now().toISOString(), expiresDateTime: new Date(clock.now().getTime() + 1000).toISOString() });
    assert.equal((await store.memberNotices.findExport(id))?.runId, runId);
    assert.equal(await store.memberNotices.findExport('b'.repeat(64)), undefined);
    clock.advance(1000);
    assert.equal(await store.memberNotices.findExport(id), undefined);
    assert.equal(await store.memberNotices.exports.get(id, tokenId), undefined, 'deleted once found expired');
    assert.ok((await store.memberNotices.deleteAllForToken(tokenId)) >= 2);
    assert.equal((await store.memberNotices.listForRun(tokenId, runId)).length, 0);
  });
});
