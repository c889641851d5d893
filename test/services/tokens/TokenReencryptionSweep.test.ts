import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Container, Database } from '@azure/cosmos';
import sinon from 'sinon';
import { CosmosBotStorage, BOT_STATE_CONTAINER } from '../../../bot/CosmosBotStorage';
import { Keyring } from '../../../services/crypto/Keyring';
import { TokenCipher, type EncryptedSecret } from '../../../services/crypto/TokenCipher';
import { Secret } from '../../../services/secrets/Secret';
import { DialogStateDocuments } from '../../../services/store/repositories/DialogStateDocuments';
import { createStore, type Store } from '../../../services/store/Store';
import { heldEncryptedToken, tokenCipherContext, type VppToken } from '../../../services/store/entities/vppToken';
import { TokenReencryptionSweep } from '../../../services/tokens/TokenReencryptionSweep';
import { pendingTokenCipherContext } from '../../../services/tokens/TokenService';
import { capturingLogger } from '../../support/logCapture';
import { secretsLedger } from '../../support/secretsLedger';
import { sampleToken, useEmbeddedCosmos } from '../store/fixtures';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const keyGone = randomBytes(32);
/** Before the rotation: A is the only key. */
const cipherA = new TokenCipher(new Keyring('A', new Map([['A', keyA]])));
/** During the rotation: B is current, A is kept in TOKEN_ENCRYPTION_OLD_KEYS. */
const cipherBA = new TokenCipher(new Keyring('B', new Map([['A', keyA], ['B', keyB]])));
/** After the rotation: B alone, so whatever decrypts with it really was re-encrypted. */
const cipherB = new TokenCipher(new Keyring('B', new Map([['B', keyB]])));
/** A key the rotating process no longer has (removed too early). */
const cipherGone = new TokenCipher(new Keyring('Z', new Map([['Z', keyGone]])));

const PINO_DEBUG = 20;
const PINO_INFO = 30;
const PINO_WARN = 40;
const TENANTS = ['tenant-one', 'tenant-two'];

function plainToken(): Secret {
  const secret = new Secret(Buffer.from(JSON.stringify({ token: `VPP-${randomUUID()}-${randomUUID()}`, orgName: 'Contoso' })).toString('base64'));
  secretsLedger.registerSecret(secret.reveal());
  return secret;
}

/** A token stored the way an upload leaves it, encrypted with `cipher`. */
async function seedToken(store: Store, cipher: TokenCipher, tenantId: string, plain = plainToken()): Promise<{ token: VppToken; plain: Secret }> {
  const id = randomUUID();
  const token = sampleToken({ id, tenantId, encryptedToken: cipher.encrypt(plain, tokenCipherContext({ tenantId, id })) });
  await store.tokens.create(token);
  return { token, plain };
}

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function parse(lines: string[]): LogLine[] {
  return lines.map((line) => JSON.parse(line) as LogLine);
}

/** The raw stored document, system properties and all: "left intact" means byte for byte, etag included. */
async function rawToken(store: Store, token: VppToken): Promise<Record<string, unknown>> {
  const { resource } = await store.containers.tokens.item(token.id, token.tenantId).read<Record<string, unknown>>();
  assert.ok(resource);
  return resource;
}

/** Dialog state as botbuilder keeps it: the pending upload sits in the waterfall's values, deep in the stack. */
function uploadDialogState(pending: Record<string, unknown>): Record<string, unknown> {
  return {
    DialogState: {
      dialogStack: [
        {
          id: 'uploadToken',
          state: { dialogs: { dialogStack: [{ id: 'uploadToken.steps', state: { options: { actor: 'someone' }, values: { pending, appleId: 'vpp@contoso.com' }, stepIndex: 4 } }] } },
        },
      ],
    },
  };
}

