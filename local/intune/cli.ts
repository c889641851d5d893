import { parseArgs } from 'node:util';
import { announceAndServe, runMain } from '../announceAndServe';
import { startLocalIntune } from './LocalIntuneServer';

/**
 * Runs the local Intune on its own, next to a running Apple sandbox and local directory:
 * `node --import tsx local/intune/cli.ts --apple-base-url http://127.0.0.1:4010/mdm/v2 --directory-base-url http://127.0.0.1:4020`.
 * Prints one JSON line with its URL once listening and stops when stdin closes or on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'apple-base-url': { type: 'string' },
      'directory-base-url': { type: 'string' },
      'page-size': { type: 'string' },
      'sync-delay-ms': { type: 'string' },
      'install-progress-ms': { type: 'string' },
      'value-envelope': { type: 'boolean', default: false },
      'state-file': { type: 'string' },
    },
  });
  const appleBaseUrl = values['apple-base-url'];
  const directoryBaseUrl = values['directory-base-url'];
  if (!appleBaseUrl || !directoryBaseUrl) throw new Error('--apple-base-url and --directory-base-url are required');
  const number = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
  const intune = await startLocalIntune({
    appleBaseUrl,
    directoryBaseUrl,
    port: number(values.port),
    host: values.host,
    pageSize: number(values['page-size']),
    syncDelayMs: number(values['sync-delay-ms']),
    installProgressMs: number(values['install-progress-ms']),
    entityEnvelope: values['value-envelope'] ? 'value' : 'odata',
    stateFile: values['state-file'],
  });
  announceAndServe({ baseUrl: intune.baseUrl }, () => intune.stop());
}

runMain(main);
