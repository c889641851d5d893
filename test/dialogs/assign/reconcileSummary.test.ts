import { strict as assert } from 'node:assert';
import { reconcileSummary } from '../../../dialogs/assign/reconcileCommand';
import type { RunReconciliation } from '../../../services/assignments/runReconciliation';

const base: RunReconciliation = { runId: 'run-1', tokenId: 'tok-1', bookTitle: 'Emma', state: 'reconciled', groups: [], licensing: 0, waiting: 0 };

describe('reconcile: what the admin reads', () => {
  it("says when a refused top-up took the groups off the book in Intune, though nobody joined or left", () => {
    const withdrawn = 'The top-up was refused, so I took "English Department" off the book in Intune: Intune spends no more licenses on them (licenses already spent stay).';
    const text = reconcileSummary([{ ...base, reason: withdrawn }]);
    assert.ok(text.includes(`- "Emma": ${withdrawn}`), text);
    assert.doesNotMatch(text, /nobody joined or left/i, 'not counted as a quiet one besides');
  });

  it('a quiet assignment with nothing to report is only counted', () => {
    assert.equal(reconcileSummary([base]), 'Checked 1 assignment.\nNobody joined or left their groups.');
  });
});
