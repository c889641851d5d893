import { randomUUID } from 'node:crypto';
import type { Database } from '@azure/cosmos';
import { EmbeddedCosmos } from '../../../local/cosmos/EmbeddedCosmos';
import { createStore, type Store } from '../../../services/store/Store';
import type { RepositoryOptions } from '../../../services/store/repositories/options';
import type { VppToken } from '../../../services/store/entities/vppToken';
import type { EBook } from '../../../services/store/entities/eBook';
import { eBookId } from '../../../services/store/entities/eBook';
import { Keyring } from '../../../services/crypto/Keyring';
import { TokenCipher } from '../../../services/crypto/TokenCipher';
import { Secret } from '../../../services/secrets/Secret';

export const TENANT = '00000000-0000-0000-0000-0000000000aa';
export const ADMIN = { aadObjectId: '00000000-0000-0000-0000-000000000001', displayName: 'Ada Admin' };
export const cipher = new TokenCipher(new Keyring('k1', new Map([['k1', Buffer.alloc(32, 5)]])));
export const NOW = '2026-01-10T12:00:00.000Z';

/** One embedded Cosmos per test file, a fresh database per call so tests do not see each other's data. */
export function useEmbeddedCosmos(): { cosmos: () => EmbeddedCosmos; newDatabase: () => Promise<Database>; newStore: (options?: RepositoryOptions) => Promise<Store> } {
  let cosmos: EmbeddedCosmos | undefined;
  before(async () => {
    cosmos = new EmbeddedCosmos({ port: 0 });
    await cosmos.start();
  });
  after(async () => {
    await cosmos?.stop();
  });
  const get = (): EmbeddedCosmos => {
    if (!cosmos) throw new Error('embedded Cosmos not started');
    return cosmos;
  };
  const newDatabase = async (): Promise<Database> => (await get().client().databases.createIfNotExists({ id: `db-${randomUUID()}` })).database;
  return { cosmos: get, newDatabase, newStore: async (options) => createStore(await newDatabase(), options) };
}

export function sampleToken(overrides: Partial<VppToken> = {}, plain = new Secret(`eyJ0b2tlbiI6IlBMQUlOLVRPS0VOLSR7cmFuZG9tVVVJRCgpfSJ9${randomUUID()}`)): VppToken {
  const id = overrides.id ?? randomUUID();
  const tenantId = overrides.tenantId ?? TENANT;
  return {
    id,
    tenantId,
    displayName: 'Contoso Books',
    organizationName: 'Contoso',
    accountType: 'business',
    locationId: 'loc-1',
    locationName: 'Contoso HQ',
    countryOrRegion: 'US',
    expirationDateTime: '2027-01-01T00:00:00.000Z',
    state: 'valid',
    lastSyncStatus: 'none',
    consecutiveSyncFailures: 0,
    encryptedToken: cipher.encrypt(plain, `vppToken|${tenantId}|${id}`),
    createdBy: ADMIN,
    createdDateTime: NOW,
    lastModifiedDateTime: NOW,
    ...overrides,
  };
}

export function sampleBook(tokenId: string, adamId: string, overrides: Partial<EBook> = {}): EBook {
  return {
    id: eBookId(adamId, 'STDQ'),
    tokenId,
    tenantId: TENANT,
    adamId,
    pricingParam: 'STDQ',
    title: `Book ${adamId}`,
    totalLicenseCount: 10,
    usedLicenseCount: 2,
    availableLicenseCount: 8,
    metadataResolved: true,
    createdDateTime: NOW,
    lastModifiedDateTime: NOW,
    ...overrides,
  };
}
