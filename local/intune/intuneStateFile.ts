import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { describeStateFileIssues, moveStateFileAside, warnAboutStateFile } from '../stateFileSupport';
import type { Logger } from '../../services/logging/logger';
import { KEY_LENGTH_BYTES } from '../../services/crypto/Keyring';
import { keyringFromSettings } from '../../services/crypto/keyConfig';
import { TokenCipher, encryptedSecretSchema, type EncryptedSecret } from '../../services/crypto/TokenCipher';
import { Secret } from '../../services/secrets/Secret';
import {
  ACTION_STATES,
  INSTALL_INTENTS,
  INSTALL_STATES,
  VPP_ACCOUNT_TYPES,
  VPP_SYNC_STATUSES,
  VPP_TOKEN_STATES,
  type IntuneEBook,
  type IntuneState,
  type IntuneVppToken,
} from './IntuneState';

/**
 * The local Intune's state as a JSON file, so that the token and book ids the bot stored still answer after a
 * restart. Unlike the Apple sandbox, which only has to recognise a token, Intune presents the token to Apple on
 * every later sync, so the file keeps it, encrypted (AES-256-GCM, services/crypto's TokenCipher) under a random key
 * in a sibling file (`intune.json` → `intune.key`, mode 0600): the data folder never holds a token in clear, and
 * the file alone is useless.
 */

const date = z.iso.datetime({ offset: true });
const count = z.number().int().nonnegative();

const tokenSchema = z.object({
  id: z.string().min(1),
  organizationName: z.string(),
  vppTokenAccountType: z.enum(VPP_ACCOUNT_TYPES),
  appleId: z.string(),
  expirationDateTime: date,
  lastSyncDateTime: date,
  sealedToken: encryptedSecretSchema,
  lastModifiedDateTime: date,
  state: z.enum(VPP_TOKEN_STATES),
  tokenActionResults: z.array(z.object({ actionName: z.string().min(1), actionState: z.enum(ACTION_STATES), startDateTime: date, lastUpdatedDateTime: date })),
  lastSyncStatus: z.enum(VPP_SYNC_STATUSES),
  automaticallyUpdateApps: z.boolean(),
  countryOrRegion: z.string(),
  dataSharingConsentGranted: z.boolean(),
  displayName: z.string(),
  locationName: z.string(),
  claimTokenManagementFromExternalMdm: z.boolean(),
  roleScopeTagIds: z.array(z.string()),
  lastAppCount: count,
  locationId: z.string().optional(),
});

const bookSchema = z.object({
  id: z.string().min(1),
  vppTokenId: z.string().min(1),
  adamId: z.string().min(1),
  displayName: z.string(),
  description: z.string().nullable(),
  publisher: z.string(),
  publishedDateTime: date,
  largeCover: z.object({ type: z.string(), value: z.string() }).nullable(),
  createdDateTime: date,
  lastModifiedDateTime: date,
  informationUrl: z.string(),
  privacyInformationUrl: z.string().nullable(),
  appleId: z.string(),
  vppOrganizationName: z.string(),
  genres: z.array(z.string()),
  language: z.string(),
  seller: z.string(),
  totalLicenseCount: count,
  appleUsedLicenseCount: count,
  assignments: z.array(
    z.object({
      id: z.string().min(1),
      installIntent: z.enum(INSTALL_INTENTS),
      target: z.object({
        '@odata.type': z.string().min(1),
        groupId: z.string().optional(),
        deviceAndAppManagementAssignmentFilterId: z.string().nullable().optional(),
        deviceAndAppManagementAssignmentFilterType: z.string().optional(),
      }),
    }),
  ),
  licensedUserIds: z.array(z.string().min(1)),
  devices: z.array(
    z.object({
      id: z.string().min(1),
      deviceId: z.string().min(1),
      deviceName: z.string(),
      userId: z.string().min(1),
      userName: z.string(),
      osVersion: z.string(),
      osDescription: z.string(),
      installState: z.enum(INSTALL_STATES),
      errorCode: z.string().nullable(),
      lastSyncDateTime: date,
    }),
  ),
});

const stateFileSchema = z
  .object({
    format: z.literal(1),
    savedAt: z.string(),
    tokens: z.array(tokenSchema),
    books: z.array(bookSchema),
  })
  .superRefine((file, ctx) => {
    const tokenIds = new Set(file.tokens.map((t) => t.id));
    file.books.forEach((b, i) => {
      if (!tokenIds.has(b.vppTokenId)) ctx.addIssue({ code: 'custom', path: ['books', i, 'vppTokenId'], message: 'names no token of the file' });
    });
  });
type IntuneStateFile = z.infer<typeof stateFileSchema>;
type SavedToken = z.infer<typeof tokenSchema>;
type StateContent = Omit<IntuneStateFile, 'format' | 'savedAt'>;

/** The key file: the same `{keyId, key}` shape as the bot's local key (services/crypto/keyConfig.ts). */
const keyFileSchema = z.object({ keyId: z.string().min(1).max(64), key: z.string().min(1) });
const KEY_ID = 'local-intune-1';

