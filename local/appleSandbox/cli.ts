import { parseArgs } from 'node:util';
import { announceAndServe, runMain } from '../announceAndServe';
import { startAppleSandbox } from './AppleSandboxServer';

/**
 * Runs the Apple sandbox on its own: `node --import tsx local/appleSandbox/cli.ts --port 4010`.
 * Prints one JSON line with its URLs once listening and stops when stdin closes or on SIGTERM/SIGINT.
 * In memory unless `--state-file <path>` names a file to keep the state in across runs.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'page-size': { type: 'string' },
      'event-delay-ms': { type: 'string' },
      'latency-ms': { type: 'string' },
      'no-demo': { type: 'boolean', default: false },
      'state-file': { type: 'string' },
    },
  });
  const number = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
  const sandbox = await startAppleSandbox({
    port: number(values.port),
    host: values.host,
    pageSize: number(values['page-size']),
    eventDelayMs: number(values['event-delay-ms']),
    latencyMs: number(values['latency-ms']),
    seedDemoData: !values['no-demo'],
    stateFile: values['state-file'],
  });
  announceAndServe({ baseUrl: sandbox.baseUrl, metadataUrl: sandbox.metadataUrl, origin: sandbox.origin }, () => sandbox.close());
}

runMain(main);
