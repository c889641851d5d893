import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../services/logging/logger';

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
  /** A Playground config file (YAML) naming another signed-in user; the built-in one is Alex Wilber. */
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
    [cli, 'start', '-e', `${options.botUrl}/api/messages`, '-c', 'msteams', '-p', String(options.port), '--dt'],
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

/**
 * The Playground's built-in configuration with Megan Bowen signed in instead of Alex Wilber: a second
 * chat window in which local mode's other approver can approve Alex's assignment requests.
 */
export function secondUserPlaygroundConfig(): string {
  // The Playground insists on exactly five other users.
  const users = [
    ['user-id-0', 'Alex', 'Wilber', 'alexw', '20'],
    ['user-id-2', 'Adele', 'Vance', 'adelev', '22'],
    ['user-id-3', 'Isaiah', 'Langer', 'isaiahl', '23'],
    ['user-id-4', 'Patti', 'Fernandez', 'pattif', '24'],
    ['user-id-5', 'Lynne', 'Robbins', 'lynner', '25'],
  ]
    .map(
      ([id, given, surname, alias, n]) =>
        `  - id: ${id}\n    name: ${given} ${surname}\n    userPrincipleName: ${alias}@example.com\n    aadObjectId: 00000000-0000-0000-0000-00000000000${n}\n    givenName: ${given}\n    surname: ${surname}\n    email: ${alias}@example.com`,
    )
    .join('\n');
  return `version: "0.1.1"
tenantId: 00000000-0000-0000-0000-0000000000001
bot:
  id: 00000000-0000-0000-0000-00000000000011
  name: Test Bot
currentUser:
  id: user-id-1
  name: Megan Bowen
  userPrincipleName: meganb@example.com
  aadObjectId: 00000000-0000-0000-0000-0000000000021
  givenName: Megan
  surname: Bowen
  email: meganb@example.com
users:
${users}
personalChat:
  id: megan-personal-chat
groupChat:
  id: megan-group-chat
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
