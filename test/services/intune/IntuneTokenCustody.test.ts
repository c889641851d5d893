import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import type { SandboxOrganisation } from '../../../local/appleSandbox/SandboxState';
import { parseVppTokenFile, tokenFingerprint } from '../../../services/apple/VppTokenFile';
import { appleClientProvider } from '../../../services/assignments/ports';
import type { AdminActor } from '../../../services/auth/AdminPolicy';
import { UserFacing } from '../../../services/errors';
import { IntuneNotFoundError, IntuneUnavailableError, namingTheBook, namingTheToken } from '../../../services/intune/IntuneError';
import type { IntuneApi, IntuneEBook, IntuneVppToken, VppTokenWrite, IntuneAccountType } from '../../../services/intune/IntuneApi';
import { IntuneTokenCustody } from '../../../services/intune/IntuneTokenCustody';
import { IntuneTokenMirror } from '../../../services/intune/IntuneTokenMirror';
import { silentLogger } from '../../../services/logging/logger';
import type { Secret } from '../../../services/secrets/Secret';
import { SyncEngine } from '../../../services/sync/SyncEngine';
import type { AppleClientFactory } from '../../../services/tokens/AppleClientFactory';
import { TokenReencryptionSweep } from '../../../services/tokens/TokenReencryptionSweep';
import { TokenService } from '../../../services/tokens/TokenService';
import { TEST_MDM, TEST_TENANT, TestEnvironment } from '../../support/TestEnvironment';

/** Who Apple says manages the organisation's tokens now (a call, so assertions before do not narrow it). */
const holderOf = (org: SandboxOrganisation): string | undefined => org.mdmInfo?.name;
const admin: AdminActor = { tenantId: TEST_TENANT, aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };
const INTUNE_MDM = { id: 'intune-test-tenant', name: 'Microsoft Intune', metadata: TEST_TENANT };

type HeldByIntune = IntuneVppToken & { file: string };

/**
 * Intune's vppTokens as Graph behaves for them: create and update check the file with Apple (the sandbox)
 * and take the location as Intune's MDM, unless another MDM holds it and the admin did not agree to claim it
 * (then the token is `assignedToExternalMDM`); a missing token is a 404.
 */
class TokenHoldingIntune implements IntuneApi {
  readonly tokens = new Map<string, HeldByIntune>();
  readonly writes: Array<{ op: 'create' | 'update'; id: string; token?: string | undefined; appleId?: string | undefined; accountType?: IntuneAccountType | undefined; displayName?: string | undefined; claim?: boolean | undefined }> = [];
  readonly deleted: string[] = [];
  /** Runs after Intune has the token and before the create answers (a mirror pass racing the upload). */
  beforeCreateAnswers: (() => Promise<void>) | undefined;
  /** Graph's v1.0 and older beta answers carry no locationName: only the organisation says where a token is. */
  withoutLocationNames = false;

  constructor(private readonly apple: AppleClientFactory) {}

  listVppTokens(): Promise<IntuneVppToken[]> {
    return Promise.resolve([...this.tokens.values()].map(({ file: _file, ...t }) => (this.withoutLocationNames ? { ...t, locationName: undefined } : t)));
  }

  getVppToken(id: string): Promise<IntuneVppToken | undefined> {
    const held = this.tokens.get(id);
    if (!held) return Promise.resolve(undefined);
    const { file: _file, ...token } = held;
    return Promise.resolve(token);
  }

  async createVppToken(input: VppTokenWrite & { token: Secret; appleId: string; accountType: IntuneAccountType }): Promise<IntuneVppToken> {
    const id = randomUUID();
    this.writes.push({ op: 'create', id, token: input.token.reveal(), appleId: input.appleId, accountType: input.accountType, displayName: input.displayName, claim: input.claimFromExternalMdm });
    const token: HeldByIntune = { id, accountType: input.accountType, appleId: input.appleId, displayName: input.displayName, lastSyncStatus: 'none', ...(await this.checkWithApple(input.token, input.claimFromExternalMdm)) };
    this.tokens.set(id, token);
    await this.beforeCreateAnswers?.();
    return (await this.getVppToken(id)) as IntuneVppToken;
  }

  async updateVppToken(id: string, input: VppTokenWrite): Promise<IntuneVppToken> {
    this.writes.push({ op: 'update', id, token: input.token?.reveal(), claim: input.claimFromExternalMdm });
    const held = this.tokens.get(id);
    if (!held) throw new IntuneNotFoundError('The VPP token');
    if (input.token) Object.assign(held, await this.checkWithApple(input.token, input.claimFromExternalMdm));
    return (await this.getVppToken(id)) as IntuneVppToken;
  }

