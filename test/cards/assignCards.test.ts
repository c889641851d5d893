import { strict as assert } from 'node:assert';
import { assignPreviewCard, type AssignPreviewView } from '../../cards/assignCards';
import { cardNodes, elementsOfType } from './cardNodes';

const PREVIEW: AssignPreviewView = {
  book: { title: 'Emma' },
  installIntent: 'required',
  groups: [{ groupName: 'English Department', userCount: 7, deviceCount: 0 }],
  distinctUsers: 7,
  alreadyAssigned: 1,
  needInvitation: 2,
  licensesNeeded: 6,
  licensesAvailable: 20,
  enough: true,
};
const OPTIONS = { ref: 'r', notes: [], choices: [{ title: 'Request approval', value: 'request' }] };

const factsOf = (card: unknown): Array<[string, string]> =>
  cardNodes(card)
    .filter((n) => typeof n.title === 'string' && typeof n.value === 'string' && n.type === undefined)
    .map((f) => [String(f.title), String(f.value)]);
const textsOf = (card: unknown): string[] => elementsOfType(card, 'TextBlock').map((t) => String(t.text));

describe('assign preview card', () => {
  it('in Apple mode shows who is licensed now and who after joining, as it always did', () => {
    const card = assignPreviewCard(PREVIEW, OPTIONS);
    assert.deepEqual(factsOf(card).slice(3, 5), [
      ['Licensed now', '4'],
      ['Licensed after they join (invited in Teams)', '2'],
    ]);
    assert.ok(textsOf(card).includes('Book licenses cannot be reclaimed: once Apple assigns this book to a user, the license is theirs for good. Devices need the built-in Books app.'));
  });

  it('in Intune mode says Intune licenses and installs (Required) or offers in Company Portal (Available), with no Teams invitations', () => {
    const required = assignPreviewCard(PREVIEW, { ...OPTIONS, backend: 'intune' });
    assert.deepEqual(factsOf(required).slice(3, 5), [
      ['Licensed by Intune and installed on their managed devices', '6'],
      ['Licenses needed', '6'],
    ]);
    const available = assignPreviewCard({ ...PREVIEW, installIntent: 'available' }, { ...OPTIONS, backend: 'intune' });
    assert.deepEqual(factsOf(available)[3], ['Offered in Company Portal (licensed when they install it)', '6']);
    for (const card of [required, available]) {
      const all = JSON.stringify(card);
      assert.doesNotMatch(all, /invited in Teams|licensed when they ask|Licensed now/);
      assert.ok(textsOf(card).some((t) => t.startsWith('Book licenses cannot be reclaimed: once Intune assigns this book to a user')));
      assert.ok(textsOf(card).includes('An approver must approve the request before anything is assigned in Intune.'));
    }
  });

  it('in Intune mode offers no "first N users" for a shortage: Intune assigns whole groups', () => {
    const card = assignPreviewCard({ ...PREVIEW, licensesAvailable: 3, enough: false }, { ...OPTIONS, backend: 'intune' });
    const shortage = textsOf(card).find((t) => t.startsWith('⚠️ Not enough licenses'));
    assert.ok(shortage);
    assert.doesNotMatch(shortage, /first/);
  });
});
