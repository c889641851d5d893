import { parseArgs } from 'node:util';
import { startAppleSandbox } from './AppleSandboxServer';

/**
 * Runs the Apple sandbox on its own: `node --import tsx services/apple/sandbox/cli.ts --port 4010`.
 * Prints one JSON line with its URLs once listening, so a parent process (benchmarks, e2e) can read it.
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
  });
  process.stdout.write(`${JSON.stringify({ baseUrl: sandbox.baseUrl, metadataUrl: sandbox.metadataUrl, origin: sandbox.origin })}\n`);
  const stop = (): void => {
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
