import { strict as assert } from 'node:assert';
import type { AddressInfo } from 'node:net';
import restify from 'restify';
import { registerExportRoute } from '../../bot/exportRoute';
import { csvField, exportIdOf, newExportSecret, productionPublicBaseUrl, redactExportPath, unreachableCsv, unreachableCsvFileName } from '../../bot/memberExports';
import { ConfigError } from '../../services/errors';
import type { MemberNotice } from '../../services/store/entities/memberNotice';
import { capturingLogger } from '../support/logCapture';

function notice(displayName: string, overrides: Partial<MemberNotice> = {}): MemberNotice {
  return {
    id: displayName,
    tokenId: 't',
    tenantId: 'tenant',
    runId: 'r',
    kind: 'invited',
    member: { clientUserId: displayName, displayName, mail: `${displayName.split(' ')[0]?.toLowerCase() ?? 'x'}@example.org` },
    invitationUrl: 'https://vpp.example/invite?code=1,2',
    book: { adamId: '1', pricingParam: 'STDQ', title: 'Emma' },
    requestedBy: { aadObjectId: 'a' },
    state: 'unreachable',
    attempts: 0,
    reason: 'Teams said "no".',
    createdDateTime: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('the unreachable members CSV', () => {
  it('quotes what needs quoting, keeps spreadsheets from running formulas, and opens in Excel (BOM, CRLF)', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
    const csv = unreachableCsv([notice('Zoë Lee'), notice('Bob, Jr.', { invitationUrl: undefined, member: { clientUserId: 'b', displayName: 'Bob, Jr.' } })]);
    assert.ok(csv.startsWith('\uFEFFname,e-mail,invitation link,reason\r\n'));
    assert.equal(
      csv.slice(1),
      'name,e-mail,invitation link,reason\r\n' + 'Zoë Lee,zoë@example.org,"https://vpp.example/invite?code=1,2","Teams said ""no""."\r\n' + '"Bob, Jr.",,,"Teams said ""no""."\r\n',
    );
  });

  it('names the file after the book in plain ASCII', () => {
    assert.equal(unreachableCsvFileName('Les Misérables: Tome 1', new Date('2026-03-04T10:00:00Z')), 'unreachable-members-les-miserables-tome-1-2026-03-04.csv');
    assert.equal(unreachableCsvFileName('!!!', new Date('2026-03-04T10:00:00Z')), 'unreachable-members-book-2026-03-04.csv');
  });

  it('link secrets are 256 random bits; only their hash is stored; logs never carry them', () => {
    const a = newExportSecret();
    const b = newExportSecret();
    assert.match(a.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.secret, b.secret);
    assert.equal(a.id, exportIdOf(a.secret));
    assert.ok(!a.id.includes(a.secret));
    assert.equal(redactExportPath(`/api/exports/${a.secret}?x=1`), '/api/exports/[redacted]?x=1');
    assert.equal(redactExportPath('/api/messages'), '/api/messages');
  });

  it('production links use BOT_HOSTNAME, else App Service\'s WEBSITE_HOSTNAME; a URL instead of a host stops start-up', () => {
    assert.equal(productionPublicBaseUrl({ BOT_HOSTNAME: 'bot.contoso.com', WEBSITE_HOSTNAME: 'x.azurewebsites.net' }), 'https://bot.contoso.com');
    assert.equal(productionPublicBaseUrl({ WEBSITE_HOSTNAME: 'x.azurewebsites.net' }), 'https://x.azurewebsites.net');
    assert.equal(productionPublicBaseUrl({}), undefined);
    assert.throws(() => productionPublicBaseUrl({ BOT_HOSTNAME: 'https://bot.contoso.com/' }), ConfigError);
  });
});

describe('GET /api/exports/<secret> over HTTP', () => {
  const { logger, lines } = capturingLogger('debug');
  const { secret } = newExportSecret();
  let base = '';
  let server: restify.Server;
  let failing = false;

  before(async () => {
    server = restify.createServer({ handleUncaughtExceptions: false });
    registerExportRoute(
      server,
      {
        exportCsv: (s) => {
          if (failing) return Promise.reject(new Error('Cosmos is down'));
          return Promise.resolve(s === secret ? { fileName: 'unreachable-members-emma-2026-01-01.csv', csv: unreachableCsv([notice('Ann')]) } : undefined);
        },
      },
      logger,
      { perClient: 5, total: 7, windowMs: 60_000 },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('serves the CSV as an attachment that is not cached; unknown, malformed and failing links give nothing away', async () => {
    const ok = await fetch(`${base}/api/exports/${secret}`, { headers: { 'x-forwarded-for': '198.51.100.1:5555' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(ok.headers.get('content-disposition'), 'attachment; filename="unreachable-members-emma-2026-01-01.csv"');
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(ok.headers.get('referrer-policy'), 'no-referrer');
    // Read as bytes: text() would drop the byte order mark that Excel needs.
    assert.match(Buffer.from(await ok.arrayBuffer()).toString('utf8'), /^\uFEFFname,e-mail,invitation link,reason\r\nAnn,/);

    for (const path of [`/api/exports/${'A'.repeat(43)}`, '/api/exports/short', `/api/exports/${secret}/more`]) {
      const res = await fetch(`${base}${path}`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), 'This download link is unknown or has expired.');
    }
    failing = true;
    const down = await fetch(`${base}/api/exports/${secret}`, { headers: { 'x-forwarded-for': '198.51.100.2' } });
    failing = false;
    assert.equal(down.status, 503);
    assert.ok(!lines.some((l) => l.includes(secret)), 'never logged');
  });

  it('limits requests per client and in all, with Retry-After', async () => {
    // 198.51.100.1 used 4 of its 5 above (the same client with or without a port), everyone 5 of 7.
    const one = await fetch(`${base}/api/exports/${secret}`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    assert.equal(one.status, 200);
    const limited = await fetch(`${base}/api/exports/${secret}`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await fetch(`${base}/api/exports/${secret}`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200, 'another client still may');
    assert.equal((await fetch(`${base}/api/exports/${secret}`, { headers: { 'x-forwarded-for': '203.0.113.10' } })).status, 429, 'but not past the total');
  });
});
