import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PRELOAD = path.resolve(__dirname, '../../local/loopbackOnly.cjs');

/**
 * Runs in the child: each entry is the argument list of one listen() call (a callback is appended); prints
 * the address every server got, in order.
 */
const LISTEN_EACH = `
const http = require('node:http');
const net = require('node:net');
(async () => {
  const addresses = [];
  for (const { http: isHttp, args } of JSON.parse(process.argv[1])) {
    const server = isHttp ? http.createServer() : net.createServer();
    await new Promise((resolve, reject) => { server.once('error', reject); server.listen(...args, resolve); });
    addresses.push(server.address().address);
    await new Promise((resolve) => server.close(resolve));
  }
  process.stdout.write(JSON.stringify(addresses));
})().catch((err) => { process.stderr.write(String(err)); process.exit(1); });
`;

interface ListenCall {
  label: string;
  args: unknown[];
  http?: boolean;
}

async function boundAddresses(calls: ListenCall[], preload = true): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, [...(preload ? ['--require', PRELOAD] : []), '-e', LISTEN_EACH, JSON.stringify(calls)], { timeout: 15_000 });
  const addresses = JSON.parse(stdout) as string[];
  return Object.fromEntries(calls.map((call, i) => [call.label, addresses[i]!]));
}

describe('local/loopbackOnly.cjs (the Agents Playground preload)', function () {
  this.timeout(20_000);

  it('binds 127.0.0.1 whether the host is missing or names every interface', async () => {
    const calls: ListenCall[] = [
      { label: 'listen(callback)', args: [] },
      { label: 'listen(0)', args: [0] },
      { label: "listen('0') (port as a string)", args: ['0'] },
      { label: "listen(0, '0.0.0.0')", args: [0, '0.0.0.0'] },
      { label: "listen(0, '::')", args: [0, '::'] },
      { label: "listen(0, '')", args: [0, ''] },
      { label: "listen(0, '::0')", args: [0, '::0'] },
      { label: "listen(0, '0:0:0:0:0:0:0:0')", args: [0, '0:0:0:0:0:0:0:0'] },
      { label: "listen(0, '::ffff:0.0.0.0')", args: [0, '::ffff:0.0.0.0'] },
      { label: "listen(0, '0') (the resolver's 0.0.0.0)", args: [0, '0'] },
      { label: "listen(0, '0.0.0.0', 511)", args: [0, '0.0.0.0', 511] },
      { label: 'listen({ port: 0 })', args: [{ port: 0 }] },
      { label: "listen({ port: 0, host: '::' })", args: [{ port: 0, host: '::' }] },
      { label: "listen({ port: 0, host: '0.0.0.0' })", args: [{ port: 0, host: '0.0.0.0' }] },
      { label: "listen({ port: 0, host: '' })", args: [{ port: 0, host: '' }] },
      { label: "http: listen(0, '::')", args: [0, '::'], http: true },
    ];
    const bound = await boundAddresses(calls);
    for (const { label } of calls) assert.equal(bound[label], '127.0.0.1', label);
  });

  it('leaves a host that names one interface alone', async () => {
    const bound = await boundAddresses([
      { label: 'localhost', args: [0, 'localhost'] },
      { label: 'options', args: [{ port: 0, host: '127.0.0.2' }] },
    ]);
    assert.ok(bound.localhost === '127.0.0.1' || bound.localhost === '::1', `localhost bound ${bound.localhost}`);
    assert.equal(bound.options, '127.0.0.2');
  });

  it('is what makes the difference: without it, 0.0.0.0 means every interface', async () => {
    const bound = await boundAddresses([{ label: 'wildcard', args: [0, '0.0.0.0'] }], false);
    assert.equal(bound.wildcard, '0.0.0.0');
  });
});
