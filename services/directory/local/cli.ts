import { parseArgs } from 'node:util';
import { startLocalDirectory } from './LocalDirectoryServer';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE } from './DirectoryState';
import { DEMO_GROUPS } from './demoData';

/**
 * Runs the local directory on its own: `node --import tsx services/directory/local/cli.ts --port 4020`.
 * Prints one JSON line with its URL once listening, so a parent process can read it.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'page-size': { type: 'string' },
      students: { type: 'string' },
    },
  });
  const number = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
  const directory = await startLocalDirectory({
    port: number(values.port),
    host: values.host,
    pageSize: number(values['page-size']),
    studentCount: number(values.students),
  });
  process.stdout.write(`${JSON.stringify({ baseUrl: directory.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, adminGroupId: DEMO_GROUPS.vppBooksAdmins })}\n`);
  const stop = (): void => {
    void directory.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