function pendingUpload(cipher: TokenCipher, tenantId: string, plain: Secret): Record<string, unknown> {
  const pendingId = randomUUID();
  return {
    pendingId,
    tenantId,
    encryptedToken: cipher.encrypt(plain, pendingTokenCipherContext(tenantId, pendingId)),
    organizationName: 'Contoso',
    expirationDateTime: '2027-01-01T00:00:00.000Z',
    locationName: 'Contoso HQ',
    bookCount: 3,
  };
}

describe('TokenReencryptionSweep (key rotation, real Cosmos client)', function () {
  this.timeout(30_000);
  const env = useEmbeddedCosmos();
  let database: Database;
  let store: Store;
  let botState: CosmosBotStorage;
  const dialogState = (): Container => database.container(BOT_STATE_CONTAINER);

  beforeEach(async () => {
    database = await env.newDatabase();
    store = await createStore(database);
    botState = new CosmosBotStorage(database);
  });

  afterEach(() => sinon.restore());

  function sweep(cipher = cipherBA, withDialogState = true) {
    const { logger, lines } = capturingLogger();
    const sweeper = new TokenReencryptionSweep({ tokens: store.tokens, cipher, dialogState: withDialogState ? new DialogStateDocuments(dialogState()) : undefined, logger });
    return { sweeper, lines };
  }

  it('re-encrypts every stored token and pending upload under the new key, keeps the plaintext and says the old key can go', async () => {
    const seeded = [];
    for (const tenantId of TENANTS) for (let i = 0; i < 3; i++) seeded.push(await seedToken(store, cipherA, tenantId));
    const pendingPlain = plainToken();
    const pending = pendingUpload(cipherA, TENANTS[0] as string, pendingPlain);
    const stateKey = 'msteams/conversations/a:1/conversation';
    await botState.write({ [stateKey]: uploadDialogState(pending) });

    const { sweeper, lines } = sweep();
    const report = await sweeper.run();

    for (const { token, plain } of seeded) {
      const stored = await store.tokens.get(token.tenantId, token.id);
      assert.ok(stored);
      assert.equal(stored.encryptedToken?.keyId, 'B');
      assert.equal(cipherB.decrypt(heldEncryptedToken(stored), tokenCipherContext(stored)).reveal(), plain.reveal());
      // Nothing an admin sees changed: same content, same modification time.
      assert.deepEqual({ ...stored, encryptedToken: undefined }, { ...token, encryptedToken: undefined });
    }
    const state = (await botState.read([stateKey]))[stateKey] as Record<string, unknown>;
    const storedPending = (state as ReturnType<typeof uploadDialogState> & { DialogState: { dialogStack: Array<{ state: { dialogs: { dialogStack: Array<{ state: { values: { pending: { encryptedToken: EncryptedSecret }; appleId: string }; stepIndex: number } }> } } }> } })
      .DialogState.dialogStack[0]?.state.dialogs.dialogStack[0]?.state;
    assert.ok(storedPending);
    assert.equal(storedPending.values.pending.encryptedToken.keyId, 'B');
    assert.equal(cipherB.decrypt(storedPending.values.pending.encryptedToken, pendingTokenCipherContext(TENANTS[0] as string, pending.pendingId as string)).reveal(), pendingPlain.reveal());
    assert.equal(storedPending.values.appleId, 'vpp@contoso.com', 'the rest of the dialog state is kept');
    assert.equal(storedPending.stepIndex, 4);

    assert.deepEqual(report.documentsByKeyId, { B: 7 });
    assert.equal(report.reEncrypted, 7);
    assert.equal(report.complete, true);
    assert.deepEqual(report.oldKeyIdsInUse, []);
    assert.deepEqual(report.removableOldKeyIds, ['A']);

    const logged = parse(lines);
    const done = logged.find((l) => l.level === PINO_INFO && /no document uses an old key id/.test(l.msg));
    assert.ok(done, `an info line says the rotation is complete: ${lines.join('\n')}`);
    assert.equal(done.msg, 'token encryption: no document uses an old key id (7 on "B"); remove A from TOKEN_ENCRYPTION_OLD_KEYS');
    assert.deepEqual(done.documentsByKeyId, { B: 7 });
    const everything = lines.join('\n');
    for (const { plain } of seeded) assert.ok(!everything.includes(plain.reveal()), 'no token in the log');
    assert.ok(!everything.includes(pendingPlain.reveal()));
  });

  it('is idempotent: a second sweep writes nothing and only logs at debug', async () => {
    const { token } = await seedToken(store, cipherA, 'tenant-one');
    const { sweeper, lines } = sweep();
    await sweeper.run();
    const after = await rawToken(store, token);

    const again = await sweeper.run();
    assert.equal(again.reEncrypted, 0);
    assert.equal(again.complete, true);
    assert.deepEqual(await rawToken(store, token), after, 'the document is not written again (same etag and ciphertext)');
    const last = parse(lines).at(-1);
    assert.equal(last?.level, PINO_DEBUG);
  });

  it('a renewal between the sweep reading a token and writing it wins: the new token is kept, not the old one re-encrypted', async () => {
    const { token } = await seedToken(store, cipherA, 'tenant-one');
    const renewed = plainToken();
    const read = store.tokens.read.bind(store.tokens);
    let renewedOnce = false;
    sinon.stub(store.tokens, 'read').callsFake(async (tenantId, id) => {
      const result = await read(tenantId, id);
      if (!renewedOnce) {
        renewedOnce = true;
        // What TokenService.renew writes, by another instance already on the new key.
        await store.tokens.update(tenantId, id, (t) => ({ ...t, organizationName: 'Contoso Renewed', encryptedToken: cipherBA.encrypt(renewed, tokenCipherContext(t)) }));
      }
      return result;
    });

    const report = await sweep().sweeper.run();

    const stored = await store.tokens.get(token.tenantId, token.id);
    assert.ok(stored);
    assert.equal(stored.organizationName, 'Contoso Renewed');
    assert.equal(cipherB.decrypt(heldEncryptedToken(stored), tokenCipherContext(stored)).reveal(), renewed.reveal());
    assert.equal(report.complete, true);
    assert.deepEqual(report.documentsByKeyId, { B: 1 });
  });

  it('a sync writing between read and write keeps its change, and the token is re-encrypted on the next try', async () => {
    const { token, plain } = await seedToken(store, cipherA, 'tenant-one');
    const read = store.tokens.read.bind(store.tokens);
    let syncedOnce = false;
    sinon.stub(store.tokens, 'read').callsFake(async (tenantId, id) => {
      const result = await read(tenantId, id);
      if (!syncedOnce) {
        syncedOnce = true;
        await store.tokens.update(tenantId, id, (t) => ({ ...t, lastSyncStatus: 'completed', lastSyncDateTime: '2026-02-01T00:00:00.000Z' }));
      }
      return result;
    });

    const report = await sweep().sweeper.run();

    const stored = await store.tokens.get(token.tenantId, token.id);
    assert.ok(stored);
    assert.equal(stored.lastSyncStatus, 'completed');
    assert.equal(stored.lastSyncDateTime, '2026-02-01T00:00:00.000Z');
    assert.equal(cipherB.decrypt(heldEncryptedToken(stored), tokenCipherContext(stored)).reveal(), plain.reveal());
    assert.equal(report.reEncrypted, 1);
  });

  it('a token that keeps changing is left for the next sweep and the report says the old key is still in use', async () => {
    const { token, plain } = await seedToken(store, cipherA, 'tenant-one');
    const read = store.tokens.read.bind(store.tokens);
    const busy = sinon.stub(store.tokens, 'read').callsFake(async (tenantId, id) => {
      const result = await read(tenantId, id);
      await store.tokens.update(tenantId, id, (t) => ({ ...t, consecutiveSyncFailures: t.consecutiveSyncFailures + 1 }));
      return result;
    });
    const { sweeper, lines } = sweep();

    const first = await sweeper.run();
    assert.equal(first.deferred, 1);
    assert.equal(first.complete, false);
    assert.deepEqual(first.documentsByKeyId, { A: 1 });
    assert.deepEqual(first.oldKeyIdsInUse, ['A']);
    assert.deepEqual(first.removableOldKeyIds, []);
    const pendingLine = parse(lines).find((l) => l.level === PINO_INFO && /still use old key ids \(A: 1; 0 on "B"\)/.test(l.msg));
    assert.ok(pendingLine, lines.join('\n'));
    assert.match(pendingLine.msg, /keep A in TOKEN_ENCRYPTION_OLD_KEYS/);
    assert.doesNotMatch(pendingLine.msg, /remove/);
    const writes = busy.callCount;
    assert.equal((await store.tokens.get(token.tenantId, token.id))?.consecutiveSyncFailures, writes, 'every concurrent write landed');

    busy.restore();
    const second = await sweeper.run();
    assert.equal(second.complete, true);
    const stored = await store.tokens.get(token.tenantId, token.id);
    assert.ok(stored);
    assert.equal(stored.consecutiveSyncFailures, writes);
    assert.equal(cipherB.decrypt(heldEncryptedToken(stored), tokenCipherContext(stored)).reveal(), plain.reveal());
  });

  it('reports a token whose key is no longer configured, and a damaged one, and leaves both exactly as they were', async () => {
    const { token: orphan } = await seedToken(store, cipherGone, 'tenant-one');
    const { token: damaged } = await seedToken(store, cipherA, 'tenant-two');
    await store.tokens.update(damaged.tenantId, damaged.id, (t) => ({ ...t, encryptedToken: { ...heldEncryptedToken(t), authTag: Buffer.alloc(16, 7).toString('base64') } }));
    const { plain } = await seedToken(store, cipherA, 'tenant-two');
    const orphanBefore = await rawToken(store, orphan);
    const damagedBefore = await rawToken(store, damaged);

    const { sweeper, lines } = sweep();
    const report = await sweeper.run();

    assert.deepEqual(await rawToken(store, orphan), orphanBefore);
    assert.deepEqual(await rawToken(store, damaged), damagedBefore);
    assert.deepEqual(
      [...report.unreadable].sort((a, b) => a.keyId.localeCompare(b.keyId)),
      [
        { kind: 'vppToken', id: damaged.id, tenantId: 'tenant-two', keyId: 'A', reason: 'tampered' },
        { kind: 'vppToken', id: orphan.id, tenantId: 'tenant-one', keyId: 'Z', reason: 'unknown_key' },
      ],
    );
    assert.deepEqual(report.documentsByKeyId, { A: 1, B: 1, Z: 1 });
    assert.equal(report.reEncrypted, 1);
    assert.equal(report.complete, false);
    assert.deepEqual(report.oldKeyIdsInUse, ['A', 'Z']);
    const summary = parse(lines).find((l) => l.level === PINO_INFO && /token encryption/.test(l.msg));
    assert.equal(summary?.msg, 'token encryption: documents still use old key ids (A: 1, Z: 1; 1 on "B"); keep A in TOKEN_ENCRYPTION_OLD_KEYS; Z not configured: those documents cannot be read');
    const warning = parse(lines).find((l) => l.level === PINO_WARN);
    assert.ok(warning, lines.join('\n'));
    assert.match(warning.msg, /2 stored token\(s\) cannot be decrypted and were left untouched/);
    assert.match(JSON.stringify(warning.unreadable), new RegExp(orphan.id));
    assert.ok(!lines.join('\n').includes(plain.reveal()));
  });

  it('a turn saving the conversation while the sweep re-encrypts its pending upload keeps its change', async () => {
    const plain = plainToken();
    const pending = pendingUpload(cipherA, 'tenant-one', plain);
    const stateKey = 'msteams/conversations/a:3/conversation';
    await botState.write({ [stateKey]: uploadDialogState(pending) });
    const container = dialogState();
    const realItem = container.item.bind(container);
    let turnTaken = false;
    sinon.stub(container, 'item').callsFake((id, partitionKey) => {
      const item = realItem(id, partitionKey);
      const replace = item.replace.bind(item);
      sinon.stub(item, 'replace').callsFake(async (body, options) => {
        if (!turnTaken) {
          turnTaken = true;
          // The admin answers the next prompt: the turn saves the state the sweep has just read.
          const turn = uploadDialogState(pending) as { DialogState: { dialogStack: Array<{ state: { dialogs: { dialogStack: Array<{ state: { values: { appleId: string } } }> } } }> } };
          const values = turn.DialogState.dialogStack[0]?.state.dialogs.dialogStack[0]?.state.values;
          assert.ok(values);
          values.appleId = 'changed@contoso.com';
          await botState.write({ [stateKey]: turn });
        }
        return replace(body, options);
      });
      return item;
    });
    const { logger } = capturingLogger();

    const report = await new TokenReencryptionSweep({ tokens: store.tokens, cipher: cipherBA, dialogState: new DialogStateDocuments(container), logger }).run();

    assert.ok(turnTaken, 'the sweep did try to write the state');
    const saved = JSON.stringify((await botState.read([stateKey]))[stateKey]);
    assert.match(saved, /changed@contoso\.com/, "the turn's change is kept");
    const values = JSON.parse(saved) as ReturnType<typeof uploadDialogState> & { DialogState: { dialogStack: Array<{ state: { dialogs: { dialogStack: Array<{ state: { values: { pending: { encryptedToken: EncryptedSecret } } } }> } } }> } };
    const stored = values.DialogState.dialogStack[0]?.state.dialogs.dialogStack[0]?.state.values.pending.encryptedToken;
    assert.ok(stored);
    assert.equal(cipherB.decrypt(stored, pendingTokenCipherContext('tenant-one', pending.pendingId as string)).reveal(), plain.reveal());
    assert.equal(report.reEncrypted, 1);
    assert.equal(report.complete, true);
  });

  it('reports a pending upload whose key is gone without touching the conversation state', async () => {
    const pending = pendingUpload(cipherGone, 'tenant-one', plainToken());
    const stateKey = 'msteams/conversations/a:2/conversation';
    await botState.write({ [stateKey]: uploadDialogState(pending) });
    const before = (await dialogState().items.query('SELECT * FROM c').fetchAll()).resources;

    const report = await sweep().sweeper.run();

    assert.deepEqual((await dialogState().items.query('SELECT * FROM c').fetchAll()).resources, before);
    assert.deepEqual(report.unreadable, [{ kind: 'pendingUpload', id: pending.pendingId, tenantId: 'tenant-one', keyId: 'Z', reason: 'unknown_key' }]);
    assert.deepEqual(report.documentsByKeyId, { Z: 1 });
    assert.deepEqual(report.removableOldKeyIds, ['A']);
  });

  it('works before the bot ever saved dialog state (no botState container yet)', async () => {
    await seedToken(store, cipherA, 'tenant-one');
    const report = await sweep().sweeper.run();
    assert.equal(report.complete, true);
    assert.deepEqual(report.documentsByKeyId, { B: 1 });
  });

  it('is worth repeating in the background only while an old key is configured', () => {
    assert.equal(sweep(cipherBA).sweeper.rotating, true);
    assert.equal(sweep(cipherB).sweeper.rotating, false);
  });

  it('runs one sweep at a time: a call during a sweep shares it', async () => {
    await seedToken(store, cipherA, 'tenant-one');
    const { sweeper } = sweep();
    const listed = sinon.spy(store.tokens, 'listKeyIds');
    const [a, b] = await Promise.all([sweeper.run(), sweeper.run()]);
    assert.equal(a, b);
    assert.equal(listed.callCount, 1);
  });
});
