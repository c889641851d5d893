import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SecretsLedger, answersScanned, secretsLedger, type OutputPlace } from './support/secretsLedger';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../local/appleSandbox/demoData';
import { SandboxState } from '../local/appleSandbox/SandboxState';
import { startApplication } from '../bot/application';
import { loadConfig } from '../services/config/config';
import { capturingLogger } from './support/logCapture';
import { FakeConnector, teamsMessage } from './support/FakeConnector';

function describeLeaks(ledger: SecretsLedger): string {
  return ledger
    .findLeaks()
    .map((l) => `${l.source} holds the token starting ${l.secretPrefix}`)
    .join('\n');
}

/** The places every run of this file feeds (a bot process's output only when a test starts one). */
const IN_PROCESS_PLACES: OutputPlace[] = ['log line', 'chat reply', 'HTTP answer', 'stored document'];

describe('secrets scan over everything the suite produced', () => {
  it('knows the demo tokens and every token the sandbox mints', () => {
    const ledger = new SecretsLedger();
    ledger.registerSecret(DEMO_TOKEN_FILES['demo-valid.vpptoken']);
    assert.equal(ledger.secretCount, 2, 'the file content and its inner token');

    const before = secretsLedger.secretCount;
    const state = new SandboxState();
    const org = state.addOrganisation({ orgName: 'Ledger Test Org' });
    state.mintToken(org);
    assert.equal(secretsLedger.secretCount, before + 2, 'a minted token file and its inner token are registered');
  });

  it('finds a token in an output, and only the token (the detector itself works)', () => {
    const ledger = new SecretsLedger();
    ledger.registerSecret(DEMO_TOKENS.valid.token);
    ledger.record('log line', '{"msg":"harmless"}');
    ledger.record('chat reply', { text: `oops ${DEMO_TOKENS.valid.token}` });
    assert.deepEqual(
      ledger.findLeaks().map((l) => l.source),
      ['chat reply'],
    );
    assert.ok(!describeLeaks(ledger).includes(DEMO_TOKENS.valid.token), 'the report names a prefix, not the token');
  });

  it('finds a token at the very start or end of a long output, and not its first characters alone', () => {
    const ledger = new SecretsLedger();
    const token = randomBytes(48).toString('base64');
    ledger.registerSecret(token);
    const filler = 'x'.repeat(10_000);
    ledger.record('stored document', token + filler, 'start');
    ledger.record('stored document', filler + token, 'end');
    ledger.record('stored document', token, 'whole');
    ledger.record('stored document', filler + token.slice(0, -1), 'all but the last character');
    ledger.record('log line', token.slice(0, 20));
    assert.deepEqual(
      ledger.findLeaks().map((l) => l.source),
      ['stored document start', 'stored document end', 'stored document whole'],
    );
    assert.equal(ledger.outputCount, 5);
  });

  it('scans every place it claims while the bot runs: logs, chat replies and invoke answers, HTTP answers, stored documents', async function () {
    this.timeout(60_000);
    const seen = {
      orgName: secretsLedger.watch('Northwind Academy'),
      listening: secretsLedger.watch('"msg":"bot listening"'),
      refusedClick: secretsLedger.watch('That action is not one this bot offers'),
      unknownLink: secretsLedger.watch('This download link is unknown or has expired'),
    };
    const connector = new FakeConnector();
    const { logger } = capturingLogger('info');
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vpp-secrets-scan-'));
    await connector.start();
    const app = await startApplication(loadConfig({ PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'info' }), logger);
    try {
      const say = async (text: string) => {
        const response = await fetch(`${app.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(teamsMessage(connector.url, text)) });
        assert.equal(response.status, 200, text.slice(0, 40));
      };
      // The demo token goes through the upload flow: a secret the bot holds, with replies, logs and documents around it.
      for (const text of ['upload token', DEMO_TOKEN_FILES['demo-valid.vpptoken'], 'vpp-admin@northwind.example', 'education', 'save']) await say(text);
      assert.ok(connector.activities.some((a) => /^Saved \*\*Northwind Academy/.test(String(a.text))), 'the token was saved');
      const click = await fetch(`${app.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...teamsMessage(connector.url, ''), type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'forged' } } }),
      });
      assert.equal(click.status, 200);
      const download = await fetch(`${app.url}/api/exports/${randomBytes(32).toString('base64url')}`);
      assert.equal(download.status, 404);
      await answersScanned();
    } finally {
      await app.stop();
      await connector.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
    assert.deepEqual([...seen.orgName.seenIn()].filter((p) => p === 'chat reply' || p === 'stored document').sort(), ['chat reply', 'stored document']);
    assert.ok(seen.listening.seenIn().has('log line'), 'log lines are scanned');
    assert.ok(seen.refusedClick.seenIn().has('HTTP answer'), 'invoke answers on /api/messages are scanned');
    assert.ok(seen.refusedClick.seenIn().has('chat reply'), 'invoke answers are scanned as the turn sends them');
    assert.ok(seen.unknownLink.seenIn().has('HTTP answer'), 'answers on /api/exports (the exported CSVs) are scanned');
  });

  it('had tokens to look for and outputs of every place, and no log line, chat reply, HTTP answer or stored document so far holds a token', () => {
    // The demo tokens (file and inner token each) at least; an empty ledger would find nothing anywhere.
    assert.ok(secretsLedger.secretCount >= 2 * Object.keys(DEMO_TOKEN_FILES).length, `${secretsLedger.secretCount} secrets known`);
    for (const place of IN_PROCESS_PLACES) assert.ok(secretsLedger.countOf(place) > 0, `${place}: nothing scanned`);
    assert.equal(describeLeaks(secretsLedger), '');
  });
});

// The leak check after every spec is test/support/secretsRootHooks.ts, a root hook plugin, so it also
// covers the workers of a parallel run.
