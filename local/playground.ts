import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../services/logging/logger';

/** Makes the Playground, which has no host option, listen on 127.0.0.1 only (see the file). */
const LOOPBACK_ONLY = path.join(__dirname, 'loopbackOnly.cjs');

export interface RunningPlayground {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the Microsoft 365 Agents Playground as a child process pointed at the bot. It is the local
 * Teams client: renders cards, runs Universal Actions and serves a fake connector for proactive sends.
 */
export async function startPlayground(options: {
  botUrl: string;
  port: number;
  logger: Logger;
  timeoutMs?: number;
  /** A Playground config file (YAML, see playgroundConfig); without it the Playground's built-in one, with a new chat each start. */
  configFile?: string;
}): Promise<RunningPlayground> {
  let cli: string;
  try {
    cli = require.resolve('@microsoft/m365agentsplayground/cli.js');
  } catch {
    throw new Error('The Agents Playground is not installed (it is a devDependency): run `npm ci` without --omit=dev, or set PLAYGROUND_ENABLED=false.');
  }
  const child: ChildProcess = spawn(
    process.execPath,
    ['--require', LOOPBACK_ONLY, cli, 'start', '-e', `${options.botUrl}/api/messages`, '-c', 'msteams', '-p', String(options.port), '--dt'],
    {
      env: {
        ...process.env,
        TEAMSAPPTESTER_BROWSER: 'none',
        BROWSER: 'none',
        ...(options.configFile ? { M365_AGENTS_PLAYGROUND_CONFIG_PATH: options.configFile } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The Agents Playground did not start within the time limit')), options.timeoutMs ?? 60_000);
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The playground falls back to a random port when the asked one is taken: read the real one.
      const match = /Listening on (\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => options.logger.debug({ playground: chunk.toString().trim() }, 'playground stderr'));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The Agents Playground exited early (code ${code ?? 'null'}): ${output.trim().slice(-300)}`));
    });
  });

  // It validates its configuration after it starts listening, and exits when that fails.
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) options.logger.error({ code, port }, 'the Agents Playground stopped (check its configuration)');
  });
  return {
    url: `http://localhost:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** The Playground's built-in users (its default configuration signs in the first, Alex Wilber). */
const PLAYGROUND_USERS = [
  { id: 'user-id-0', given: 'Alex', surname: 'Wilber', alias: 'alexw', n: '20' },
  { id: 'user-id-1', given: 'Megan', surname: 'Bowen', alias: 'meganb', n: '21' },
  { id: 'user-id-2', given: 'Adele', surname: 'Vance', alias: 'adelev', n: '22' },
  { id: 'user-id-3', given: 'Isaiah', surname: 'Langer', alias: 'isaiahl', n: '23' },
  { id: 'user-id-4', given: 'Patti', surname: 'Fernandez', alias: 'pattif', n: '24' },
  { id: 'user-id-5', given: 'Lynne', surname: 'Robbins', alias: 'lynner', n: '25' },
] as const;

type PlaygroundUserId = (typeof PLAYGROUND_USERS)[number]['id'];

/** The name the bot has in the Playground's chats (the app manifest's short name). */
export const PLAYGROUND_BOT_NAME = 'VPP Books';

/**
 * Local mode's chat windows, one Playground each: Alex Wilber, the admin; Megan Bowen, the other approver
 * who approves Alex's assignment requests; Adele Vance, an English teacher who is no admin, to show what
 * members see (`help`, `my books` and its Get button).
 */
const WINDOW_USERS = { alex: 'user-id-0', megan: 'user-id-1', adele: 'user-id-2' } as const satisfies Record<string, PlaygroundUserId>;
export type PlaygroundWindow = keyof typeof WINDOW_USERS;

/**
 * The id of a window's personal chat with the bot. The Playground keeps no chats of its own: each start
 * opens the one its configuration names. Fixed per window and data folder, so after a restart the chat is
 * the same conversation to the bot and a flow in progress goes on, while another data folder (another
 * store) gets conversations of its own.
 */
export function playgroundChatId(window: PlaygroundWindow, dataDir: string): string {
  // The data folder's path stands for it, as in the instance id (services/config).
  const folder = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return `${window}-personal-chat-${folder}`;
}

/**
 * The Playground's built-in configuration for one window: its user signed in, the bot named VPP Books and
 * the personal chat of `playgroundChatId`. Each window has its own chats, so they never meet.
 */
export function playgroundConfig(window: PlaygroundWindow, dataDir: string): string {
  const yaml = (u: (typeof PLAYGROUND_USERS)[number], indent: string, first: string) =>
    [
      `${first}id: ${u.id}`,
      `name: ${u.given} ${u.surname}`,
      `userPrincipleName: ${u.alias}@example.com`,
      `aadObjectId: 00000000-0000-0000-0000-00000000000${u.n}`,
      `givenName: ${u.given}`,
      `surname: ${u.surname}`,
      `email: ${u.alias}@example.com`,
    ].join(`\n${indent}`);
  const current = PLAYGROUND_USERS.find((u) => u.id === WINDOW_USERS[window]) ?? PLAYGROUND_USERS[0];
  // The Playground insists on exactly five other users.
  const users = PLAYGROUND_USERS.filter((u) => u.id !== current.id)
    .map((u) => yaml(u, '    ', '  - '))
    .join('\n');
  const chatId = playgroundChatId(window, dataDir);
  return `version: "0.1.1"
tenantId: 00000000-0000-0000-0000-0000000000001
bot:
  id: 00000000-0000-0000-0000-00000000000011
  name: ${PLAYGROUND_BOT_NAME}
currentUser:
  ${yaml(current, '  ', '')}
users:
${users}
personalChat:
  id: ${chatId}
groupChat:
  id: ${chatId.replace('-personal-chat-', '-group-chat-')}
  name: Group Chat
team:
  id: team-id
  name: My Team
  aadGroupId: 00000000-0000-0000-0000-000000000031
  channels:
    - id: channel-announcements-id
      name: Announcements
`;
}
