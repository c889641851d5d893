import { strict as assert } from 'node:assert';
import { z } from 'zod';
import { FlowStateError, flowState } from '../../dialogs/flowState';

/** What a waterfall step gives the accessor: its values and options, as they came back from storage. */
function step(values: Record<string, unknown> = {}, options: unknown = { argument: '' }) {
  return { values, options: options as object };
}

describe('flowState: one typed accessor for a flow’s dialog state', () => {
  const state = flowState(
    'probe',
    z.object({
      tokenId: z.string().min(1),
      secret: z.string().max(8),
      preview: z.object({ licensesNeeded: z.number().int().min(0), licensesReserved: z.number().int().min(0).default(0) }),
    }),
  );

  it('reads back what was written, checked, with the defaults of older state filled in', () => {
    const s = step();
    state.write(s, { tokenId: 't1' });
    s.values.preview = { licensesNeeded: 3 };
    assert.deepEqual(state.read(s, 'tokenId', 'preview'), { tokenId: 't1', preview: { licensesNeeded: 3, licensesReserved: 0 } });
  });

  it('writes only the keys it is given, so a later write keeps what an earlier one set', () => {
    const s = step();
    state.write(s, { tokenId: 't1' });
    state.write(s, { preview: { licensesNeeded: 1, licensesReserved: 2 } });
    assert.deepEqual(s.values, { tokenId: 't1', preview: { licensesNeeded: 1, licensesReserved: 2 } });
  });

  it('refuses a value a step needs and no step wrote, naming it', () => {
    assert.throws(
      () => state.read(step({ tokenId: 't1' }), 'tokenId', 'preview'),
      (err: unknown) => err instanceof FlowStateError && err.flow === 'probe' && err.part === 'values' && err.issues.join() === 'preview: missing',
    );
  });

  it('refuses stored state that does not fit, without repeating the stored value', () => {
    const stored = step({ tokenId: 't1', secret: 'not-for-logs-1234' });
    assert.throws(
      () => state.read(stored),
      (err: unknown) => err instanceof FlowStateError && /secret/.test(err.message) && !err.message.includes('not-for-logs'),
    );
    assert.throws(() => state.read(step({ preview: { licensesNeeded: '3' } })), FlowStateError);
  });

  it('checks a write at once, before a later turn would read it', () => {
    const s = step();
    assert.throws(() => state.write(s, { tokenId: '' }), FlowStateError);
    assert.deepEqual(s.values, {}, 'nothing was written');
  });

  it('reads the options MainDialog started the flow with, and refuses options that are not', () => {
    const options = { argument: 'Northwind', tokenId: 'token-1', args: { bookId: 'b1' }, actor: { tenantId: 't', aadObjectId: 'a' } };
    assert.deepEqual(state.options(step({}, options)), options);
    assert.throws(() => state.options(step({}, { argument: 42 })), (err: unknown) => err instanceof FlowStateError && err.part === 'options');
  });
});