/** Additional authenticated data: a sealed token copied onto another token's record does not decrypt. */
const sealContext = (tokenId: string): string => `local-intune/vppTokens/${tokenId}`;

function keyFileOf(stateFile: string): string {
  const { dir, name } = path.parse(stateFile);
  return path.join(dir, `${name}.key`);
}

/** The local Intune's words for a file moved aside (`what`: its state or its key). */
const moveAside = (file: string, reason: string, what: string, logger: Logger | undefined): Promise<boolean> =>
  moveStateFileAside(file, reason, logger, {
    moved: `local Intune ${what} unreadable; the old file is kept aside`,
    notMoved: `local Intune ${what} unreadable and could not be moved aside; not writing over it`,
  });

const cipherOf = (key: z.infer<typeof keyFileSchema>): TokenCipher => new TokenCipher(keyringFromSettings(key));

/**
 * The cipher of the key file; undefined when there is none (or it was unusable and is now moved aside); 'keep' when
 * an unusable one could not be moved aside, so no new key may be written in its place.
 */
async function readKey(keyFile: string, logger: Logger | undefined): Promise<TokenCipher | undefined | 'keep'> {
  let reason: string;
  try {
    const parsed = keyFileSchema.safeParse(JSON.parse(await fs.readFile(keyFile, 'utf8')));
    if (parsed.success) return cipherOf(parsed.data);
    reason = 'it is not {"keyId","key"}';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    reason = err instanceof SyntaxError ? 'it is not JSON' : code ? `it could not be read (${code})` : (err as Error).message;
  }
  return (await moveAside(keyFile, reason, 'state key', logger)) ? undefined : 'keep';
}

/**
 * A new random key, written aside and hard-linked into place (as keyConfig's local key is): the link either
 * publishes a whole file or fails because another start made one first, whose key is then used.
 */
