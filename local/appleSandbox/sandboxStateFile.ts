import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { describeStateFileIssues, moveStateFileAside, warnAboutStateFile } from '../stateFileSupport';
import type { Logger } from '../../services/logging/logger';
import { assignmentKey, SandboxState, type SandboxOrganisation, type SandboxStateOptions } from './SandboxState';

/**
 * The sandbox's state as a JSON file, so that local mode's Apple keeps what the bot's store remembers
 * across restarts. Tokens are kept by the SHA-256 of their content, never the content itself: the data
 * folder holds no token.
 */

const mdmInfoSchema = z.object({ id: z.string(), name: z.string(), metadata: z.string().optional() });
const changeNumber = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

const organisationSchema = z.object({
  id: z.string().min(1),
  orgName: z.string(),
  locationName: z.string(),
  countryISO2ACode: z.string(),
  uId: z.string(),
  defaultPlatform: z.string(),
  mdmInfo: mdmInfoSchema.optional(),
  books: z.array(
    z.object({
      adamId: z.string().min(1),
      pricingParam: z.enum(['STDQ', 'PLUS']),
      title: z.string(),
      author: z.string(),
      totalCount: count,
      assignedCount: count,
      retiredCount: count,
    }),
  ),
  /** In version order: the newest entry of a clientUserId is its last. */
  users: z.array(
    z.object({
      entryId: z.string().min(1),
      clientUserId: z.string().min(1),
      userId: z.string(),
      email: z.string().optional(),
      managedAppleId: z.string().optional(),
      inviteCode: z.string().optional(),
      idHash: z.string().optional(),
      status: z.enum(['Registered', 'Associated', 'Retired']),
      versionId: changeNumber,
    }),
  ),
  assignments: z.array(z.object({ adamId: z.string().min(1), pricingParam: z.string().min(1), clientUserId: z.string().min(1), versionId: changeNumber })),
  version: changeNumber,
  changed: z.object({ assets: changeNumber, users: changeNumber, assignments: changeNumber }),
  versionIds: z.array(z.tuple([changeNumber, z.string().min(1)])),
});

const userInputSchema = z.object({ clientUserId: z.string().min(1), email: z.string().optional(), managedAppleId: z.string().optional() });
const assetSchema = z.object({ adamId: z.string().min(1), pricingParam: z.string().min(1) });

const eventSchema = z.object({
  eventId: z.string().min(1),
  orgId: z.string().min(1),
  eventType: z.enum(['ASSOCIATE', 'DISASSOCIATE', 'CREATE', 'UPDATE', 'RETIRE']),
  numRequested: count,
  completeAt: z.number(),
  work: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('users'), eventType: z.enum(['CREATE', 'UPDATE', 'RETIRE']), users: z.array(userInputSchema) }),
      z.object({ kind: z.literal('associate'), assets: z.array(assetSchema), clientUserIds: z.array(z.string().min(1)) }),
    ])
    .optional(),
  failures: z.array(
    z.object({
      errorNumber: z.number().int(),
      errorMessage: z.string(),
      errorInfo: z.object({ clientUserIds: z.array(z.string()).optional(), assets: z.array(assetSchema).optional() }),
    }),
  ),
  numCompleted: count,
  done: z.boolean(),
});

const stateFileSchema = z
  .object({
    format: z.literal(1),
    savedAt: z.string(),
    organisations: z.array(organisationSchema),
    tokens: z.array(z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), orgId: z.string().min(1), expiresAt: z.iso.datetime({ offset: true }), revoked: z.boolean() })),
    events: z.array(eventSchema),
  })
  .superRefine((file, ctx) => {
    const orgIds = new Set(file.organisations.map((o) => o.id));
    file.tokens.forEach((t, i) => {
      if (!orgIds.has(t.orgId)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'orgId'], message: 'names no organisation of the file' });
    });
    file.events.forEach((e, i) => {
      if (!orgIds.has(e.orgId)) ctx.addIssue({ code: 'custom', path: ['events', i, 'orgId'], message: 'names no organisation of the file' });
    });
  });
type SandboxStateFile = z.infer<typeof stateFileSchema>;

function toStateFile(state: SandboxState): SandboxStateFile {
  return {
    format: 1,
    savedAt: new Date().toISOString(),
    organisations: [...state.organisations.values()].map((org) => ({
      id: org.id,
      orgName: org.orgName,
      locationName: org.locationName,
      countryISO2ACode: org.countryISO2ACode,
      uId: org.uId,
      defaultPlatform: org.defaultPlatform,
      mdmInfo: org.mdmInfo,
      books: [...org.books.values()],
      users: [...org.users.values()],
      assignments: [...org.assignments.values()],
      version: org.version,
      changed: org.changed,
      versionIds: [...org.versionIds.entries()],
    })),
    tokens: [...state.sealedTokens()].map(([sha256, t]) => ({ sha256, orgId: t.orgId, expiresAt: t.expiresAt.toISOString(), revoked: t.revoked })),
    events: [...state.events.values()],
  };
}

