import { strict as assert } from 'node:assert';
import { bookValue, bookValueSchema } from '../../../services/search/BookResults';
import { groupChoiceTitle } from '../../../services/search/GroupResults';
import type { EBook } from '../../../services/store/entities/eBook';
import type { VppToken } from '../../../services/store/entities/vppToken';

describe('typeahead choices: values and titles', () => {
  it("round-trips a book's value, whatever its id holds, and refuses values that name no book", () => {
    const match = { token: { id: 'f3c1a2b4-0000-4000-8000-000000000001' } as VppToken, book: { id: '1447212493|STDQ%7C' } as EBook };
    assert.deepEqual(bookValueSchema.parse(bookValue(match)), { tokenId: match.token.id, bookId: match.book.id });
    for (const forged of ['', 'no-slash', '/book', 'token/', 'token/a/b', 'x'.repeat(601)]) assert.equal(bookValueSchema.safeParse(forged).success, false, forged);
  });

  it('says what a group holds, with thousands separators, and names only the group when it could not be counted', () => {
    const group = { displayName: 'All Students', deviceRule: false };
    assert.equal(groupChoiceTitle(group, { users: 5000, devices: 0 }), 'All Students · 5,000 members');
    assert.equal(groupChoiceTitle(group, { users: 1, devices: 0 }), 'All Students · 1 member');
    assert.equal(groupChoiceTitle(group, { users: 12, devices: 3 }), 'All Students · 12 members · also holds devices');
    assert.equal(groupChoiceTitle(group, { users: 0, devices: 3 }), 'All Students · device group');
    assert.equal(groupChoiceTitle(group, { users: 0, devices: 0 }), 'All Students · no members');
    assert.equal(groupChoiceTitle({ displayName: 'All iPads', deviceRule: true }, undefined), 'All iPads · device group');
    assert.equal(groupChoiceTitle(group, undefined), 'All Students');
  });
});