async function createKey(keyFile: string, logger: Logger | undefined): Promise<TokenCipher | undefined> {
  const settings = { keyId: KEY_ID, key: randomBytes(KEY_LENGTH_BYTES).toString('base64') };
  const temp = `${keyFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.mkdir(path.dirname(keyFile), { recursive: true });
    await fs.writeFile(temp, JSON.stringify(settings), { mode: 0o600 });
    await fs.link(temp, keyFile);
    return cipherOf(settings);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const existing = await readKey(keyFile, logger);
      if (existing instanceof TokenCipher) return existing;
    }
    warnAboutStateFile(logger, { file: keyFile, code: (err as NodeJS.ErrnoException).code }, 'local Intune state key could not be created; the state is not saved');
    return undefined;
  } finally {
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}

function restoreToken(saved: SavedToken, bearer: string): IntuneVppToken {
  const { sealedToken: _sealed, ...fields } = saved;
  return {
    ...fields,
    token: bearer,
    expirationDateTime: new Date(saved.expirationDateTime),
    lastSyncDateTime: new Date(saved.lastSyncDateTime),
    lastModifiedDateTime: new Date(saved.lastModifiedDateTime),
    tokenActionResults: saved.tokenActionResults.map((r) => ({ ...r, startDateTime: new Date(r.startDateTime), lastUpdatedDateTime: new Date(r.lastUpdatedDateTime) })),
    roleScopeTagIds: [...saved.roleScopeTagIds],
    locationId: saved.locationId,
  };
}

function restoreBook(saved: IntuneStateFile['books'][number]): IntuneEBook {
  return {
    ...saved,
    publishedDateTime: new Date(saved.publishedDateTime),
    createdDateTime: new Date(saved.createdDateTime),
    lastModifiedDateTime: new Date(saved.lastModifiedDateTime),
    licensedUserIds: new Set(saved.licensedUserIds),
    devices: new Map(saved.devices.map((d) => [d.id, { ...d, lastSyncDateTime: new Date(d.lastSyncDateTime) }])),
  };
}

interface SealedToken {
  token: IntuneVppToken;
  sealed: EncryptedSecret;
}

type ReadState = { tokens: SealedToken[]; books: IntuneEBook[] } | { unreadable: string } | undefined;

/** The saved tokens (decrypted) and books; why the file is unusable; or undefined when there is no file. */
async function readState(file: string, key: TokenCipher | undefined, keyName: string): Promise<ReadState> {
  let saved: IntuneStateFile;
  try {
    const parsed = stateFileSchema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
    if (!parsed.success) return { unreadable: `it does not match the expected shape (${describeStateFileIssues(parsed.error)})` };
    saved = parsed.data;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return { unreadable: err instanceof SyntaxError ? 'it is not JSON' : `it could not be read (${code ?? 'error'})` };
  }
  if (!key) return saved.tokens.length > 0 ? { unreadable: `its tokens cannot be decrypted: ${keyName} is missing` } : { tokens: [], books: saved.books.map(restoreBook) };
  try {
    const tokens = saved.tokens.map((t) => ({ token: restoreToken(t, key.decrypt(t.sealedToken, sealContext(t.id)).reveal()), sealed: t.sealedToken }));
    return { tokens, books: saved.books.map(restoreBook) };
  } catch {
    // Another key, or a file changed by hand: GCM does not say which.
    return { unreadable: `its tokens do not decrypt with ${keyName}` };
  }
}

/**
 * Reads the saved state into `state` (replacing its tokens and books) and returns what saves it from then on.
 * Nothing stops the start: a file that is not JSON, does not match the schema or whose tokens do not decrypt
 * with the key file is renamed `<file>.unreadable-<time>` and Intune starts empty; an unusable key file is moved
 * aside the same way and a new key made. Undefined, and Intune keeps its state in memory only, when a bad file
 * could not be moved aside or no key could be made.
 */
export async function loadIntuneState(file: string, state: IntuneState, logger?: Logger): Promise<IntuneStateSaver | undefined> {
  const keyFile = keyFileOf(file);
  const key = await readKey(keyFile, logger);
  if (key === 'keep') return undefined;
  const read = await readState(file, key, path.basename(keyFile));
  if (read && 'unreadable' in read && !(await moveAside(file, read.unreadable, 'state', logger))) return undefined;
  const cipher = key ?? (await createKey(keyFile, logger));
  if (!cipher) return undefined;
  if (!read || 'unreadable' in read) return new IntuneStateSaver(state, file, cipher, logger);
  state.tokens.clear();
  state.books.clear();
  for (const { token } of read.tokens) state.tokens.set(token.id, token);
  for (const book of read.books) state.books.set(book.id, book);
  logger?.info({ file, tokens: state.tokens.size, books: state.books.size }, 'local Intune state restored');
  return new IntuneStateSaver(state, file, cipher, logger, read.tokens);
}

/**
 * Writes the state when it differs from what was last written, atomically (a temporary file, then a rename),
 * one write at a time. Callers that come while a write waits share it: it takes the state as it is when it starts.
 */
export class IntuneStateSaver {
  /** What was last written, without `savedAt`: a save with nothing new writes nothing. */
  #written: string | undefined;
  /**
   * Each token's ciphertext while its bearer stays the same: encryption takes a fresh IV, so sealing again on
   * every save would make every save look like a change.
   */
  readonly #sealed = new Map<string, { bearer: string; sealed: EncryptedSecret }>();
  #writing: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;

  constructor(
    private readonly state: IntuneState,
    private readonly file: string,
    private readonly cipher: TokenCipher,
    private readonly logger?: Logger,
    restored?: readonly SealedToken[],
  ) {
    if (!restored) return;
    for (const { token, sealed } of restored) this.#sealed.set(token.id, { bearer: token.token, sealed });
    this.#written = JSON.stringify(this.#content());
  }

  /** Resolves once the current state is on disk. A failed write is logged, not thrown; the next save tries again. */
  save(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued = this.#writing.then(async () => {
      this.#queued = undefined;
      await this.#write();
    });
    this.#queued = queued;
    this.#writing = queued;
    return queued;
  }

  async #write(): Promise<void> {
    try {
      const content = this.#content();
      const compared = JSON.stringify(content);
      if (compared === this.#written) return;
      const file: IntuneStateFile = { format: 1, savedAt: new Date().toISOString(), ...content };
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      const temp = `${this.file}.${process.pid}.tmp`;
      await fs.writeFile(temp, JSON.stringify(file), { mode: 0o600 });
      await fs.rename(temp, this.file);
      this.#written = compared;
    } catch (err) {
      warnAboutStateFile(this.logger, { file: this.file, code: (err as NodeJS.ErrnoException).code }, 'local Intune state could not be saved');
    }
  }

  #content(): StateContent {
    for (const id of this.#sealed.keys()) if (!this.state.tokens.has(id)) this.#sealed.delete(id);
    return {
      tokens: [...this.state.tokens.values()].map(({ token: bearer, tokenActionResults, ...token }) => ({
        ...token,
        sealedToken: this.#seal(token.id, bearer),
        expirationDateTime: token.expirationDateTime.toISOString(),
        lastSyncDateTime: token.lastSyncDateTime.toISOString(),
        lastModifiedDateTime: token.lastModifiedDateTime.toISOString(),
        tokenActionResults: tokenActionResults.map((r) => ({ ...r, startDateTime: r.startDateTime.toISOString(), lastUpdatedDateTime: r.lastUpdatedDateTime.toISOString() })),
      })),
      books: [...this.state.books.values()].map((book) => ({
        ...book,
        publishedDateTime: book.publishedDateTime.toISOString(),
        createdDateTime: book.createdDateTime.toISOString(),
        lastModifiedDateTime: book.lastModifiedDateTime.toISOString(),
        licensedUserIds: [...book.licensedUserIds],
        devices: [...book.devices.values()].map((d) => ({ ...d, lastSyncDateTime: d.lastSyncDateTime.toISOString() })),
      })),
    };
  }

  #seal(tokenId: string, bearer: string): EncryptedSecret {
    const cached = this.#sealed.get(tokenId);
    if (cached?.bearer === bearer) return cached.sealed;
    const sealed = this.cipher.encrypt(new Secret(bearer), sealContext(tokenId));
    this.#sealed.set(tokenId, { bearer, sealed });
    return sealed;
  }
}
