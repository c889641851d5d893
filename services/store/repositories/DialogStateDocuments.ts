import type { Container, ItemDefinition } from '@azure/cosmos';
import { cosmosStatus } from '../errors';
import { SYSTEM_PROPERTIES } from '../stable';

/** A dialog-state document as stored: botbuilder's shape, which may change with botbuilder, so not ours to type. */
export type DialogStateDocument = Record<string, unknown>;

/**
 * The bot's dialog-state container (botState) as raw documents, for the one service that must look inside
 * them: the key rotation sweep, which re-encrypts the VPP token an upload waiting for confirmation keeps
 * there. botbuilder owns these documents (bot/CosmosBotStorage.ts writes them), so a document is only ever
 * replaced if no turn has saved it since it was read.
 */
export class DialogStateDocuments {
  constructor(private readonly container: Container) {}

  /** Every document, a page at a time; none before the bot's first turn has created the container. */
  async *pages(pageSize: number): AsyncGenerator<DialogStateDocument[]> {
    const iterator = this.container.items.query<ItemDefinition>('SELECT * FROM c', { maxItemCount: pageSize });
    try {
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        yield resources;
      }
    } catch (err) {
      if (cosmosStatus(err) === 404) return;
      throw err;
    }
  }

  /** The document as it is now; undefined once it is gone. */
  async read(id: string): Promise<DialogStateDocument | undefined> {
    try {
      return (await this.container.item(id, id).read<ItemDefinition>()).resource;
    } catch (err) {
      if (cosmosStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** Writes `document` back if it is still the version read (its etag); false when a turn saved it meanwhile, or it was deleted. */
  async replaceIfUnchanged(document: DialogStateDocument): Promise<boolean> {
    const etag = document._etag;
    if (typeof etag !== 'string' || typeof document.id !== 'string') return false;
    const body: Record<string, unknown> = { ...document };
    for (const key of SYSTEM_PROPERTIES) delete body[key];
    try {
      // botState is partitioned on /id.
      await this.container.item(document.id, document.id).replace(body, { accessCondition: { type: 'IfMatch', condition: etag } });
      return true;
    } catch (err) {
      const status = cosmosStatus(err);
      if (status === 412 || status === 404) return false;
      throw err;
    }
  }
}