  deleteVppToken(id: string): Promise<void> {
    if (!this.tokens.delete(id)) return Promise.reject(new IntuneNotFoundError('The VPP token'));
    this.deleted.push(id);
    return Promise.resolve();
  }

  private async checkWithApple(secret: Secret, claim: boolean | undefined): Promise<Omit<HeldByIntune, 'id' | 'accountType' | 'lastSyncStatus'>> {
    const file = parseVppTokenFile(secret.reveal());
    const client = this.apple.forToken(secret);
    const config = await client.getClientConfig();
    const holder = config.mdmInfo?.id;
    const external = Boolean(holder && holder !== INTUNE_MDM.id && !claim);
    if (!external) await client.claimToken(INTUNE_MDM);
    return {
      file: secret.reveal(),
      organizationName: file.orgName,
      expirationDateTime: file.expiresAt.toISOString(),
      locationName: config.locationName,
      countryOrRegion: config.countryISO2ACode,
      state: external ? 'assignedToExternalMDM' : 'valid',
    };
  }

  syncLicenses(): Promise<IntuneVppToken> {
    return Promise.reject(new Error('not used here'));
  }
  // eslint-disable-next-line require-yield
  async *eBookPages(): AsyncGenerator<IntuneEBook[], void, undefined> {
    throw new Error('not used here');
  }
  getEBook(): Promise<IntuneEBook | undefined> {
    return Promise.reject(new Error('not used here'));
  }
  listAssignments(): Promise<never[]> {
    return Promise.reject(new Error('not used here'));
  }
  assign(): Promise<void> {
    return Promise.reject(new Error('not used here'));
  }
  installSummary(): Promise<never> {
    return Promise.reject(new Error('not used here'));
  }
  // eslint-disable-next-line require-yield
  async *deviceStatePages(): AsyncGenerator<never[], void, undefined> {
    throw new Error('not used here');
  }
  userStateSummaries(): Promise<never[]> {
    return Promise.reject(new Error('not used here'));
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UserFacing, `unexpected ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.userMessage, message);
    return true;
  });
}

describe('IntuneTokenCustody (Intune mode token lifecycle: sandbox + embedded Cosmos)', function () {
  this.timeout(30_000);
  const env = new TestEnvironment();
  before(() => env.start());
  after(() => env.stop());

  let intune: TokenHoldingIntune;
  let tokens: TokenService;
  beforeEach(() => {
    intune = new TokenHoldingIntune(env.apple);
    tokens = new TokenService({ store: env.store, cipher: env.cipher, apple: env.apple, mdm: TEST_MDM, custody: new IntuneTokenCustody({ intune }) });
  });
  afterEach(async () => {
    for (const token of await env.store.tokens.listByTenant(TEST_TENANT)) await env.store.tokens.delete(TEST_TENANT, token.id);
  });

  /** A fresh sandbox organisation (Apple state is shared by the whole file) and its token file. */
  function organisation(name: string, mdmInfo?: { id: string; name: string }) {
    const org = env.sandbox.state.addOrganisation({ orgName: name, locationName: `${name} – Main Campus`, mdmInfo });
    return { org, file: env.sandbox.state.mintToken(org, { expiresAt: new Date('2031-01-31T00:00:00Z') }) };
  }

  it('inspects as in Apple mode, reading Apple only; on save Intune gets the file and the bot keeps no copy', async () => {
    const { org, file } = organisation('Adatum School');
    const pending = await tokens.inspectUpload(TEST_TENANT, file);
    assert.equal(pending.organizationName, 'Adatum School');
    assert.equal(pending.otherMdmName, undefined);
    assert.equal(holderOf(org), undefined, 'inspecting took the token from nobody');
    assert.equal(intune.writes.length, 0);
    assert.equal(tokens.holder.name, 'Intune');

    const token = await tokens.saveUpload(admin, pending, { appleId: 'vpp@adatum.example', accountType: 'education', takeOver: false });

    assert.deepEqual(intune.writes.map((w) => [w.op, w.token, w.appleId, w.accountType, w.claim]), [['create', file, 'vpp@adatum.example', 'education', false]]);
    assert.equal(intune.writes[0]?.displayName, 'Adatum School – Main Campus');
    const [inIntune] = [...intune.tokens.values()];
    assert.ok(inIntune);
    assert.equal(token.id, inIntune.id, "the record is named after Intune's token");
    assert.equal(token.intuneTokenId, inIntune.id);
    assert.equal(token.fingerprint, tokenFingerprint(file));
    assert.equal(token.encryptedToken, undefined);
    assert.equal(token.state, 'valid');
    assert.equal(token.expirationDateTime, '2031-01-31T00:00:00.000Z');
    assert.equal(holderOf(org), 'Microsoft Intune', 'Intune, not the bot, is the MDM at Apple');
    const raw = JSON.stringify(await env.store.tokens.read(TEST_TENANT, token.id));
    const inner = JSON.parse(Buffer.from(file, 'base64').toString('utf8')) as { token: string };
    assert.ok(!raw.includes(file) && !raw.includes(inner.token), 'the stored record holds no form of the token');
    const audit = await env.store.audit.listForTarget(TEST_TENANT, 'token', token.id);
    assert.equal(audit[0]?.action, 'token.upload');
  });

  it('refuses a token Intune already has for that location (uploaded in Intune directly), on inspection and again on save', async () => {
    const { file } = organisation('Fabrikam College');
    const pending = await tokens.inspectUpload(TEST_TENANT, file);
    // Meanwhile someone adds it in Intune itself.
    await intune.createVppToken({ token: parseVppTokenFile(file).secret, appleId: 'x@fabrikam.example', accountType: 'business', displayName: 'Fabrikam (Intune)' });
    await rejectsWith(tokens.saveUpload(admin, pending, { appleId: 'a@b.example', accountType: 'business', takeOver: false }), 'duplicate_in_intune', /Intune already has a token for the Apple location "Fabrikam College – Main Campus" \("Fabrikam \(Intune\)"\).+\*\*sync all\*\*/);
    await rejectsWith(tokens.inspectUpload(TEST_TENANT, file), 'duplicate_in_intune');
    assert.equal(await env.store.tokens.countInTenant(TEST_TENANT), 0);
    assert.equal(intune.writes.filter((w) => w.op === 'create').length, 1, 'no second create');
  });

  it("refuses a token Apple says Intune manages even when this tenant's Intune does not list it", async () => {
    const { file } = organisation('Tailspin Toys', { id: 'intune-another-tenant', name: 'Microsoft Intune' });
    await rejectsWith(tokens.inspectUpload(TEST_TENANT, file), 'duplicate_in_intune', /Apple says Microsoft Intune already manages this token.+another organisation's Intune/);
  });

  it('names another MDM; Intune claims the token from it only with the explicit Take control', async () => {
    const { org, file } = organisation('Litware Library', { id: 'contoso-mdm', name: 'Contoso MDM' });
    const pending = await tokens.inspectUpload(TEST_TENANT, file);
    assert.equal(pending.otherMdmName, 'Contoso MDM');
    await rejectsWith(tokens.saveUpload(admin, pending, { appleId: 'a@litware.example', accountType: 'business', takeOver: false }), 'takeover_declined');
    assert.equal(intune.writes.length, 0, 'declined: Intune was not asked');
    const token = await tokens.saveUpload(admin, pending, { appleId: 'a@litware.example', accountType: 'business', takeOver: true });
    assert.equal(intune.writes[0]?.claim, true);
    assert.equal(token.state, 'valid');
    assert.equal(holderOf(org), 'Microsoft Intune');
  });

  it("renews through Intune with the new file; another location is refused before Intune is asked", async () => {
    const { org, file } = organisation('Woodgrove Academy');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@woodgrove.example', accountType: 'education', takeOver: false });
    const newer = env.sandbox.state.mintToken(org, { expiresAt: new Date('2032-02-29T00:00:00Z') });

    const renewed = await tokens.renew(admin, token.id, newer);

    assert.deepEqual(intune.writes.slice(1).map((w) => [w.op, w.id, w.token]), [['update', token.intuneTokenId, newer]]);
    assert.equal(renewed.expirationDateTime, '2032-02-29T00:00:00.000Z');
    assert.equal(renewed.fingerprint, tokenFingerprint(newer));
    assert.equal(renewed.encryptedToken, undefined);
    assert.equal(renewed.intuneTokenId, token.intuneTokenId);

    const { file: elsewhere } = organisation('Elsewhere');
    await rejectsWith(tokens.renew(admin, token.id, elsewhere), 'renew_different_location');
    assert.equal(intune.writes.length, 2, 'the refused renewal did not reach Intune');
  });

  it('refuses a renewal that would take a token back from another MDM without consent, pointing to renew, not remove', async () => {
    const { org, file } = organisation('Proseware High');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@proseware.example', accountType: 'education', takeOver: false });
    org.mdmInfo = { id: 'contoso-mdm', name: 'Contoso MDM' };
    await rejectsWith(tokens.renew(admin, token.id, env.sandbox.state.mintToken(org)), 'renew_other_mdm', /^Apple says Contoso MDM now manages "Proseware High – Main Campus", not Intune\. Nothing was renewed\. Type \*\*renew Proseware High – Main Campus\*\*/);
    await assert.rejects(tokens.renew(admin, token.id, env.sandbox.state.mintToken(org)), (err: unknown) => err instanceof UserFacing && !/\*\*remove/.test(err.userMessage));
    assert.equal(intune.writes.filter((w) => w.op === 'update').length, 0);
  });

  it('takes a token back from another MDM on renewal only with the explicit Take control (PATCH with the claim)', async () => {
    const { org, file } = organisation('Lamna Academy');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@lamna.example', accountType: 'education', takeOver: false });
    org.mdmInfo = { id: 'contoso-mdm', name: 'Contoso MDM' };
    const newer = env.sandbox.state.mintToken(org, { expiresAt: new Date('2032-03-31T00:00:00Z') });

    const pending = await tokens.inspectRenewal(admin, token.id, newer);
    assert.equal(pending.otherMdmName, 'Contoso MDM');
    assert.equal(pending.otherMdmIsThisBot, undefined);
    assert.equal(pending.expirationDateTime, '2032-03-31T00:00:00.000Z');
    assert.ok(!JSON.stringify(pending).includes(newer), 'the file waits encrypted');
    assert.equal(holderOf(org), 'Contoso MDM', 'inspecting took the token from nobody');
    await rejectsWith(tokens.saveRenewal(admin, pending, { takeOver: false }), 'takeover_declined', /stays with Contoso MDM/);
    assert.equal(intune.writes.filter((w) => w.op === 'update').length, 0, 'declined: Intune was not asked');

    const renewed = await tokens.saveRenewal(admin, pending, { takeOver: true });
    assert.deepEqual(intune.writes.filter((w) => w.op === 'update').map((w) => [w.id, w.token, w.claim]), [[token.intuneTokenId, newer, true]]);
    assert.equal(renewed.state, 'valid');
    assert.equal(renewed.expirationDateTime, '2032-03-31T00:00:00.000Z');
    assert.equal(renewed.fingerprint, tokenFingerprint(newer));
    assert.equal(holderOf(org), 'Microsoft Intune');
    const audit = await env.store.audit.listForTarget(TEST_TENANT, 'token', token.id);
    assert.ok(audit.some((a) => a.action === 'token.renew' && a.details?.tookOver === true));
  });

  it('renews without asking when Intune still manages the token, and refuses an MDM that took it after the admin agreed to another', async () => {
    const { org, file } = organisation('Trey Research');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@trey.example', accountType: 'business', takeOver: false });
    const plain = await tokens.inspectRenewal(admin, token.id, env.sandbox.state.mintToken(org));
    assert.equal(plain.otherMdmName, undefined);
    await tokens.saveRenewal(admin, plain, { takeOver: false });
    assert.deepEqual(intune.writes.filter((w) => w.op === 'update').map((w) => w.claim), [undefined], 'no claim when nobody else holds it');

    org.mdmInfo = { id: 'contoso-mdm', name: 'Contoso MDM' };
    const pending = await tokens.inspectRenewal(admin, token.id, env.sandbox.state.mintToken(org));
    org.mdmInfo = { id: 'fabrikam-mdm', name: 'Fabrikam MDM' };
    await rejectsWith(tokens.saveRenewal(admin, pending, { takeOver: true }), 'renew_other_mdm', /Apple now says Fabrikam MDM manages "Trey Research – Main Campus", which you did not agree to take it from\. Nothing was renewed/);
    assert.equal(intune.writes.filter((w) => w.op === 'update').length, 1);
  });

  it('hands a token this bot held in Apple mode to Intune on renewal, keeping its record, with no second record from a mirror pass', async () => {
    const { org, file } = organisation('Alpine Ski House');
    const apple = new TokenService({ store: env.store, cipher: env.cipher, apple: env.apple, mdm: TEST_MDM });
    const held = await apple.saveUpload(admin, await apple.inspectUpload(TEST_TENANT, file), { appleId: 'a@alpine.example', accountType: 'business', takeOver: false });
    assert.equal(holderOf(org), TEST_MDM.name);
    assert.equal(tokens.removalDeletesInIntune(held), false, 'Intune does not have it: removing it deletes nothing there');

    const pending = await tokens.inspectRenewal(admin, held.id, env.sandbox.state.mintToken(org));
    assert.equal(pending.otherMdmName, TEST_MDM.name);
    assert.equal(pending.otherMdmIsThisBot, true);
    await rejectsWith(tokens.saveRenewal(admin, pending, { takeOver: false }), 'takeover_declined', /stays with me\.$/);
    const mirror = new IntuneTokenMirror({ store: env.store, intune, tenantId: TEST_TENANT });
    intune.beforeCreateAnswers = async () => {
      assert.equal((await mirror.run()).added.length, 1);
    };
    const renewed = await tokens.saveRenewal(admin, pending, { takeOver: true });

    const [inIntune] = [...intune.tokens.values()];
    assert.ok(inIntune);
    assert.deepEqual(intune.writes.map((w) => [w.op, w.appleId, w.accountType, w.displayName, w.claim]), [['create', 'a@alpine.example', 'business', 'Alpine Ski House – Main Campus', true]]);
    assert.equal(renewed.id, held.id, 'the record keeps its id (its books and history are under it)');
    assert.equal(renewed.intuneTokenId, inIntune.id);
    assert.equal(renewed.encryptedToken, undefined, 'the bot keeps no copy once Intune holds it');
    assert.equal(holderOf(org), 'Microsoft Intune');
    assert.deepEqual((await env.store.tokens.listByTenant(TEST_TENANT)).map((t) => t.id), [held.id], "the mirror's record for the same token is gone");
    assert.equal(tokens.removalDeletesInIntune(renewed), true);
  });

  it('names the token, not Intune\'s id, when Intune no longer has it on renewal', async () => {
    const { org, file } = organisation('Wingtip Toys');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@wingtip.example', accountType: 'business', takeOver: false });
    intune.tokens.delete(token.intuneTokenId ?? '');
    await rejectsWith(tokens.renew(admin, token.id, env.sandbox.state.mintToken(org)), 'intune_not_found', /^The VPP token "Wingtip Toys – Main Campus" was not found in Intune\./);
  });

  it('does not take a second location of the same organisation for a duplicate when Intune gives no location names', async () => {
    intune.withoutLocationNames = true;
    const first = env.sandbox.state.addOrganisation({ orgName: 'Coho Vineyard', locationName: 'Coho Vineyard – North' });
    const second = env.sandbox.state.addOrganisation({ orgName: 'Coho Vineyard', locationName: 'Coho Vineyard – South' });
    await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(first)), { appleId: 'a@coho.example', accountType: 'business', takeOver: false });
    const pending = await tokens.inspectUpload(TEST_TENANT, env.sandbox.state.mintToken(second));
    assert.equal(pending.locationName, 'Coho Vineyard – South');
    await tokens.saveUpload(admin, pending, { appleId: 'a@coho.example', accountType: 'business', takeOver: false });
    assert.equal(intune.tokens.size, 2);
  });

  it('still refuses the same location by the name Intune gives, even for another organisation name', async () => {
    const { file } = organisation('Relecloud');
    await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@relecloud.example', accountType: 'business', takeOver: false });
    // Intune renamed the organisation; the location is the same.
    for (const held of intune.tokens.values()) held.organizationName = 'Relecloud Ltd';
    await env.store.tokens.delete(TEST_TENANT, [...intune.tokens.keys()][0] ?? '');
    await rejectsWith(tokens.inspectUpload(TEST_TENANT, file), 'duplicate_in_intune', /^Intune already has a token for the Apple location "Relecloud – Main Campus"/);
  });

  it('removes the token from Intune first, and removes a record whose token is already gone from Intune', async () => {
    const { file } = organisation('Contoso Primary');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@contoso.example', accountType: 'education', takeOver: false });
    await tokens.remove(admin, token.id);
    assert.deepEqual(intune.deleted, [token.intuneTokenId]);
    assert.equal(await env.store.tokens.get(TEST_TENANT, token.id), undefined);

    const { file: second } = organisation('Contoso Secondary');
    const gone = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, second), { appleId: 'a@contoso.example', accountType: 'education', takeOver: false });
    intune.tokens.delete(gone.intuneTokenId ?? '');
    await tokens.remove(admin, gone.id);
    assert.equal(await env.store.tokens.get(TEST_TENANT, gone.id), undefined);
  });

  it('keeps one record when a mirror pass meets the token before the save finishes, with the admin as its author', async () => {
    const mirror = new IntuneTokenMirror({ store: env.store, intune, tenantId: TEST_TENANT });
    intune.beforeCreateAnswers = async () => {
      assert.equal((await mirror.run()).added.length, 1);
    };
    const { file } = organisation('Margie Travel');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@margie.example', accountType: 'business', takeOver: false });
    const records = await env.store.tokens.listByTenant(TEST_TENANT);
    assert.deepEqual(records.map((r) => r.id), [token.id]);
    assert.equal(records[0]?.createdBy.aadObjectId, admin.aadObjectId);
    assert.equal(records[0]?.appleId, 'a@margie.example');
    assert.equal(records[0]?.fingerprint, tokenFingerprint(file));
  });

  it('lets the token go again when the tenant filled up between inspection and save', async () => {
    const { file } = organisation('Full House');
    const pending = await tokens.inspectUpload(TEST_TENANT, file);
    const now = new Date().toISOString();
    await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        env.store.tokens.create({
          id: `filler-${i}`,
          tenantId: TEST_TENANT,
          displayName: `Filler ${i}`,
          organizationName: 'Filler',
          accountType: 'business',
          locationName: `Filler ${i}`,
          expirationDateTime: '2030-01-01T00:00:00.000Z',
          state: 'valid',
          lastSyncStatus: 'none',
          consecutiveSyncFailures: 0,
          intuneTokenId: `filler-${i}`,
          createdBy: { aadObjectId: 'x' },
          createdDateTime: now,
          lastModifiedDateTime: now,
        }),
      ),
    );
    await rejectsWith(tokens.saveUpload(admin, pending, { appleId: 'a@b.example', accountType: 'business', takeOver: false }), 'token_limit_reached');
    assert.equal(intune.tokens.size, 0, 'Intune keeps no token the bot does not list');
    assert.equal(intune.deleted.length, 1);
  });

  it("Apple mode's code refuses a record Intune holds clearly, and the key sweep passes it by", async () => {
    const { file } = organisation('Northwind Traders');
    const token = await tokens.saveUpload(admin, await tokens.inspectUpload(TEST_TENANT, file), { appleId: 'a@northwind.example', accountType: 'business', takeOver: false });

    assert.throws(() => appleClientProvider(env.cipher, env.apple)(token), (err: unknown) => err instanceof UserFacing && err.code === 'token_not_held' && /Intune holds/.test(err.userMessage));
    const apple = new SyncEngine({ store: env.store, cipher: env.cipher, apple: env.apple, mdm: TEST_MDM, logger: silentLogger() });
    const outcome = await apple.syncToken(TEST_TENANT, token.id, { trigger: 'manual' });
    assert.equal(outcome.status, 'skipped');
    assert.equal(outcome.error?.code, 'token_not_held');
    const report = await new TokenReencryptionSweep({ tokens: env.store.tokens, cipher: env.cipher, logger: silentLogger() }).run();
    assert.deepEqual(report.unreadable, []);
    assert.equal(report.complete, true);
  });
});

describe("Intune's 404s named in the admin's words", () => {
  it("names a book by its title and a token by its name instead of Intune's id, keeping the log detail; other errors pass as they are", async () => {
    const graph404 = new IntuneNotFoundError('The book 5d1e0f3a-0000-4000-8000-000000000001', { graphCode: 'ResourceNotFound', requestId: 'req-1', detail: 'HTTP 404 GET managedEBooks/5d1e…' });
    await assert.rejects(namingTheBook(Promise.reject(graph404), { title: 'Emma *annotated*' }), (err: unknown) => {
      assert.ok(err instanceof IntuneNotFoundError);
      assert.equal(err.userMessage, 'The book "Emma \\*annotated\\*" was not found in Intune. It may have been deleted there; nothing was changed.');
      assert.equal(err.code, 'intune_not_found');
      assert.equal(err.requestId, 'req-1');
      assert.match(err.message, /HTTP 404 GET managedEBooks/);
      return true;
    });
    await assert.rejects(namingTheToken(Promise.reject(new IntuneNotFoundError('The VPP token 7f')), { displayName: 'Northwind' }), /The VPP token "Northwind" was not found in Intune/);
    const busy = new IntuneUnavailableError('read the book');
    await assert.rejects(namingTheBook(Promise.reject(busy), { title: 'Emma' }), (err: unknown) => err === busy);
    assert.equal(await namingTheBook(Promise.resolve(3), { title: 'Emma' }), 3);
  });
});
