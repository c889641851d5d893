import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApplication, type RunningApplication } from '../../bot/application';
import { loadConfig } from '../../services/config/config';
import { DEMO_GROUPS, DEMO_USERS } from '../../local/directory';
import { startLocalDirectory, type RunningLocalDirectory } from '../../local/directory/LocalDirectoryServer';
import { capturingLogger } from './logCapture';
import { FakeConnector, cardText, type CapturedActivity } from './FakeConnector';
import { PlaygroundChats, click, refOf, type ChatUser } from './PlaygroundChats';

/** The documented Azure setup's admins: the Library Staff group (Patti asks, Lynne approves). */
export const PATTI: ChatUser = { id: '29:patti', name: 'Patti Fernandez', aadObjectId: DEMO_USERS.pattiFernandez };
export const LYNNE: ChatUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: DEMO_USERS.lynneRobbins };

/**
 * The whole bot over HTTP as the documented Azure setup runs it: BOT_ADMIN_GROUP_ID only, a local directory
 * playing Graph (Managed Apple Accounts in extensionAttribute1), Teams played by a fake connector. Call
 * `start()` in `before` and `stop()` in `after`.
 */
export class LibraryStaffApp {
  readonly connector = new FakeConnector();
  directory!: RunningLocalDirectory;
  app: RunningApplication | undefined;
  readonly chats = new PlaygroundChats(this.connector, () => this.app?.url ?? '');
  private dataDir = '';

  /** `backend`: who holds the tokens (VPP_BACKEND); Intune mode runs the local Intune too. `env`: more settings, applied last. */
  constructor(private readonly options: { backend?: 'apple' | 'intune'; env?: NodeJS.ProcessEnv } = {}) {}

  async start(): Promise<this> {
    const { logger } = capturingLogger('warn');
    await this.connector.start();
    this.directory = await startLocalDirectory({ port: 0, studentCount: 200 });
    this.dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-library-staff-'));
    this.app = await startApplication(
      loadConfig({
        PORT: '0',
        LOCAL_DATA_DIR: this.dataDir,
        APPLE_STATUS_POLL_INTERVAL_MS: '20',
        GRAPH_BASE_URL: this.directory.baseUrl,
        PLAYGROUND_ENABLED: 'false',
        BOT_ADMIN_GROUP_ID: DEMO_GROUPS.libraryStaff,
        GRAPH_MANAGED_APPLE_ID_ATTRIBUTE: 'extensionAttribute1',
        // Tests poll `status` in a loop, faster than a person would type.
        RATE_LIMIT_USER_PER_MINUTE: '0',
        RATE_LIMIT_CONVERSATION_PER_MINUTE: '0',
        VPP_BACKEND: this.options.backend ?? 'apple',
        INTUNE_SYNC_POLL_INTERVAL_MS: '50',
        ...this.options.env,
      }),
      logger,
    );
    return this;
  }

  async stop(): Promise<void> {
    await this.app?.stop();
    await this.directory?.close();
    await this.connector.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** The chat the bot started with someone (it installed itself for them through Graph). */
  chatWith(aadObjectId: string): string | undefined {
    return this.connector.created.find((c) => JSON.stringify(c.parameters.members).includes(aadObjectId))?.id;
  }

  inChatOf(user: ChatUser): (a: CapturedActivity) => boolean {
    return (a) => a.conversation?.id === `chat-${user.aadObjectId}`;
  }

  /**
   * Patti asks for Emma for the English Department with `intent`, and Lynne approves on the card in the chat
   * the bot started with her; resolves with the requester's "Finished assigning" message. `onIntentCard` and
   * `onPreview` look at the cards on the way.
   */
  async assignEmmaToEnglish(intent: 'required' | 'available', look: { onIntentCard?: (card: CapturedActivity) => void; onPreview?: (card: CapturedActivity) => void } = {}): Promise<CapturedActivity> {
    const { chats, connector } = this;
    await chats.say(PATTI, 'assign', (a) => /Which \*\*book\*\*/.test(String(a.text)));
    await chats.say(PATTI, 'emma', (a) => /Which \*\*user group\*\*/.test(String(a.text)));
    let card = await chats.say(PATTI, 'English Department', (a) => cardText(a).includes('"ref"'));
    if (cardText(card).includes('Which group do you mean')) card = await chats.say(PATTI, click(DEMO_GROUPS.englishDepartment, refOf(card)), (a) => cardText(a).includes('"ref"'));
    card = await chats.say(PATTI, click('continue', refOf(card)), (a) => /Required\*\* or \*\*Available/.test(cardText(a)));
    look.onIntentCard?.(card);
    const preview = await chats.say(PATTI, click(intent, refOf(card)), (a) => cardText(a).includes('Request approval'));
    look.onPreview?.(preview);
    await chats.say(PATTI, click('request', refOf(preview)), (a) => /^Sent for approval/.test(String(a.text)));
    const lynneChat = this.chatWith(LYNNE.aadObjectId);
    const approvalCard = await connector.waitFor((a) => a.conversation?.id === lynneChat && cardText(a).includes('"verb":"approve"'));
    const approvalId = /"approvalId":"([^"]+)"/.exec(cardText(approvalCard))?.[1] ?? '';
    const finished = connector.waitForNext((a) => this.inChatOf(PATTI)(a) && /^Finished assigning "Emma"/.test(String(a.summary ?? a.text)), 60_000);
    await chats.approveAs(LYNNE, approvalId, String(lynneChat));
    return finished;
  }
}
