import { parseArgs } from 'node:util';
import { announceAndServe, runMain } from '../announceAndServe';
import { startLocalDirectory } from './LocalDirectoryServer';
import { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE } from './DirectoryState';
import { DEMO_GROUPS } from './demoData';

/**
 * Runs the local directory on its own: `node --import tsx local/directory/cli.ts --port 4020`.
 * Prints one JSON line with its URL once listening and stops when stdin closes or on SIGTERM/SIGINT.
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
  announceAndServe({ baseUrl: directory.baseUrl, managedAppleIdAttribute: LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, adminGroupId: DEMO_GROUPS.vppBooksAdmins }, () => directory.close());
}

runMain(main);
