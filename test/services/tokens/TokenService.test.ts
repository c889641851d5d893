import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UserFacingError } from '../../../services/errors';
import { VppError } from '../../../services/apple/VppError';
import { TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';
import type { AdminActor } from '../../../services/auth/AdminPolicy';
import { heldEncryptedToken } from '../../../services/store/entities/vppToken';

const TOKENS_DIR = path.resolve(__dirname, '../../../local/appleSandbox/tokens');
const demo = (name: string) => readFileSync(path.join(TOKENS_DIR, name), 'utf8');
const admin: AdminActor = { tenantId: TEST_TENANT, aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UserFacingError || err instanceof VppError, `unexpected ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('TokenService (sandbox + embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  afterEach(async () => {
    for (const token of await env.tokens.listTokens(TEST_TENANT)) await env.tokens.remove(admin, token.id);
  });

  it('previews a valid token with organisation, location, expiry and books, storing nothing', async () => {
    const pending = await env.tokens.inspectUpload(TEST_TENANT, demo('demo-valid.vpptoken'));
    assert.equal(pending.organizationName, 'Northwind Academy');
    assert.equal(pending.expirationDateTime, '2036-06-30T23:59:59.000Z');
    assert.equal(pending.bookCount, 39);
    assert.equal(pending.otherMdmName, undefined);
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
    assert.ok(!JSON.stringify(pending).includes(demo('demo-valid.vpptoken').trim()), 'the pending upload holds the token only encrypted');
  });

  it('saves a confirmed upload, encrypted, and claims it for this MDM at Apple', async () => {
    const pending = await env.tokens.inspectUpload(TEST_TENANT, demo('demo-valid.vpptoken'));
    const token = await env.tokens.saveUpload(admin, pending, { appleId: 'vpp@northwind.example', accountType: 'education', takeOver: false });
    assert.equal(token.state, 'valid');
    assert.equal(token.accountType, 'education');
    const listed = await env.tokens.listTokens(TEST_TENANT);
    assert.deepEqual(listed.map((t) => t.id), [token.id]);
    assert.equal((await env.apple.forToken(env.cipher.decrypt(heldEncryptedToken(token), `vppToken|${TEST_TENANT}|${token.id}`)).checkOwnership('vpp-books-bot:test')).state, 'ours');
    const audit = await env.store.audit.listForTarget(TEST_TENANT, 'token', token.id);
    assert.equal(audit[0]?.action, 'token.upload');
  });

  it('refuses the same Apple location twice and points to renew', async () => {
    const pending = await env.tokens.inspectUpload(TEST_TENANT, demo('demo-valid.vpptoken'));
    await env.tokens.saveUpload(admin, pending, { appleId: 'a@b.example', accountType: 'business', takeOver: false });
    await rejectsWith(env.tokens.inspectUpload(TEST_TENANT, demo('demo-valid.vpptoken')), 'duplicate_location', /renew Northwind Academy/);
  });

  it('refuses an expired and a malformed token file with specific messages', async () => {
    await rejectsWith(env.tokens.inspectUpload(TEST_TENANT, demo('demo-expired.vpptoken')), 'token_expired');
    await rejectsWith(env.tokens.inspectUpload(TEST_TENANT, demo('demo-malformed.vpptoken')), 'token_missing_fields');
    await rejectsWith(env.tokens.inspectUpload(TEST_TENANT, '%%% not base64 %%%'), 'token_not_base64');
  });

  it('refuses a token Apple reports revoked', async () => {
    const org = env.sandbox.state.addOrganisation({ orgName: 'Revoked School' });
    const file = env.sandbox.state.mintToken(org, { revoked: true });
    await assert.rejects(env.tokens.inspectUpload(TEST_TENANT, file), (err: unknown) => err instanceof VppError && err.errorNumber === 9625);
  });

  it('names the other MDM and takes the token over only with explicit consent', async () => {
    const pending = await env.tokens.inspectUpload(TEST_TENANT, demo('demo-other-mdm.vpptoken'));
    assert.equal(pending.otherMdmName, 'Contoso MDM');
    await rejectsWith(env.tokens.saveUpload(admin, pending, { appleId: 'x@y.example', accountType: 'business', takeOver: false }), 'takeover_declined', /stays with Contoso MDM/);
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
    const token = await env.tokens.saveUpload(admin, pending, { appleId: 'x@y.example', accountType: 'business', takeOver: true });
    assert.equal(token.organizationName, 'Fabrikam Public Library');
  });

  it('refuses a 257th token', async () => {
    const org = env.sandbox.state.addOrganisation({ orgName: 'Template' });
    const template = await env.tokens.saveUpload(admin, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org)), {
      appleId: 'a@b.example',
      accountType: 'business',
      takeOver: false,
    });
    // Fill the tenant up to the limit directly in the store: 255 more documents like the first.
    await Promise.all(
      Array.from({ length: 255 }, (_, i) =>
        env.store.tokens.create({ ...template, id: `filler-${i}`, locationId: `filler-${i}`, locationName: `Filler ${i}`, displayName: `Filler ${i}` }),
      ),
    );
    const another = env.sandbox.state.addOrganisation({ orgName: 'One Too Many' });
    await rejectsWith(env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(another)), 'token_limit_reached', /256/);
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 256);
  });

  it('renews with a newer file for the same location and refuses another location', async () => {
    const org = env.sandbox.state.addOrganisation({ orgName: 'Renew High' });
    const first = await env.tokens.saveUpload(admin, await env.tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(org, { expiresAt: new Date('2027-01-01T00:00:00Z') })), {
      appleId: 'a@b.example',
      accountType: 'education',
      takeOver: false,
    });
    const renewed = await env.tokens.renew(admin, first.id, env.sandbox.state.mintToken(org, { expiresAt: new Date('2028-01-01T00:00:00Z') }));
    assert.equal(renewed.expirationDateTime, '2028-01-01T00:00:00.000Z');
    const other = env.sandbox.state.addOrganisation({ orgName: 'Elsewhere' });
    await rejectsWith(env.tokens.renew(admin, first.id, env.sandbox.state.mintToken(other)), 'renew_different_location', /not "Renew High"/);
    assert.equal((await env.tokens.getToken(TEST_TENANT, first.id)).expirationDateTime, '2028-01-01T00:00:00.000Z', 'the refused renewal changed nothing');
  });

  it('removes a token and its books but keeps the audit trail', async () => {
    const token = await env.tokens.saveUpload(admin, await env.tokens.inspectUpload(TEST_TENANT, demo('demo-valid.vpptoken')), {
      appleId: 'a@b.example',
      accountType: 'business',
      takeOver: false,
    });
    await env.store.books.upsertIfChanged({
      id: '361309726|STDQ',
      tokenId: token.id,
      tenantId: TEST_TENANT,
      metadataResolved: true,
      createdDateTime: new Date().toISOString(),
      lastModifiedDateTime: new Date().toISOString(),
      adamId: '361309726',
      pricingParam: 'STDQ',
      title: 'Pride and Prejudice',
      totalLicenseCount: 5,
      usedLicenseCount: 1,
      availableLicenseCount: 4,
    });
    const { removedBooks } = await env.tokens.remove(admin, token.id);
    assert.equal(removedBooks, 1);
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
    const audit = await env.store.audit.listForTarget(TEST_TENANT, 'token', token.id);
    assert.deepEqual(audit.map((a) => a.action).sort(), ['token.remove', 'token.upload']);
  });
});
