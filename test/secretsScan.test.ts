import { strict as assert } from 'node:assert';
import { SecretsLedger, secretsLedger } from './support/secretsLedger';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../local/appleSandbox/demoData';
import { SandboxState } from '../local/appleSandbox/SandboxState';

function describeLeaks(ledger: SecretsLedger): string {
  return ledger
    .findLeaks()
    .map((l) => `${l.source} holds the token starting ${l.secretPrefix}`)
    .join('\n');
}

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

  it('no log line, chat reply or stored document so far holds a token', () => {
    assert.equal(describeLeaks(secretsLedger), '');
  });
});

// A root-level hook: it runs once after every test file of the run, whichever order mocha loaded them in,
// so outputs recorded by files that ran after this one are scanned too.
after(function () {
  const leaks = describeLeaks(secretsLedger);
  if (leaks) throw new Error(`token values leaked into test outputs (${secretsLedger.outputCount} outputs scanned):\n${leaks}`);
});