function fromStateFile(file: SandboxStateFile, options: SandboxStateOptions): SandboxState {
  const state = new SandboxState(options);
  for (const saved of file.organisations) {
    const org: SandboxOrganisation = {
      ...saved,
      mdmInfo: saved.mdmInfo,
      books: new Map(saved.books.map((b) => [`${b.adamId}|${b.pricingParam}`, b])),
      users: new Map(saved.users.map((u) => [u.entryId, u])),
      // Entries are in version order, so the last one of a clientUserId is its newest.
      latestUser: new Map(saved.users.map((u) => [u.clientUserId, u.entryId])),
      assignments: new Map(saved.assignments.map((a) => [assignmentKey(a.adamId, a.pricingParam, a.clientUserId), a])),
      changed: { ...saved.changed },
      versionIds: new Map(saved.versionIds),
      versionNumbers: new Map(saved.versionIds.map(([number, id]) => [id, number])),
    };
    state.organisations.set(org.id, org);
  }
  for (const { sha256, orgId, expiresAt, revoked } of file.tokens) state.addSealedToken(sha256, { orgId, expiresAt: new Date(expiresAt), revoked });
  for (const event of file.events) state.events.set(event.eventId, { ...event, work: event.work });
  return state;
}

export interface LoadedSandboxState {
  /** The saved state, or undefined to start from the demo data (no file yet, or an unreadable one). */
  state: SandboxState | undefined;
  /** False when an unreadable file could not be moved aside: saving would overwrite it. */
  canSave: boolean;
}

/**
 * Reads a saved state. A file that cannot be read, is not JSON or does not match the schema does not stop
 * the start: it is renamed `<file>.unreadable-<time>` and the sandbox starts from the demo data.
 */
export async function loadSandboxState(file: string, options: SandboxStateOptions, logger?: Logger): Promise<LoadedSandboxState> {
  let reason: string;
  try {
    const parsed = stateFileSchema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
    if (parsed.success) {
      const state = fromStateFile(parsed.data, options);
      logger?.info({ file, organisations: state.organisations.size }, 'Apple sandbox state restored');
      return { state, canSave: true };
    }
    reason = `it does not match the expected shape (${describeStateFileIssues(parsed.error)})`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: undefined, canSave: true };
    reason = err instanceof SyntaxError ? 'it is not JSON' : `it could not be read (${code ?? 'error'})`;
  }
  const canSave = await moveStateFileAside(file, reason, logger, {
    moved: 'Apple sandbox state unreadable; starting from the demo data, the old file is kept aside',
    notMoved: 'Apple sandbox state unreadable and could not be moved aside; starting from the demo data and not saving over it',
  });
  return { state: undefined, canSave };
}

/**
 * Writes the state when it changed, atomically (a temporary file, then a rename), one write at a time.
 * Callers that come while a write is waiting share it: it takes the state as it is when it starts.
 */
export class SandboxStateSaver {
  #savedRevision = -1;
  #writing: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;

  constructor(
    private readonly state: SandboxState,
    private readonly file: string,
    private readonly logger?: Logger,
  ) {}

  /** Counts the state as it is now as saved (it was just read from the file). */
  markSaved(): void {
    this.#savedRevision = this.state.revision;
  }

  /**
   * Resolves once the current state is on disk. A failed write is logged, not thrown: the sandbox keeps
   * answering, and the next save tries again. `force` writes even without a recorded change (on close,
   * for changes tests make to the state's objects directly).
   */
  save(options: { force?: boolean } = {}): Promise<void> {
    if (!options.force && this.state.revision === this.#savedRevision && !this.#queued) return this.#writing;
    if (this.#queued && !options.force) return this.#queued;
    const queued = this.#writing.then(async () => {
      if (this.#queued === queued) this.#queued = undefined;
      const revision = this.state.revision;
      if (!options.force && revision === this.#savedRevision) return;
      try {
        const text = JSON.stringify(toStateFile(this.state));
        await fs.mkdir(path.dirname(this.file), { recursive: true });
        const temp = `${this.file}.${process.pid}.tmp`;
        await fs.writeFile(temp, text, { mode: 0o600 });
        await fs.rename(temp, this.file);
        this.#savedRevision = revision;
      } catch (err) {
        warnAboutStateFile(this.logger, { file: this.file, code: (err as NodeJS.ErrnoException).code }, 'Apple sandbox state could not be saved');
      }
    });
    this.#queued = queued;
    this.#writing = queued;
    return queued;
  }
}
