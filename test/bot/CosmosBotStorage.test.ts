import { strict as assert } from 'node:assert';
import { ConversationState, TestAdapter } from 'botbuilder';
import { CosmosBotStorage } from '../../bot/CosmosBotStorage';
import { EmbeddedCosmos } from '../../local/cosmos/EmbeddedCosmos';
import { openDatabase } from '../../services/store/cosmosClient';

describe('CosmosBotStorage (dialog state in Cosmos)', function () {
  this.timeout(20_000);
  const cosmos = new EmbeddedCosmos();
  let storage: CosmosBotStorage;

  before(async () => {
    await cosmos.start();
    storage = new CosmosBotStorage(await openDatabase(cosmos.client(), 'bot-storage-test'));
  });
  after(() => cosmos.stop());

  it('stores keys Cosmos could not use as ids, and reads them back', async () => {
    const key = `msteams/conversations/a:1${'x'.repeat(300)}?#\\/`;
    await storage.write({ [key]: { step: 3, values: { appleId: 'a@b.example' } } });
    const read = await storage.read([key, 'missing']);
    assert.deepEqual({ ...read[key], eTag: undefined }, { step: 3, values: { appleId: 'a@b.example' }, eTag: undefined });
    assert.equal(read.missing, undefined);
  });

  it('refuses a write based on a stale read (two turns of one conversation at once)', async () => {
    await storage.write({ conv: { n: 1 } });
    const first = await storage.read(['conv']);
    const second = await storage.read(['conv']);
    await storage.write({ conv: { ...first.conv, n: 2 } });
    await assert.rejects(storage.write({ conv: { ...second.conv, n: 3 } }));
    assert.equal((await storage.read(['conv'])).conv.n, 2, 'the first write survives');
    await storage.write({ conv: { n: 4, eTag: '*' } });
    assert.equal((await storage.read(['conv'])).conv.n, 4, 'eTag * means last write wins');
  });

  it('deletes, and ignores keys that are already gone', async () => {
    await storage.write({ gone: { a: 1 } });
    await storage.delete(['gone', 'never-there']);
    assert.deepEqual(await storage.read(['gone']), {});
  });

  it('backs botbuilder ConversationState', async () => {
    const state = new ConversationState(storage);
    const counter = state.createProperty<number>('counter');
    const adapter = new TestAdapter(async (context) => {
      const n = (await counter.get(context, 0)) + 1;
      await counter.set(context, n);
      await state.saveChanges(context);
      await context.sendActivity(`turn ${n}`);
    });
    await adapter.send('a').assertReply('turn 1').send('b').assertReply('turn 2');
  });
});
