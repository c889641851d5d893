import { strict as assert } from 'node:assert';
import net from 'node:net';
import { isLoopbackAddress, isPublicAddress, nodeTransport, type PinnedTarget, type TransportResponse } from '../../../services/tokens/fileDownload';
import { loadConfig } from '../../../services/config/config';
import { ConfigError } from '../../../services/errors';
import { FileServer } from '../../support/FileServer';

describe('file download address checks', () => {
  const internal = [
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.5',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.10',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '224.0.0.251',
    '239.255.255.250',
    '255.255.255.255',
    '198.18.0.1',
    '192.0.2.1',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.5',
    '::ffff:169.254.169.254',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    'fec0::1',
    '64:ff9b::7f00:1',
    '64:ff9b::169.254.169.254',
    '2002:7f00:1::1',
    '2001::1',
    '2001:db8::1',
    'not an address',
  ];
  for (const address of internal) {
    it(`treats ${address} as not public`, () => assert.equal(isPublicAddress(address), false));
  }

  const publicAddresses = ['13.107.136.9', '52.104.0.1', '172.32.0.1', '11.0.0.1', '192.169.0.1', '100.128.0.1', '2603:1036:2405::9', '2620:1ec:8f8::10', '::ffff:13.107.136.9', '64:ff9b::d6b:8809'];
  for (const address of publicAddresses) {
    it(`treats ${address} as public`, () => assert.equal(isPublicAddress(address), true));
  }

  it('knows loopback in all its spellings, and nothing else', () => {
    for (const address of ['127.0.0.1', '127.8.8.8', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackAddress(address), true, address);
    for (const address of ['10.0.0.1', '::', '::2', 'fe80::1', '128.0.0.1', '::ffff:10.0.0.1']) assert.equal(isLoopbackAddress(address), false, address);
  });
});

async function text(response: TransportResponse): Promise<string> {
  assert.equal(response.status, 200);
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

describe('file download transport', () => {
  const files = new FileServer();
  before(() => files.start());
  after(() => files.stop());

  it('connects to the checked address, not to whatever the name resolves to now', async () => {
    let host: string | undefined;
    files.routes.set('/pinned', (req, res) => {
      host = req.headers.host;
      res.end('pinned');
    });
    const port = new URL(files.url).port;
    // `.invalid` never resolves (RFC 2606): the request can only arrive through the pinned address.
    const response = await nodeTransport({ url: new URL(`http://files.invalid:${port}/pinned`), addresses: [{ address: '127.0.0.1', family: 4 }] }, new AbortController().signal);
    assert.equal(await text(response), 'pinned');
    assert.equal(host, `files.invalid:${port}`, 'the server still sees the real host name');
  });

  describe('with several checked addresses', () => {
    const defaultAutoSelect = net.getDefaultAutoSelectFamily();
    afterEach(() => net.setDefaultAutoSelectFamily(defaultAutoSelect));
    // The file server listens on 127.0.0.1 only: ::1 stands for the IPv6 address of a host without an IPv6 route.
    const dualStack = (): PinnedTarget => ({
      url: new URL(`http://files.invalid:${new URL(files.url).port}/dual`),
      addresses: [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    beforeEach(() => files.routes.set('/dual', (_req, res) => res.end('reached')));

    it('falls back to the next one when the first cannot be reached', async () => {
      net.setDefaultAutoSelectFamily(true);
      const response = await nodeTransport(dualStack(), new AbortController().signal);
      assert.equal(await text(response), 'reached');
    });

    it('connects to the first when the client asks for a single address', async () => {
      net.setDefaultAutoSelectFamily(false);
      const target = dualStack();
      await assert.rejects(nodeTransport(target, new AbortController().signal), /ECONNREFUSED|EADDRNOTAVAIL|ENETUNREACH/, 'the first is ::1');
      const response = await nodeTransport({ ...target, addresses: [...target.addresses].reverse() }, new AbortController().signal);
      assert.equal(await text(response), 'reached');
    });
  });
});

describe('TOKEN_DOWNLOAD_HOSTS', () => {
  it('defaults to SharePoint', () => {
    assert.deepEqual(loadConfig({}).tokenDownload.hosts, ['sharepoint.com']);
  });

  it('reads comma-separated host suffixes, tolerating *. and case', () => {
    assert.deepEqual(loadConfig({ TOKEN_DOWNLOAD_HOSTS: ' Contoso-my.SharePoint.com , *.sharepoint.us,' }).tokenDownload.hosts, ['contoso-my.sharepoint.com', 'sharepoint.us']);
  });

  for (const value of ['com', '127.0.0.1', 'https://contoso.sharepoint.com', 'sharepoint.com/path', 'contoso sharepoint.com', ',']) {
    it(`stops start-up on ${JSON.stringify(value)} naming the variable`, () => {
      assert.throws(
        () => loadConfig({ TOKEN_DOWNLOAD_HOSTS: value }),
        (err: unknown) => err instanceof ConfigError && /TOKEN_DOWNLOAD_HOSTS/.test(err.message),
      );
    });
  }
});
