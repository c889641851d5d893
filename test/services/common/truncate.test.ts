import { strict as assert } from 'node:assert';
import { truncate } from '../../../services/common/truncate';

describe('truncate', () => {
  it('leaves text within the limit as it is', () => {
    assert.equal(truncate('Moby Dick', 9), 'Moby Dick');
    assert.equal(truncate('', 0), '');
  });

  it('cuts to the limit in UTF-16 units, what a schema .max() counts', () => {
    assert.equal(truncate('abcdef', 4), 'abcd');
    assert.equal(truncate('abcdef', 0), '');
  });

  it('never keeps half of a surrogate pair', () => {
    // "a😀b": the emoji is two units; a cut at 2 would keep its high surrogate alone.
    const cut = truncate('a😀b', 2);
    assert.equal(cut, 'a');
    assert.equal(truncate('a😀b', 3), 'a😀');
    assert.ok(!/[\uD800-\uDBFF]$/.test(truncate('😀😀😀', 5)));
  });

  it('counts the ellipsis in the limit and drops the spaces before it', () => {
    assert.equal(truncate('Year 9 Form A, Year 9 Form B', 10, '...'), 'Year 9...');
    assert.equal(truncate('abcdefghij', 8, '…'), 'abcdefg…');
    assert.equal(truncate('x'.repeat(300), 256, '...').length, 256);
  });
});
