import { secretsLedger } from './secretsLedger';

/**
 * Loaded with --require for every run, so the ledger watches every spec. A root hook: run serially it
 * fires once after all files; in parallel mode once after each file in its worker, so a leak found in
 * any worker fails the run (a hook inside test/secretsScan.test.ts would only see its own worker).
 */
export const mochaHooks = {
  afterAll(): void {
    const leaks = secretsLedger.findLeaks();
    if (leaks.length === 0) return;
    const report = leaks.map((l) => `${l.source} holds the token starting ${l.secretPrefix}`).join('\n');
    throw new Error(`token values leaked into test outputs (${secretsLedger.outputCount} outputs scanned):\n${report}`);
  },
};
